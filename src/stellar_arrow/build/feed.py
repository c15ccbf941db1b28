"""Cancellation-friendly iteration over a blocking producer.

:class:`LedgerFeed` runs a blocking iterator (a ledger source polling a lake or an RPC node, an
upstream Flight reader, the submissions of an :class:`~stellar_arrow.build.pool.OrderedPool`) in a
daemon thread feeding a bounded queue. The consumer waits in short timed slices, so it notices a stop
(client cancellation, server shutdown) within ~0.25 s even when the producer is blocked; the bounded
queue passes backpressure on to the producer (nothing is dropped).
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable, Iterable, Iterator
from typing import Generic, Protocol, TypeVar

__all__ = ["SLICE_S", "LedgerFeed", "StopSignal", "StreamCancelled"]

T = TypeVar("T")

SLICE_S = 0.25
"""Longest a waiting consumer goes without looking at its stop signal."""
_DONE = object()


class StreamCancelled(Exception):
    """The consumer or the server stopped the stream."""


class StopSignal(Protocol):
    """Whether the consumer should stop (``flight.stream.Cancellation`` is one)."""

    @property
    def is_set(self) -> bool: ...


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class LedgerFeed(Generic[T]):
    """Iterate ``items`` (produced in a background thread) until exhausted or ``cancel`` is set."""

    def __init__(
        self,
        items: Iterable[T],
        cancel: StopSignal,
        *,
        buffer: int = 16,
        name: str = "feed",
        on_close: Callable[[], None] | None = None,
    ):
        self._items = items
        self._on_close = on_close
        self._cancel = cancel
        self._queue: queue.Queue[object] = queue.Queue(maxsize=max(1, buffer))
        self._closed = threading.Event()
        self._thread = threading.Thread(target=self._produce, name=f"stellar-arrow-{name}", daemon=True)
        self._started = False

    def _produce(self) -> None:
        try:
            for item in self._items:
                if not self._put(item):
                    return
        except BaseException as exc:  # forwarded to the consumer, which re-raises it
            self._put(_Failure(exc))
            return
        self._put(_DONE)

    def _put(self, item: object) -> bool:
        while not self._closed.is_set():
            try:
                self._queue.put(item, timeout=SLICE_S)
                return True
            except queue.Full:
                continue
        return False

    def __iter__(self) -> Iterator[T]:
        if not self._started:
            self._started = True
            self._thread.start()
        try:
            while True:
                if self._cancel.is_set:
                    raise StreamCancelled
                try:
                    item = self._queue.get(timeout=SLICE_S)
                except queue.Empty:
                    continue
                if item is _DONE:
                    return
                if isinstance(item, _Failure):
                    raise item.exc
                yield item  # type: ignore[misc]
        finally:
            self.close()

    def close(self) -> None:
        """Stop the producer: it exits at its next hand-over; ``on_close`` unblocks a waiting source."""
        if self._closed.is_set():
            return
        self._closed.set()
        if self._on_close is not None:
            self._on_close()
