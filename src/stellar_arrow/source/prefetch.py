"""Ordered parallel prefetch: fetch items on a thread pool, deliver them strictly in request order.

At most ``buffer_size`` items are in flight or waiting (backpressure, bounded memory). A fetch that
raises :class:`NotYetAvailable` (an object past the live tip) is retried at the head of the queue
after ``poll_interval`` seconds, without counting as a failure; any other exception is delivered
in order to the consumer, and the remaining work is cancelled. If the head stays missing for
``gap_timeout`` seconds while a *later* item already exists, ``on_gap(key)`` builds the error to raise
(a hole, not the tip). With a ``bulkhead`` (:class:`~stellar_arrow.resilience.bulkhead.Bulkhead`, the
process's ``downloads``), each fetch holds one of its slots, so all the streams of a process together
run at most its capacity of fetches; a fetch that finds no slot within the bulkhead's wait fails with
:class:`~stellar_arrow.errors.BusyError` (transient), delivered in order like any other error.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Generic, TypeVar

from stellar_arrow.errors import ConfigError
from stellar_arrow.resilience.bulkhead import Bulkhead

__all__ = ["NotYetAvailable", "OrderedPrefetcher"]

K = TypeVar("K")
V = TypeVar("V")


class NotYetAvailable(Exception):
    """Raised by a fetch function when the item does not exist yet (tailing the tip)."""


class OrderedPrefetcher(Generic[K, V]):
    """Run ``fetch(key)`` for each key on ``workers`` threads; iterate ``(key, value)`` in key order."""

    def __init__(
        self,
        fetch: Callable[[K], V],
        keys: Iterable[K],
        *,
        workers: int,
        buffer_size: int,
        poll_interval: float,
        stop_event: threading.Event | None = None,
        gap_timeout: float | None = None,
        on_gap: Callable[[K], Exception] | None = None,
        bulkhead: Bulkhead | None = None,
    ) -> None:
        if workers < 1:
            msg = f"workers must be >= 1, got {workers}"
            raise ConfigError(msg, key="workers")
        if buffer_size < workers:
            msg = f"buffer_size ({buffer_size}) must be >= workers ({workers})"
            raise ConfigError(msg, key="buffer_size")
        if poll_interval <= 0:
            msg = f"poll_interval must be > 0 seconds, got {poll_interval}"
            raise ConfigError(msg, key="poll_interval")
        self._fetch = fetch if bulkhead is None else _held(fetch, bulkhead)
        self._keys = iter(keys)
        self._workers = workers
        self._buffer_size = buffer_size
        self._poll_interval = poll_interval
        self._stop = stop_event if stop_event is not None else threading.Event()
        self._gap_timeout = gap_timeout
        self._on_gap = on_gap

    def stop(self) -> None:
        """Ask the iteration to end at the next item or poll."""
        self._stop.set()

    def __iter__(self) -> Iterator[tuple[K, V]]:
        # (key, future, submitted_at); a NotYetAvailable produced before the previous delivery is
        # stale (the item may have arrived since) and is re-fetched at once, otherwise after a poll.
        pending: deque[tuple[K, Future[V], float]] = deque()
        executor = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="ledger-prefetch")
        exhausted = False
        last_delivery = time.monotonic()
        gap_since: float | None = None  # when the head was first seen missing behind an existing item
        try:
            while not self._stop.is_set():
                while not exhausted and len(pending) < self._buffer_size:
                    key = next(self._keys, _END)
                    if key is _END:
                        exhausted = True
                        break
                    submitted = time.monotonic()
                    pending.append((key, executor.submit(self._fetch, key), submitted))  # type: ignore[arg-type]
                if not pending:
                    return
                key, future, submitted = pending[0]
                try:
                    value = future.result()
                except NotYetAvailable:
                    if self._later_item_exists(pending):
                        gap_since = gap_since if gap_since is not None else time.monotonic()
                        waited = time.monotonic() - gap_since
                        if (
                            self._on_gap is not None
                            and self._gap_timeout is not None
                            and waited >= self._gap_timeout
                        ):
                            raise self._on_gap(key) from None
                    if submitted >= last_delivery and self._stop.wait(self._poll_interval):
                        return
                    pending[0] = (key, executor.submit(self._fetch, key), time.monotonic())
                    continue
                pending.popleft()
                gap_since = None
                yield key, value
                last_delivery = time.monotonic()
        finally:
            for _, future, _ in pending:
                future.cancel()
            executor.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _later_item_exists(pending: deque[tuple[K, Future[V], float]]) -> bool:
        return any(
            future.done() and not future.cancelled() and future.exception() is None
            for _, future, _ in list(pending)[1:]
        )


def _held(fetch: Callable[[K], V], bulkhead: Bulkhead) -> Callable[[K], V]:
    def fetch_in_slot(key: K) -> V:
        with bulkhead.slot():
            return fetch(key)

    return fetch_in_slot


_END: object = object()
