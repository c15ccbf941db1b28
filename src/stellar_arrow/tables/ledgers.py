"""The ``ledgers`` table (Hubble ``history_ledgers``): one row per ledger, from its header and tx set."""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Final

import pyarrow as pa

from stellar_arrow.ledger.toid import toid
from stellar_arrow.ledger.view import LedgerTransaction, LedgerView
from stellar_arrow.schema import CLOSED_AT_TYPE, LEDGER_SEQUENCE_TYPE, closed_at_micros, stamp
from stellar_arrow.tables.schema import SCHEMA_VERSION, base64_text, record_batch, without_columns
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


class LedgersBuilder:
    """Accumulates ``ledgers`` rows column by column; :meth:`finish` returns one record batch."""

    def __init__(self, *, include_xdr: bool = False) -> None:
        self.include_xdr = include_xdr
        self.schema = LEDGERS_SCHEMA if include_xdr else _LEDGERS_SCHEMA_NO_XDR
        self.columns: dict[str, list[object]] = {name: [] for name in self.schema.names}

    def add(self, view: LedgerView, transactions: Sequence[LedgerTransaction]) -> None:
        c = self.columns
        header = view.header
        seq = view.ledger_sequence
        successful = 0
        operation_count = 0
        tx_set_operation_count = 0
        for tx in transactions:
            ops = len(tx.operations)
            tx_set_operation_count += ops
            if tx.successful:
                successful += 1
                operation_count += ops
        signature = header.scp_value.ext.lc_value_signature
        ext_v1 = header.ext.v1
        c["id"].append(toid(seq))
        c["sequence"].append(seq)
        c["ledger_hash"].append(view.ledger_hash.hex())
        c["previous_ledger_hash"].append(view.previous_ledger_hash.hex())
        c["closed_at"].append(closed_at_micros(view.close_time))
        c["protocol_version"].append(header.ledger_version)
        c["transaction_count"].append(len(transactions))
        c["successful_transaction_count"].append(successful)
        c["failed_transaction_count"].append(len(transactions) - successful)
        c["operation_count"].append(operation_count)
        c["tx_set_operation_count"].append(tx_set_operation_count)
        c["total_coins"].append(header.total_coins)
        c["fee_pool"].append(header.fee_pool)
        c["base_fee"].append(header.base_fee)
        c["base_reserve"].append(header.base_reserve)
        c["max_tx_set_size"].append(header.max_tx_set_size)
        c["inflation_seq"].append(header.inflation_seq)
        c["id_pool"].append(header.id_pool)
        c["tx_set_hash"].append(bytes(header.scp_value.tx_set_hash).hex())
        c["tx_set_result_hash"].append(bytes(header.tx_set_result_hash).hex())
        c["bucket_list_hash"].append(bytes(header.bucket_list_hash).hex())
        c["ledger_flags"].append(None if ext_v1 is None else ext_v1.flags)
        c["node_id"].append(None if signature is None else account_strkey(signature.node_id.ed25519))
        c["signature"].append(None if signature is None else base64.b64encode(signature.signature).decode())
        c["upgrade_count"].append(len(header.scp_value.upgrades))
        c["soroban_fee_write_1kb"].append(view.soroban_fee_write_1kb)
        c["total_byte_size_of_live_soroban_state"].append(view.total_byte_size_of_live_soroban_state)
        c["evicted_keys_count"].append(view.evicted_keys_count)
        c["meta_version"].append(view.meta_version)
        if self.include_xdr:
            c["ledger_header"].append(base64_text(header.xdr))

    def finish(self) -> pa.RecordBatch:
        return record_batch(self.schema, self.columns)
