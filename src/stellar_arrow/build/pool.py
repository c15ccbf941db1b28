"""The one ordered worker pool: a function applied to ledgers in worker processes, results in ledger order.

:class:`OrderedPool` runs ``func(payload)`` per ledger in a ``ProcessPoolExecutor`` (or inline in the
calling thread with ``workers=0``) and hands the results back in the order the ledgers came in, with a
bounded number of ledgers in flight, so memory stays bounded whatever the range. It serves both users:

* ``export`` iterates :meth:`OrderedPool.map` over a source (fork workers, started before the source's
  prefetch threads; an error of the source is raised after the ledgers already in flight are delivered);
* the Flight source and processor iterate :meth:`OrderedPool.ordered` per stream (spawn workers, since
  fork is unsafe in a process running gRPC threads): a feeder thread submits ahead, so a ready result is
  never held back waiting for the next input, and waits stop within a slice when the stream is cancelled.
  With ``cache_ledgers`` results are shared between streams by ledger sequence (Stellar has no reorgs, so
  the sequence identifies the input): two streams asking for the same ledger share one computation.
  With ``workers=0`` calls run in the streams' own threads; a ``decoders`` bulkhead bounds how many run
  at once (with workers, their number is the bound).

Workers receive the function once (initializer), never per task; they exit on their own when the process
that owns the pool disappears (a parent-watch thread), so a SIGKILLed service leaves no orphan, and
:meth:`OrderedPool.close` shuts them down cleanly (pending work cancelled, workers joined).
"""

from __future__ import annotations

import gc
import multiprocessing
import os
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Generic, Literal, TypeVar

from stellar_arrow.build.feed import SLICE_S, LedgerFeed, StopSignal, StreamCancelled
from stellar_arrow.resilience.bulkhead import Bulkhead

__all__ = ["OrderedPool", "StartMethod"]

T = TypeVar("T")
R = TypeVar("R")

StartMethod = Literal["fork", "spawn"]

_WORKER_FUNC: Callable[[Any], Any] | None = None


def _init_worker(func: Callable[[Any], Any], parent: int) -> None:
    """Worker start: keep ``func``, freeze what was imported, exit once ``parent`` is gone."""
    global _WORKER_FUNC
    _WORKER_FUNC = func
    gc.freeze()  # objects built before the first task are never collected here

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="stellar-arrow-parent-watch", daemon=True).start()


def _ready(_: int) -> bool:
    return _WORKER_FUNC is not None


def _call(payload: Any) -> Any:
    assert _WORKER_FUNC is not None
    return _WORKER_FUNC(payload)


class _NeverStop:
    is_set = False


