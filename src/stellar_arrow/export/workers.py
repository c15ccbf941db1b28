"""Turn raw ledgers into Arrow batches, inline or in worker processes, delivered in ledger order.

Workers (``ProcessPoolExecutor``, fork) receive raw ``LedgerCloseMeta`` bytes and return Arrow
record batches plus the ledger's chain link, never decoded objects: shipping decoded trees back
would cost more than decoding. At most ``2 * workers + 2`` ledgers are in flight, so memory stays
bounded whatever the range. Errors raised in a worker (typed, picklable) surface in the parent.
"""

from __future__ import annotations

import gc
import multiprocessing
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass

import pyarrow as pa

from stellar_arrow.ledger.validation import ChainLink
from stellar_arrow.source.base import RawLedger
from stellar_arrow.tables.tableset import TableSet, TableSetOptions

__all__ = ["LedgerProcessor", "LedgerTables", "build_ledger_tables"]


@dataclass(frozen=True, slots=True)
class LedgerTables:
    """The tables of one ledger and the facts the parent validates the chain with."""

    link: ChainLink
    batches: dict[str, pa.RecordBatch]
    size: int  # bytes of LedgerCloseMeta XDR


def build_ledger_tables(options: TableSetOptions, ledger: RawLedger) -> LedgerTables:
    """Decode, validate and tabulate one ledger (what a worker runs)."""
    tables = TableSet(options)
    link = tables.add(ledger.ledger_close_meta, ledger.ledger_sequence)
    return LedgerTables(link, tables.finish(), len(ledger.ledger_close_meta))


_WORKER_OPTIONS: TableSetOptions | None = None


def _init_worker(options: TableSetOptions) -> None:
    global _WORKER_OPTIONS
    _WORKER_OPTIONS = options
    gc.freeze()  # what the parent built before the fork is never collected here


def _ready(_: int) -> bool:
    return _WORKER_OPTIONS is not None


def _run(ledger: RawLedger) -> LedgerTables:
    assert _WORKER_OPTIONS is not None
    return build_ledger_tables(_WORKER_OPTIONS, ledger)


class LedgerProcessor:
    """Maps raw ledgers to :class:`LedgerTables` in order; ``workers=0`` runs inline."""

    def __init__(self, options: TableSetOptions, *, workers: int = 0) -> None:
        self.options = options
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None
        if workers > 0:
            self._pool = ProcessPoolExecutor(
                max_workers=workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_init_worker,
                initargs=(options,),
            )
            # Fork every worker now, before the source starts its prefetch threads.
            list(self._pool.map(_ready, range(workers)))

    def map(self, ledgers: Iterable[RawLedger]) -> Iterator[LedgerTables]:
        pool = self._pool
        if pool is None:
            for ledger in ledgers:
                yield build_ledger_tables(self.options, ledger)
            return
        window: deque[Future[LedgerTables]] = deque()
        limit = 2 * self.workers + 2
        source = iter(ledgers)
        source_error: Exception | None = None
        while True:
            try:
                ledger = next(source)
            except StopIteration:
                break
            except Exception as exc:  # re-raised below, after the ledgers before it
                source_error = exc
                break
            window.append(pool.submit(_run, ledger))
            if len(window) >= limit:
                yield window.popleft().result()
        # Deliver the ledgers already in flight before the source's error, so the chunks before a
        # bad object are still completed and written.
        while window:
            yield window.popleft().result()
        if source_error is not None:
            raise source_error

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    def __enter__(self) -> LedgerProcessor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
