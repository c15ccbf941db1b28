"""Decoded ledgers -> Arrow record batches of the requested tables, ledger after ledger.

:class:`TableSet` is what a worker process runs: for each ledger it decodes the bytes (fast
decoder, or stellar-sdk as the oracle), pairs transactions with their envelopes under the network
(the network check), checks the header's hashes against the content, and feeds every requested
table builder; the decoded tree is dropped before the next ledger. Pure: bytes in, batches out.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Final

import pyarrow as pa

from stellar_arrow.errors import ConfigError
from stellar_arrow.ledger.network import Network
from stellar_arrow.ledger.validation import ChainLink, check_ledger_hashes
from stellar_arrow.ledger.view import ledger_view, pair_transactions
from stellar_arrow.tables.ledgers import LEDGERS_SCHEMA, LEDGERS_XDR_COLUMNS, LedgersBuilder
from stellar_arrow.tables.operations import OPERATIONS_SCHEMA, OperationsBuilder
from stellar_arrow.tables.schema import without_columns
from stellar_arrow.tables.transactions import (
    TRANSACTIONS_SCHEMA,
    TRANSACTIONS_XDR_COLUMNS,
    TransactionsBuilder,
)
from stellar_arrow.xdr import decode_ledger_close_meta, gc_paused, sdk_decode
from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.profile import TABLES_PROFILE, decoder_for

__all__ = [
    "DECODERS",
    "TABLE_NAMES",
    "TableSet",
    "TableSetOptions",
    "table_schema",
    "token_transfers_function",
]

TABLE_NAMES: Final = ("ledgers", "transactions", "operations", "token_transfers")
DECODERS: Final = ("fast", "sdk")

TokenTransfersFn = Callable[[X.LedgerCloseMeta, Network], pa.RecordBatch]


def token_transfers_function() -> TokenTransfersFn | None:
    """``stellar_arrow.ttp.token_transfers_batch`` when the token transfer processor provides it."""
    ttp = importlib.import_module("stellar_arrow.ttp")
    fn: TokenTransfersFn | None = getattr(ttp, "token_transfers_batch", None)
    return fn


def table_schema(table: str, *, include_xdr: bool = False) -> pa.Schema:
    """The Arrow schema of ``table`` as written (raw XDR columns only with ``include_xdr``)."""
    if table == "ledgers":
        return LEDGERS_SCHEMA if include_xdr else without_columns(LEDGERS_SCHEMA, LEDGERS_XDR_COLUMNS)
    if table == "transactions":
        if include_xdr:
            return TRANSACTIONS_SCHEMA
        return without_columns(TRANSACTIONS_SCHEMA, TRANSACTIONS_XDR_COLUMNS)
    if table == "operations":
        return OPERATIONS_SCHEMA
    if table == "token_transfers":
        from stellar_arrow.ttp import TOKEN_TRANSFERS_SCHEMA

        return TOKEN_TRANSFERS_SCHEMA
    msg = f"unknown table {table!r}; choose from {', '.join(TABLE_NAMES)}"
    raise ConfigError(msg, key="tables")


@dataclass(frozen=True, slots=True)
class TableSetOptions:
    """What to build and how: tables, network, raw XDR columns, decoder, header hash checks, and
    ``verify_events``: reconcile each ledger's token transfer events with its balance changes
    (``stellar_arrow.ttp.check_ledger``; a mismatch raises ``ReconciliationError`` naming the ledger)."""

    tables: tuple[str, ...]
    network: Network
    include_xdr: bool = False
    decoder: str = "fast"
    verify_hashes: bool = True
    verify_events: bool = False

    def __post_init__(self) -> None:
        for table in self.tables:
            if table not in TABLE_NAMES:
                msg = f"unknown table {table!r}; choose from {', '.join(TABLE_NAMES)}"
                raise ConfigError(msg, key="tables")
        if self.decoder not in DECODERS:
            msg = f"unknown decoder {self.decoder!r}; choose fast or sdk"
            raise ConfigError(msg, key="decoder")
        if "token_transfers" in self.tables and token_transfers_function() is None:
            msg = (
                "table token_transfers is not available yet (stellar_arrow.ttp.token_transfers_batch missing)"
            )
            raise ConfigError(msg, key="tables")


class TableSet:
    """Builds the requested tables over consecutive calls to :meth:`add`; :meth:`finish` returns batches."""

    def __init__(self, options: TableSetOptions) -> None:
        self.options = options
        self.links: list[ChainLink] = []
        wanted = set(options.tables)
        self._builders: dict[str, Any] = {}
        if "ledgers" in wanted:
            self._builders["ledgers"] = LedgersBuilder(include_xdr=options.include_xdr)
        if "transactions" in wanted:
            self._builders["transactions"] = TransactionsBuilder(
                options.network, include_xdr=options.include_xdr
            )
        if "operations" in wanted:
            self._builders["operations"] = OperationsBuilder()
        self._token_transfers = token_transfers_function() if "token_transfers" in wanted else None
        # token transfers read entry changes and events; the other tables never do
        full = self._token_transfers is not None or options.verify_events
        self._fast_decoder: Callable[..., X.LedgerCloseMeta] = (
            decode_ledger_close_meta if full else decoder_for(TABLES_PROFILE)
        )
        self._token_batches: list[pa.RecordBatch] = []

    def decode(self, data: bytes, ledger_sequence: int | None = None) -> X.LedgerCloseMeta:
        """stellar-sdk (the oracle), or the fast decoder walking past what the tables never read."""
        if self.options.decoder == "sdk":
            value: X.LedgerCloseMeta = sdk_decode("LedgerCloseMeta", data)
            return value
        return self._fast_decoder(data, ledger_sequence=ledger_sequence)

    def add(self, data: bytes, ledger_sequence: int | None = None) -> ChainLink:
        """Decode one ledger, validate it and add its rows; returns its chain link.

        The cyclic GC stays paused until the decoded tree (which has no cycles) has been freed by
        reference counting: re-enabling it while the tree is alive would make the next collection
        walk all of its million-odd objects.
        """
        with gc_paused():
            return self.add_decoded(self.decode(data, ledger_sequence))

    def add_decoded(self, lcm: X.LedgerCloseMeta) -> ChainLink:
        view = ledger_view(lcm)
        if self.options.verify_hashes:
            check_ledger_hashes(view)
        transactions = pair_transactions(view, self.options.network)
        for builder in self._builders.values():
            builder.add(view, transactions)
        if self._token_transfers is not None:
            self._token_batches.append(self._token_transfers(lcm, self.options.network))
        if self.options.verify_events:
            from stellar_arrow.ttp.verify import check_ledger

            check_ledger(lcm, self.options.network)
        link = ChainLink(view.ledger_sequence, view.ledger_hash, view.previous_ledger_hash)
        self.links.append(link)
        return link

    def finish(self) -> dict[str, pa.RecordBatch]:
        """One record batch per requested table (in the order requested)."""
        out: dict[str, pa.RecordBatch] = {}
        for table in self.options.tables:
            if table == "token_transfers":
                out[table] = _concat(self._token_batches, table_schema(table))
            else:
                out[table] = self._builders[table].finish()
        return out


def _concat(batches: Sequence[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatch:
    if not batches:
        return _empty(schema)
    table = pa.Table.from_batches(batches)
    if table.num_rows == 0:
        return _empty(table.schema)
    return table.combine_chunks().to_batches()[0]


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)
