"""Cancellation-friendly iteration over blocking producers, and ordered parallel decoding.

:class:`LedgerFeed` runs a blocking iterator (a ledger source polling a lake or an RPC node, an
upstream Flight reader) in a daemon thread feeding a bounded queue. The consumer waits in short timed
slices, so a stream notices client cancellation or server shutdown within ~0.25 s even when the
producer is blocked; the bounded queue passes backpressure on to the producer (nothing is dropped).

:class:`LedgerWork` applies a picklable function to ledgers in a process pool, shares the results
between streams by ledger sequence, and yields them in ledger order with a bounded number in flight.
"""

from __future__ import annotations

import queue
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future
from typing import Generic, TypeVar

from stellar_arrow.flight.stream import Cancellation

__all__ = ["LedgerFeed", "LedgerWork", "StreamCancelled"]

T = TypeVar("T")
R = TypeVar("R")

_SLICE_S = 0.25
_DONE = object()


class StreamCancelled(Exception):
    """The consumer or the server stopped the stream."""


class _Failure:
    def __init__(self, exc: BaseException) -> None:
        self.exc = exc


class LedgerFeed(Generic[T]):
    """Iterate ``items`` (produced in a background thread) until exhausted or ``cancel`` is set."""

    def __init__(
        self,
        items: Iterable[T],
        cancel: Cancellation,
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
                self._queue.put(item, timeout=_SLICE_S)
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
                    item = self._queue.get(timeout=_SLICE_S)
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


class LedgerWork(Generic[T, R]):
    """Compute ``func(payload)`` per ledger in ``executor``, sharing results between streams.

    Results are futures kept in a bounded LRU keyed by ledger sequence (Stellar has no reorgs, so the
    sequence identifies the input), so two consumers asking for the same ledger share one computation,
    in flight or finished. With ``executor=None`` the function runs inline in the calling thread.
    """

    def __init__(self, func: Callable[[T], R], executor: Executor | None, *, cache_ledgers: int = 64):
        self._func = func
        self._executor = executor
        self._cache: OrderedDict[int, Future[R]] = OrderedDict()
        self._cache_ledgers = cache_ledgers
        self._lock = threading.Lock()
        self.computed = 0

    def submit(self, ledger_sequence: int, payload: T) -> Future[R]:
        with self._lock:
            fut = self._cache.get(ledger_sequence)
            failed = fut is not None and fut.done() and (fut.cancelled() or fut.exception() is not None)
            if fut is not None and not failed:
                self._cache.move_to_end(ledger_sequence)
                return fut
            if self._executor is not None:
                fut = self._executor.submit(self._func, payload)
                self.computed += 1
            else:
                fut = Future()
            self._cache[ledger_sequence] = fut
            while len(self._cache) > self._cache_ledgers:
                self._cache.popitem(last=False)
        if self._executor is None:
            try:
                fut.set_result(self._func(payload))
            except Exception as exc:
                fut.set_exception(exc)
            with self._lock:
                self.computed += 1
        return fut

    def cached(self, ledger_sequence: int) -> R | None:
        """The finished, successful result for ``ledger_sequence`` if it is cached."""
        with self._lock:
            fut = self._cache.get(ledger_sequence)
        if fut is None or not fut.done() or fut.cancelled() or fut.exception() is not None:
            return None
        return fut.result()

    def ordered(
        self, items: Iterable[tuple[int, T]], cancel: Cancellation, *, in_flight: int = 2
    ) -> Iterator[tuple[int, R]]:
        """Results for ``items`` in their order, each yielded as soon as it is ready.

        A feeder thread submits up to ``in_flight`` ledgers ahead, so a result is never held back
        waiting for the next input (which, at the tip of a live stream, may take a ledger close).
        """
        submitted = LedgerFeed(
            ((seq, self.submit(seq, payload)) for seq, payload in items),
            cancel,
            buffer=max(1, in_flight - 1),
            name="ledger-work",
        )
        for seq, fut in submitted:
            yield self._wait(seq, fut, cancel)

    @staticmethod
    def _wait(seq: int, fut: Future[R], cancel: Cancellation) -> tuple[int, R]:
        while True:
            if cancel.is_set:
                raise StreamCancelled
            try:
                return seq, fut.result(timeout=_SLICE_S)
            except TimeoutError:
                continue
