"""An LRU cache of encoded analytics and query results, keyed by (question, view version), dropped on commit.

A result is stored as the bytes of its response (so the bound is exact): at most ``max_bytes`` in all, the
least recently used dropped first (``cachetools.LRUCache``). The key carries the version of the data it was
computed from (the committed files and the number of live rows of every table), so a cached answer is never
served for other data; and when a commit lands (the committed files change) every entry is dropped at once,
because none of them can be asked for again. Hits and misses are counted in
``analytics_cache_hits_total{kind}`` / ``analytics_cache_misses_total{kind}``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Hashable
from typing import Final

from cachetools import LRUCache
from prometheus_client import CollectorRegistry, Counter

__all__ = ["MAX_RESULT_BYTES", "ResultCache"]

#: A single result larger than this is never cached (it would push out many small ones).
MAX_RESULT_BYTES: Final = 4 * 1024 * 1024


class ResultCache:
    """Thread-safe; ``max_bytes = 0`` caches nothing (every call computes, and counts a miss)."""

    def __init__(self, max_bytes: int, registry: CollectorRegistry | None = None) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._lock = threading.Lock()
        self._entries: LRUCache[Hashable, bytes] = LRUCache(maxsize=max(self.max_bytes, 1), getsizeof=len)
        self._commits: Hashable = None
        self.hits = Counter(
            "analytics_cache_hits_total", "Analytics and query results served from the cache", ["kind"],
            registry=registry,
        )  # fmt: skip
        self.misses = Counter(
            "analytics_cache_misses_total", "Analytics and query results computed (not cached)", ["kind"],
            registry=registry,
        )  # fmt: skip

    def __len__(self) -> int:
        with self._lock:
            return len(self._entries)

    def commit_seen(self, commits: Hashable) -> None:
        """``commits`` names the committed data now; when it changed, a commit landed: drop everything."""
        with self._lock:
            if commits != self._commits:
                self._entries.clear()
                self._commits = commits

    def get_or_compute(self, kind: str, key: Hashable, compute: Callable[[], bytes]) -> bytes:
        """The cached bytes for ``key``, or ``compute()`` (then cached when it fits)."""
        with self._lock:
            found = self._entries.get(key)
        if found is not None:
            self.hits.labels(kind).inc()
            return found
        self.misses.labels(kind).inc()
        value = compute()
        if self.max_bytes and len(value) <= min(MAX_RESULT_BYTES, self.max_bytes):
            with self._lock:
                self._entries[key] = value
        return value
