"""Building the tables of ledgers: decode each ledger once, every table from it, in an ordered worker pool.

The layer above ``tables`` and ``ttp`` (which do not import each other) and below ``export`` and
``flight``, which both use it: :func:`build_ledger_tables` / :class:`TableSet` turn raw ledgers into
``ledgers``, ``transactions``, ``operations`` and ``token_transfers`` batches from one decoded value;
:class:`OrderedPool` runs that in worker processes and delivers the results in ledger order.
"""

from __future__ import annotations

from stellar_arrow.build.feed import LedgerFeed, StopSignal, StreamCancelled
from stellar_arrow.build.pool import OrderedPool, StartMethod
from stellar_arrow.build.tableset import (
    DECODERS,
    LedgerTables,
    TableSet,
    TableSetOptions,
    build_ledger_tables,
    table_schema,
)

__all__ = [
    "DECODERS",
    "LedgerFeed",
    "LedgerTables",
    "OrderedPool",
    "StartMethod",
    "StopSignal",
    "StreamCancelled",
    "TableSet",
    "TableSetOptions",
    "build_ledger_tables",
    "table_schema",
]
