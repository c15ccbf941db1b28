"""Bulkheads: a named limit on concurrent work, so one kind of load cannot take a whole process down.

A :class:`Bulkhead` (threads) or :class:`AsyncBulkhead` (one event loop) holds ``capacity`` slots on a
bounded semaphore. :meth:`~Bulkhead.slot` takes one, waiting at most ``max_wait_s`` (0: not at all);
when none frees up in time it raises :class:`~stellar_arrow.errors.BusyError` (transient: HTTP 429 with
``Retry-After``, Flight ``FlightUnavailableError`` ``{"code": "busy"}``) and counts the refusal in
``bulkhead_rejections_total{name}``. Internal work that should queue rather than fail (downloads,
decodes) uses a long ``max_wait_s``; requests from clients use a short one.

Where they stand (capacities in the settings, ``docs/configuration.md``): ``downloads`` (lake and RPC
fetches of a source process), ``decoders`` (in-process ledger decodes), ``flight_streams`` (``do_get``
per Flight service), ``api_queries`` (REST queries), ``ws_replays`` (WebSocket history replays).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import threading
from collections.abc import AsyncIterator, Iterator
from typing import Final

from stellar_arrow.errors import BusyError
from stellar_arrow.observability.metrics import BULKHEAD_REJECTIONS

__all__ = ["AsyncBulkhead", "Bulkhead", "bulkhead_for"]

#: How long a refused caller is told to wait before trying again (``Retry-After``), by default.
RETRY_AFTER_S: Final = 1.0


def _checked(name: str, capacity: int, max_wait_s: float) -> None:
    if not name:
        msg = "a bulkhead needs a name"
        raise ValueError(msg)
    if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 1:
        msg = f"bulkhead {name}: capacity must be an int >= 1, got {capacity!r}"
        raise ValueError(msg)
    if not 0 <= max_wait_s < math.inf:
        msg = f"bulkhead {name}: max_wait_s must be a finite number >= 0, got {max_wait_s!r}"
        raise ValueError(msg)


class _Limit:
    """What both variants share: name, capacity, wait, the refusal."""

    def __init__(self, name: str, capacity: int, max_wait_s: float, retry_after_s: float) -> None:
        _checked(name, capacity, max_wait_s)
        self.name = name
        self.capacity = capacity
        self.max_wait_s = max_wait_s
        self.retry_after_s = retry_after_s
        self.in_use = 0
        self.rejected = 0

    def _refuse(self, wait: float) -> BusyError:
        self.rejected += 1
        BULKHEAD_REJECTIONS.labels(self.name).inc()
        waited = f" within {wait:g}s" if wait > 0 else ""
        msg = f"busy: all {self.capacity} {self.name} slots are in use and none freed up{waited}; try again"
        return BusyError(msg, name=self.name, capacity=self.capacity, retry_after=self.retry_after_s)


class Bulkhead(_Limit):
    """At most ``capacity`` threads inside :meth:`slot` at once."""

    def __init__(
        self, name: str, capacity: int, *, max_wait_s: float = 0.0, retry_after_s: float = RETRY_AFTER_S
    ) -> None:
        super().__init__(name, capacity, max_wait_s, retry_after_s)
        self._slots = threading.BoundedSemaphore(capacity)
        self._lock = threading.Lock()

    def acquire(self, *, max_wait_s: float | None = None) -> None:
        """Take a slot (waiting up to ``max_wait_s``, default the bulkhead's) or raise :class:`BusyError`."""
        wait = self.max_wait_s if max_wait_s is None else max_wait_s
        got = self._slots.acquire(timeout=wait) if wait > 0 else self._slots.acquire(blocking=False)
        if not got:
            raise self._refuse(wait)
        with self._lock:
            self.in_use += 1

    def release(self) -> None:
        with self._lock:
            self.in_use -= 1
        self._slots.release()

    @contextlib.contextmanager
    def slot(self, *, max_wait_s: float | None = None) -> Iterator[None]:
        self.acquire(max_wait_s=max_wait_s)
        try:
            yield
        finally:
            self.release()


class AsyncBulkhead(_Limit):
    """At most ``capacity`` tasks of one event loop inside :meth:`slot` at once."""

    def __init__(
        self, name: str, capacity: int, *, max_wait_s: float = 0.0, retry_after_s: float = RETRY_AFTER_S
    ) -> None:
        super().__init__(name, capacity, max_wait_s, retry_after_s)
        self._slots = asyncio.BoundedSemaphore(capacity)

    async def acquire(self, *, max_wait_s: float | None = None) -> None:
        wait = self.max_wait_s if max_wait_s is None else max_wait_s
        if self._slots.locked():
            if wait <= 0:
                raise self._refuse(wait)
            try:
                await asyncio.wait_for(self._slots.acquire(), timeout=wait)
            except TimeoutError:
                raise self._refuse(wait) from None
        else:
            await self._slots.acquire()
        self.in_use += 1

    def release(self) -> None:
        self.in_use -= 1
        self._slots.release()

    @contextlib.asynccontextmanager
    async def slot(self, *, max_wait_s: float | None = None) -> AsyncIterator[None]:
        await self.acquire(max_wait_s=max_wait_s)
        try:
            yield
        finally:
            self.release()


_SHARED: dict[tuple[str, int, float], Bulkhead] = {}
_SHARED_LOCK = threading.Lock()


def bulkhead_for(name: str, capacity: int, *, max_wait_s: float = 0.0) -> Bulkhead:
    """The process-wide thread bulkhead ``name`` with these limits (every user in the process shares its
    slots; a service process reads one setting per name, so there is one per name in practice)."""
    key = (name, capacity, max_wait_s)
    with _SHARED_LOCK:
        found = _SHARED.get(key)
        if found is None:
            found = _SHARED[key] = Bulkhead(name, capacity, max_wait_s=max_wait_s)
        return found