class OrderedPool(Generic[T, R]):
    """``func(payload)`` per ledger in ``workers`` processes (``0``: inline), delivered in ledger order.

    ``func`` must be picklable for ``spawn`` workers (a module-level function or a ``functools.partial``
    of one). ``cache_ledgers`` keeps that many results (futures, in flight or done) by ledger sequence.
    """

    def __init__(
        self,
        func: Callable[[T], R],
        *,
        workers: int = 0,
        start_method: StartMethod = "spawn",
        cache_ledgers: int = 0,
        decoders: Bulkhead | None = None,
    ) -> None:
        self._func = func
        self._decoders = decoders  # workers=0: at most its capacity of in-process calls at once
        self.workers = workers
        self._cache: OrderedDict[int, Future[R]] = OrderedDict()
        self._cache_ledgers = cache_ledgers
        self._lock = threading.Lock()
        self.computed = 0
        self._closed = False
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context(start_method),
                initializer=_init_worker,
                initargs=(func, os.getpid()),
            )
            if start_method == "fork":
                # Fork every worker now, before the caller starts threads (a source's prefetch).
                list(self._pool.map(_ready, range(workers)))

    # ------------------------------------------------------------------ one ledger
    def submit(self, ledger_sequence: int, payload: T) -> Future[R]:
        """The (shared) computation of ``ledger_sequence``; a failed one is not reused."""
        with self._lock:
            if self._closed:
                raise StreamCancelled  # the owner is shutting down

            fut = self._cache.get(ledger_sequence)
            if fut is not None and not _failed(fut):
                self._cache.move_to_end(ledger_sequence)
                return fut
            fut = self._pool.submit(_call, payload) if self._pool is not None else Future[R]()
            if self._cache_ledgers > 0:
                self._cache[ledger_sequence] = fut
                while len(self._cache) > self._cache_ledgers:
                    self._cache.popitem(last=False)
            self.computed += 1
        if self.workers == 0:
            try:
                if self._decoders is None:
                    fut.set_result(self._func(payload))
                else:
                    with self._decoders.slot():
                        fut.set_result(self._func(payload))
            except Exception as exc:
                fut.set_exception(exc)
        return fut

    def cached(self, ledger_sequence: int) -> R | None:
        """The finished, successful result for ``ledger_sequence`` if it is cached."""
        with self._lock:
            fut = self._cache.get(ledger_sequence)
        if fut is None or not fut.done() or _failed(fut):
            return None
        return fut.result()

    # ------------------------------------------------------------------ many ledgers, in order
    def map(self, items: Iterable[tuple[int, T]], *, in_flight: int | None = None) -> Iterator[tuple[int, R]]:
        """Results for ``items`` in order, at most ``in_flight`` (default ``2 * workers + 2``) submitted.

        Inline (``workers=0``) each ledger is computed when it is consumed. An exception raised by
        ``items`` is re-raised after the ledgers submitted before it are delivered.
        """
        if self.workers == 0:
            for seq, payload in items:
                yield seq, self.submit(seq, payload).result()
            return
        limit = in_flight if in_flight is not None else 2 * self.workers + 2
        window: deque[tuple[int, Future[R]]] = deque()
        source = iter(items)
        source_error: Exception | None = None
        while True:
            try:
                seq, payload = next(source)
            except StopIteration:
                break
            except Exception as exc:  # re-raised below, after the ledgers before it
                source_error = exc
                break
            window.append((seq, self.submit(seq, payload)))
            if len(window) >= limit:
                done_seq, fut = window.popleft()
                yield done_seq, fut.result()
        while window:
            done_seq, fut = window.popleft()
            yield done_seq, fut.result()
        if source_error is not None:
            raise source_error

    def ordered(
        self, items: Iterable[tuple[int, T]], stop: StopSignal | None = None, *, in_flight: int = 2
    ) -> Iterator[tuple[int, R]]:
        """Results for ``items`` in order, each yielded as soon as it is ready (live streams).

        A feeder thread reads ``items`` and submits up to ``in_flight`` ledgers ahead, so a result is
        never held back waiting for the next input (which, at the tip of a live stream, may take a
        ledger close). Raises :class:`StreamCancelled` within a slice once ``stop`` is set.
        """
        signal: StopSignal = stop if stop is not None else _NeverStop()
        submitted = LedgerFeed(
            ((seq, self.submit(seq, payload)) for seq, payload in items),
            signal,
            buffer=max(1, in_flight - 1),
            name="ordered-pool",
        )
        for seq, fut in submitted:
            yield seq, _wait(fut, signal)

    # ------------------------------------------------------------------ lifecycle
    def close(self) -> None:
        """Cancel pending work and join the workers (idempotent)."""
        with self._lock:
            self._closed = True
            pool = self._pool
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self) -> OrderedPool[T, R]:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def _failed(fut: Future[Any]) -> bool:
    return fut.done() and (fut.cancelled() or fut.exception() is not None)


def _wait(fut: Future[R], stop: StopSignal) -> R:
    while True:
        if stop.is_set:
            raise StreamCancelled
        try:
            return fut.result(timeout=SLICE_S)
        except TimeoutError:
            continue
