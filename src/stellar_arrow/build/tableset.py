"""One decoded ledger -> every requested table: ledgers, transactions, operations, token_transfers.

:func:`build_ledger_tables` is what a worker runs for one ledger, :class:`TableSet` the same over
consecutive ledgers. Each ledger is decoded once, with the chosen decoder (``stellar_arrow.xdr.choice``);
the pure-Python decoder walks past what the three ledger tables never read (``TABLES_PROFILE``) unless
token transfers or their reconciliation are asked for. From the one decoded value it checks the
header's hashes against the content, pairs transactions with their envelopes under the network (the
network check), feeds every requested table builder, derives the token transfer events and, with
``verify_events``, reconciles them with the ledger's balance changes. The decoded tree is dropped
before the next ledger. Pure: bytes in, batches out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

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
from stellar_arrow.ttp.processor import token_transfers_batch
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA
from stellar_arrow.ttp.verify import check_ledger
from stellar_arrow.vocabulary import TABLES
from stellar_arrow.xdr import gc_paused
from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.choice import DECODERS, ledger_decoder, resolve_decoder
from stellar_arrow.xdr.profile import TABLES_PROFILE, decoder_for

__all__ = [
    "DECODERS",
    "LedgerTables",
    "TableSet",
    "TableSetOptions",
    "build_ledger_tables",
    "table_schema",
]


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
        return TOKEN_TRANSFERS_SCHEMA
    msg = f"unknown table {table!r}; choose from {', '.join(TABLES)}"
    raise ConfigError(msg, key="tables")


@dataclass(frozen=True, slots=True)
class TableSetOptions:
    """What to build and how: tables, network, raw XDR columns, decoder, header hash checks, and
    ``verify_events``: reconcile each ledger's token transfer events with its balance changes
    (``stellar_arrow.ttp.check_ledger``; a mismatch raises ``ReconciliationError`` naming the ledger)."""

    tables: tuple[str, ...]
    network: Network
    include_xdr: bool = False
    decoder: str = "compiled"  # compiled | python | sdk (stellar_arrow.xdr.choice)
    verify_hashes: bool = True
    verify_events: bool = False

    def __post_init__(self) -> None:
        for table in self.tables:
            if table not in TABLES:
                msg = f"unknown table {table!r}; choose from {', '.join(TABLES)}"
                raise ConfigError(msg, key="tables")
        resolve_decoder(self.decoder)  # ConfigError for an unknown name

    @property
    def full_decode(self) -> bool:
        """Token transfers and their reconciliation read entry changes and events; the tables never do."""
        return "token_transfers" in self.tables or self.verify_events


@dataclass(frozen=True, slots=True)
class LedgerTables:
    """The tables of one ledger and its chain link (what the caller checks the hash chain with)."""

    link: ChainLink
    batches: dict[str, pa.RecordBatch]
    size: int  # bytes of LedgerCloseMeta XDR


def build_ledger_tables(options: TableSetOptions, ledger: tuple[int, bytes]) -> LedgerTables:
    """Decode one ledger ``(sequence, LedgerCloseMeta XDR)`` once, validate it and build every requested
    table (what a worker runs; a ``source.base.RawLedger`` is such a pair)."""
    ledger_sequence, lcm = ledger
    with gc_paused():  # decode .. free and the batches: nothing in between needs the cyclic GC
        tables = TableSet(options)
        link = tables.add(lcm, ledger_sequence)
        return LedgerTables(link, tables.finish(), len(lcm))


class TableSet:
    """Builds the requested tables over consecutive calls to :meth:`add`; :meth:`finish` returns batches."""

    def __init__(self, options: TableSetOptions) -> None:
        self.options = options
        self.links: list[ChainLink] = []
        wanted = set(options.tables)
        self._builders: dict[str, Any] = {}
        chosen = resolve_decoder(options.decoder)
        compiled = chosen == "compiled"  # the compiled table and token-transfer code too, when built
        self._compiled = compiled
        if "ledgers" in wanted:
            self._builders["ledgers"] = LedgersBuilder(include_xdr=options.include_xdr, compiled=compiled)
        if "transactions" in wanted:
            self._builders["transactions"] = TransactionsBuilder(
                options.network, include_xdr=options.include_xdr, compiled=compiled
            )
        if "operations" in wanted:
            self._builders["operations"] = OperationsBuilder(compiled=compiled)
        self._token_transfers = "token_transfers" in wanted
        self._decoder: Callable[..., X.LedgerCloseMeta] = (
            decoder_for(TABLES_PROFILE)
            if chosen == "python" and not options.full_decode
            else ledger_decoder(chosen)
        )
        self._token_batches: list[pa.RecordBatch] = []

    def decode(self, data: bytes, ledger_sequence: int | None = None) -> X.LedgerCloseMeta:
        """The chosen decoder (the pure-Python one walks past what the tables never read)."""
        return self._decoder(data, ledger_sequence=ledger_sequence)

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
        if self._token_transfers:
            paired = (view, transactions)  # paired under options.network above: not hashed twice
            self._token_batches.append(
                token_transfers_batch(lcm, self.options.network, paired=paired, compiled=self._compiled)
            )
        if self.options.verify_events:
            check_ledger(lcm, self.options.network)
        link = ChainLink(view.ledger_sequence, view.ledger_hash, view.previous_ledger_hash)
        self.links.append(link)
        return link

    def finish(self) -> dict[str, pa.RecordBatch]:
        """One record batch per requested table (in the order requested)."""
        out: dict[str, pa.RecordBatch] = {}
        for table in self.options.tables:
            if table == "token_transfers":
                out[table] = _concat(self._token_batches, TOKEN_TRANSFERS_SCHEMA)
            else:
                out[table] = self._builders[table].finish()
        return out


def _concat(batches: Sequence[pa.RecordBatch], schema: pa.Schema) -> pa.RecordBatch:
    if not batches:
        return _empty(schema)
    if len(batches) == 1 and batches[0].num_rows > 0:
        return batches[0]  # one ledger (what a worker builds): nothing to concatenate
    table = pa.Table.from_batches(batches)
    if table.num_rows == 0:
        return _empty(table.schema)
    return table.combine_chunks().to_batches()[0]


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in schema], schema=schema)
