"""The ``ledgers`` table (Hubble ``history_ledgers``): one row per ledger, from its header and tx set.

Rows are kept as tuples and converted in one go (``record_batch_of_rows``: a ledger is one row, and one
conversion costs less than one per column). ``LedgersBuilder(compiled=True)`` counts the operations
in compiled code (``tables/_compiled.pyx``) when it is built; the Python loop is the reference.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Sequence
from typing import Final

import pyarrow as pa

from stellar_arrow.ledger.toid import toid
from stellar_arrow.ledger.view import LedgerTransaction, LedgerView
from stellar_arrow.schema import CLOSED_AT_TYPE, LEDGER_SEQUENCE_TYPE, closed_at_micros, stamp
from stellar_arrow.tables.schema import (
    SCHEMA_VERSION,
    base64_text,
    compiled_tables_module,
    record_batch_of_rows,
    without_columns,
)
from stellar_arrow.xdr.strkey import account_strkey

__all__ = ["LEDGERS_SCHEMA", "LEDGERS_XDR_COLUMNS", "LedgersBuilder"]

LEDGERS_XDR_COLUMNS: Final = ("ledger_header",)

LEDGERS_SCHEMA: Final = stamp(
    pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),  # TOID(sequence, 0, 0)
            pa.field("sequence", LEDGER_SEQUENCE_TYPE, nullable=False),
            pa.field("ledger_hash", pa.string(), nullable=False),  # hex
            pa.field("previous_ledger_hash", pa.string(), nullable=False),
            pa.field("closed_at", CLOSED_AT_TYPE, nullable=False),
            pa.field("protocol_version", pa.int32(), nullable=False),
            pa.field("transaction_count", pa.int32(), nullable=False),
            pa.field("successful_transaction_count", pa.int32(), nullable=False),
            pa.field("failed_transaction_count", pa.int32(), nullable=False),
            pa.field("operation_count", pa.int32(), nullable=False),  # operations of successful txs
            pa.field("tx_set_operation_count", pa.int32(), nullable=False),  # operations of all txs
            pa.field("total_coins", pa.int64(), nullable=False),  # stroops
            pa.field("fee_pool", pa.int64(), nullable=False),
            pa.field("base_fee", pa.int64(), nullable=False),
            pa.field("base_reserve", pa.int64(), nullable=False),
            pa.field("max_tx_set_size", pa.int64(), nullable=False),
            pa.field("inflation_seq", pa.int64(), nullable=False),
            pa.field("id_pool", pa.int64(), nullable=False),
            pa.field("tx_set_hash", pa.string(), nullable=False),
            pa.field("tx_set_result_hash", pa.string(), nullable=False),
            pa.field("bucket_list_hash", pa.string(), nullable=False),
            pa.field("ledger_flags", pa.int64()),  # LedgerHeaderExtensionV1.flags
            pa.field("node_id", pa.string()),  # signer of the close value (G-address)
            pa.field("signature", pa.string()),  # base64
            pa.field("upgrade_count", pa.int32(), nullable=False),
            pa.field("soroban_fee_write_1kb", pa.int64()),
            pa.field("total_byte_size_of_live_soroban_state", pa.int64()),
            pa.field("evicted_keys_count", pa.int32()),
            pa.field("meta_version", pa.int8(), nullable=False),  # LedgerCloseMeta arm
            pa.field("ledger_header", pa.string()),  # base64 LedgerHeader XDR (include_xdr)
        ]
    ),
    "ledgers",
    SCHEMA_VERSION,
)
_LEDGERS_SCHEMA_NO_XDR: Final = without_columns(LEDGERS_SCHEMA, LEDGERS_XDR_COLUMNS)


def operation_counts(transactions: Sequence[LedgerTransaction]) -> tuple[int, int, int]:
    """``(successful transactions, operations of successful ones, operations of all)`` of a ledger."""
    successful = 0
    operation_count = 0
    tx_set_operation_count = 0
    for tx in transactions:
        ops = len(tx.operations)
        tx_set_operation_count += ops
        if tx.successful:
            successful += 1
            operation_count += ops
    return successful, operation_count, tx_set_operation_count


class LedgersBuilder:
    """Accumulates ``ledgers`` rows; :meth:`finish` returns one record batch."""

    def __init__(self, *, include_xdr: bool = False, compiled: bool = False) -> None:
        self.include_xdr = include_xdr
        self.schema = LEDGERS_SCHEMA if include_xdr else _LEDGERS_SCHEMA_NO_XDR
        self.rows: list[tuple[object, ...]] = []
        module = compiled_tables_module() if compiled else None
        self._operation_counts: Callable[[Sequence[LedgerTransaction]], tuple[int, int, int]] = (
            operation_counts if module is None else module.operation_counts
        )

    @property
    def compiled(self) -> bool:
        """True when the operations are counted by the compiled table code."""
        return self._operation_counts is not operation_counts

    def add(self, view: LedgerView, transactions: Sequence[LedgerTransaction]) -> None:
        header = view.header
        seq = view.ledger_sequence
        successful, operation_count, tx_set_operation_count = self._operation_counts(transactions)
        scp_value = header.scp_value
        signature = scp_value.ext.lc_value_signature
        ext_v1 = header.ext.v1
        row: tuple[object, ...] = (
            toid(seq),  # id
            seq,  # sequence
            view.ledger_hash.hex(),
            view.previous_ledger_hash.hex(),
            closed_at_micros(view.close_time),
            header.ledger_version,  # protocol_version
            len(transactions),  # transaction_count
            successful,  # successful_transaction_count
            len(transactions) - successful,  # failed_transaction_count
            operation_count,
            tx_set_operation_count,
            header.total_coins,
            header.fee_pool,
            header.base_fee,
            header.base_reserve,
            header.max_tx_set_size,
            header.inflation_seq,
            header.id_pool,
            bytes(scp_value.tx_set_hash).hex(),
            bytes(header.tx_set_result_hash).hex(),
            bytes(header.bucket_list_hash).hex(),
            None if ext_v1 is None else ext_v1.flags,  # ledger_flags
            None if signature is None else account_strkey(signature.node_id.ed25519),  # node_id
            None if signature is None else base64.b64encode(signature.signature).decode(),
            len(scp_value.upgrades),  # upgrade_count
            view.soroban_fee_write_1kb,
            view.total_byte_size_of_live_soroban_state,
            view.evicted_keys_count,
            view.meta_version,
        )
        if self.include_xdr:
            row = (*row, base64_text(header.xdr))  # ledger_header
        self.rows.append(row)

    def finish(self) -> pa.RecordBatch:
        return record_batch_of_rows(self.schema, self.rows)
