"""ResultCache: bounded by bytes (least recently used out first), emptied when a commit lands, counted."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from stellar_arrow.analytics import MAX_RESULT_BYTES, ResultCache


def _value(registry: CollectorRegistry, name: str, kind: str) -> float:
    found = registry.get_sample_value(name, {"kind": kind})
    return 0.0 if found is None else found


def test_hits_misses_and_the_byte_bound() -> None:
    registry = CollectorRegistry()
    cache = ResultCache(100, registry)
    calls: list[str] = []

    def make(key: str, size: int) -> bytes:
        calls.append(key)
        return key.encode() * size

    assert cache.get_or_compute("sql", "a", lambda: make("a", 40)) == b"a" * 40
    assert cache.get_or_compute("sql", "a", lambda: make("a", 40)) == b"a" * 40
    assert calls == ["a"]
    cache.get_or_compute("sql", "b", lambda: make("b", 40))
    cache.get_or_compute("sql", "a", lambda: make("a", 40))  # a is now the most recently used
    cache.get_or_compute("sql", "c", lambda: make("c", 40))  # 120 bytes > 100: b (least recent) goes
    assert len(cache) == 2
    cache.get_or_compute("sql", "b", lambda: make("b", 40))
    assert calls == ["a", "b", "c", "b"]
    cache.get_or_compute("sql", "big", lambda: make("big", 50))  # 150 bytes: answered, never kept
    assert len(cache) <= 2 and sum(1 for k in calls if k == "big") == 1
    assert _value(registry, "analytics_cache_hits_total", "sql") == 2
    assert _value(registry, "analytics_cache_misses_total", "sql") == 5  # a, b, c, b, big


def test_a_commit_drops_everything_and_zero_bytes_caches_nothing() -> None:
    cache = ResultCache(MAX_RESULT_BYTES, CollectorRegistry())
    cache.commit_seen(("files", 1))
    cache.get_or_compute("aggregation", 1, lambda: b"x")
    cache.commit_seen(("files", 1))
    assert len(cache) == 1
    cache.commit_seen(("files", 2))
    assert len(cache) == 0
    off = ResultCache(0, CollectorRegistry())
    assert off.get_or_compute("sql", 1, lambda: b"y") == b"y" and len(off) == 0
