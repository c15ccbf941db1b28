"""Turn raw ledgers into Arrow batches, inline or in worker processes, delivered in ledger order.

The export's use of :class:`~stellar_arrow.build.OrderedPool`: fork workers (started before the
source's prefetch threads) receive raw ``LedgerCloseMeta`` bytes and return Arrow record batches plus
the ledger's chain link, never decoded objects: shipping decoded trees back would cost more than
decoding. At most ``2 * workers + 2`` ledgers are in flight, so memory stays bounded whatever the
range. Errors raised in a worker (typed, picklable) surface in the parent.
"""

from __future__ import annotations

import functools
import gc
from collections.abc import Iterable, Iterator

from stellar_arrow.build import LedgerTables, OrderedPool, TableSetOptions, build_ledger_tables
from stellar_arrow.source.base import RawLedger

__all__ = ["LedgerProcessor", "LedgerTables", "build_ledger_tables"]


class LedgerProcessor:
    """Maps raw ledgers to :class:`LedgerTables` in order; ``workers=0`` runs inline."""

    def __init__(self, options: TableSetOptions, *, workers: int = 0) -> None:
        self.options = options
        self.workers = workers
        if workers == 0:
            # As a worker does at start (build.pool): what start-up built is never collected, so the
            # full collections a long export triggers walk only what was made since, not every module.
            gc.freeze()
        self._pool: OrderedPool[RawLedger, LedgerTables] = OrderedPool(
            functools.partial(build_ledger_tables, options), workers=workers, start_method="fork"
        )

    def map(self, ledgers: Iterable[RawLedger]) -> Iterator[LedgerTables]:
        for _, tables in self._pool.map((ledger.ledger_sequence, ledger) for ledger in ledgers):
            yield tables

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> LedgerProcessor:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
