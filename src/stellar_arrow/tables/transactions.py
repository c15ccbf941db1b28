"""The ``transactions`` table (Hubble ``history_transactions``): one row per applied transaction.

Rows are in apply order; ``id`` is the TOID ``(ledger_sequence, transaction_index, 0)``. For a
fee-bump envelope ``account``/``operation_count``/``account_sequence`` describe the inner
transaction, ``fee_account``/``new_max_fee``/``inner_transaction_hash`` the bump, and
``transaction_hash``/``fee_charged``/``result_code`` the outer (fee-bump) transaction.

``TransactionsBuilder(..., compiled=True)`` fills the same columns in compiled code
(``tables/_compiled.pyx``) when it is built; this module's Python code is the reference (the two give
bit-identical batches) and the fallback.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Any, Final

import pyarrow as pa

from stellar_arrow.ledger.hashes import inner_transaction_hash
from stellar_arrow.ledger.network import Network
from stellar_arrow.ledger.toid import toid
from stellar_arrow.ledger.view import LedgerTransaction, LedgerView
from stellar_arrow.schema import CLOSED_AT_TYPE, LEDGER_SEQUENCE_TYPE, closed_at_micros, stamp
from stellar_arrow.tables.details import muxed_account_columns
from stellar_arrow.tables.schema import (
    SCHEMA_VERSION,
    base64_text,
    compiled_tables_module,
    record_batch,
    without_columns,
)
from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.strkey import account_strkey

__all__ = ["TRANSACTIONS_SCHEMA", "TRANSACTIONS_XDR_COLUMNS", "TransactionsBuilder"]

TRANSACTIONS_XDR_COLUMNS: Final = ("tx_envelope", "tx_result", "tx_meta")

TRANSACTIONS_SCHEMA: Final = stamp(
    pa.schema(
        [
            pa.field("id", pa.int64(), nullable=False),  # TOID(ledger_sequence, transaction_index, 0)
            pa.field("transaction_hash", pa.string(), nullable=False),  # hex
            pa.field("ledger_sequence", LEDGER_SEQUENCE_TYPE, nullable=False),
            pa.field("transaction_index", pa.int32(), nullable=False),  # 1-based apply order
            pa.field("account", pa.string(), nullable=False),  # G-address of the (inner) source
            pa.field("account_muxed", pa.string()),  # M-address when the source is muxed
            pa.field("account_sequence", pa.int64(), nullable=False),
            pa.field("fee_account", pa.string()),  # fee-bump fee source (G)
            pa.field("fee_account_muxed", pa.string()),
            pa.field("inner_transaction_hash", pa.string()),
            pa.field("envelope_type", pa.string(), nullable=False),  # tx_v0 | tx | tx_fee_bump
            pa.field("fee_charged", pa.int64(), nullable=False),
            pa.field("max_fee", pa.int64(), nullable=False),  # the envelope's fee (the bump's for a fee bump)
            pa.field("new_max_fee", pa.int64()),  # fee-bump fee
            pa.field("operation_count", pa.int32(), nullable=False),
            pa.field("successful", pa.bool_(), nullable=False),
            pa.field("result_code", pa.int32(), nullable=False),
            pa.field("transaction_result_code", pa.string(), nullable=False),  # txSUCCESS, txFAILED...
            pa.field("memo_type", pa.string(), nullable=False),  # none | text | id | hash | return
            pa.field("memo", pa.string()),  # text (bad UTF-8 -> U+FFFD); id: decimal; hash/return: base64
            pa.field("min_time", pa.int64()),
            pa.field("max_time", pa.int64()),
            pa.field("closed_at", CLOSED_AT_TYPE, nullable=False),
            pa.field("resource_fee", pa.int64()),  # declared SorobanTransactionData.resourceFee
            pa.field("soroban_resources_instructions", pa.int64()),
            pa.field("soroban_resources_disk_read_bytes", pa.int64()),
            pa.field("soroban_resources_write_bytes", pa.int64()),
            pa.field("soroban_resources_archived_entries", pa.int32()),  # entries restored by this tx (p23+)
            pa.field("inclusion_fee_bid", pa.int64()),
            pa.field("inclusion_fee_charged", pa.int64()),
            pa.field("non_refundable_resource_fee_charged", pa.int64()),
            pa.field("refundable_resource_fee_charged", pa.int64()),
            pa.field("rent_fee_charged", pa.int64()),
            pa.field("resource_fee_refund", pa.int64()),  # resource_fee - non_refundable - refundable charged
            pa.field("tx_envelope", pa.string()),  # base64 TransactionEnvelope (include_xdr)
            pa.field("tx_result", pa.string()),  # base64 TransactionResultPair
            pa.field("tx_meta", pa.string()),  # base64 TransactionMeta
        ]
    ),
    "transactions",
    SCHEMA_VERSION,
)

_ENVELOPE_TYPES: Final = {
    X.EnvelopeType.ENVELOPE_TYPE_TX_V0: "tx_v0",
    X.EnvelopeType.ENVELOPE_TYPE_TX: "tx",
    X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP: "tx_fee_bump",
}
_MEMO_TYPES: Final = {0: "none", 1: "text", 2: "id", 3: "hash", 4: "return"}
_TRANSACTIONS_SCHEMA_NO_XDR: Final = without_columns(TRANSACTIONS_SCHEMA, TRANSACTIONS_XDR_COLUMNS)


def _memo_text(memo: X.Memo) -> str | None:
    kind = memo.type
    if kind == X.MemoType.MEMO_NONE:
        return None
    if kind == X.MemoType.MEMO_TEXT:
        text: bytes = memo.value
        return text.decode("utf-8", errors="replace")
    if kind == X.MemoType.MEMO_ID:
        return str(memo.id)
    return base64.b64encode(memo.value).decode("ascii")


def _time_bounds(tx: Any) -> Any:
    """``TimeBounds`` of a ``Transaction``/``TransactionV0``, or None."""
    if isinstance(tx, X.TransactionV0):
        return tx.time_bounds
    cond = tx.cond
    if cond.type == X.PreconditionType.PRECOND_TIME:
        return cond.value
    if cond.type == X.PreconditionType.PRECOND_V2:
        return cond.value.time_bounds
    return None


def _soroban_fee_charges(meta: X.TransactionMeta) -> Any:
    """``SorobanTransactionMetaExtV1`` (the fee breakdown) of a V3/V4 meta, if any."""
    body = meta.v3 if meta.v == 3 else meta.v4 if meta.v == 4 else None
    if body is None or body.soroban_meta is None:
        return None
    return body.soroban_meta.ext.v1


_TX_SUCCESS_CODES: Final = frozenset(
    {X.TransactionResultCode.txSUCCESS, X.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS}
)
_RESULT_CODE_NAMES: Final = X.TransactionResultCode.NAMES
_TransactionV0: Final = X.TransactionV0


class TransactionsBuilder:
    """Accumulates ``transactions`` rows column by column; :meth:`finish` returns one record batch.

    Each column is a list whose bound ``append`` is looked up once per ledger (``add`` appends some
    forty values per transaction: a dict lookup and an attribute lookup per value add up).
    With ``compiled`` (and the compiled table code built: ``tables.schema.compiled_tables``) the
    rows go straight into Arrow column buffers instead, in compiled code.
    """

    def __init__(self, network: Network, *, include_xdr: bool = False, compiled: bool = False) -> None:
        self.network = network
        self.include_xdr = include_xdr
        self.schema = TRANSACTIONS_SCHEMA if include_xdr else _TRANSACTIONS_SCHEMA_NO_XDR
        self.columns: dict[str, list[object]] = {name: [] for name in self.schema.names}
        module = compiled_tables_module() if compiled else None
        self._rows = (
            None if module is None else module.TransactionRows(self.schema, network.network_id, include_xdr)
        )

    @property
    def compiled(self) -> bool:
        """True when the rows are filled by the compiled table code."""
        return self._rows is not None

    def add(self, view: LedgerView, transactions: Sequence[LedgerTransaction]) -> None:
        if self._rows is not None:
            self._rows.add(view, transactions)
            return
        c = self.columns
        if not transactions:
            return
        seq = view.ledger_sequence
        closed_at = closed_at_micros(view.close_time)
        network_id = self.network.network_id
        indexes = [t.transaction_index for t in transactions]
        toid(seq, min(indexes))  # ValueError when an index does not fit its TOID bits
        toid(seq, max(indexes))
        base = seq << 32
        n = len(indexes)
        c["id"].extend([base | (i << 12) for i in indexes])
        c["transaction_index"].extend(indexes)
        c["ledger_sequence"].extend([seq] * n)
        c["closed_at"].extend([closed_at] * n)
        hash_hex = c["transaction_hash"].append
        account_col = c["account"].append
        account_muxed_col = c["account_muxed"].append
        account_sequence = c["account_sequence"].append
        envelope_type = c["envelope_type"].append
        fee_account_col = c["fee_account"].append
        fee_account_muxed_col = c["fee_account_muxed"].append
        inner_hash_col = c["inner_transaction_hash"].append
        new_max_fee = c["new_max_fee"].append
        fee_charged_col = c["fee_charged"].append
        max_fee_col = c["max_fee"].append
        operation_count = c["operation_count"].append
        successful = c["successful"].append
        result_code = c["result_code"].append
        result_name = c["transaction_result_code"].append
        memo_type = c["memo_type"].append
        memo_col = c["memo"].append
        min_time = c["min_time"].append
        max_time = c["max_time"].append
        add_soroban = self._add_soroban
        include_xdr = self.include_xdr
        for t in transactions:
            envelope = t.envelope
            tx = t.tx
            if isinstance(tx, _TransactionV0):
                account, account_muxed = account_strkey(tx.source_account_ed25519), None
            else:
                account, account_muxed = muxed_account_columns(tx.source_account)
            fee_bump = envelope.fee_bump
            hash_hex(t.hash_hex)
            account_col(account)
            account_muxed_col(account_muxed)
            account_sequence(tx.seq_num)
            envelope_type(_ENVELOPE_TYPES[envelope.type])
            if fee_bump is not None:
                fee_account, fee_account_muxed = muxed_account_columns(fee_bump.tx.fee_source)
                inner_hash = inner_transaction_hash(envelope, network_id)
                fee_account_col(fee_account)
                fee_account_muxed_col(fee_account_muxed)
                inner_hash_col(None if inner_hash is None else inner_hash.hex())
                max_fee = int(fee_bump.tx.fee)
                new_max_fee(max_fee)
            else:
                fee_account_col(None)
                fee_account_muxed_col(None)
                inner_hash_col(None)
                max_fee = int(tx.fee)
                new_max_fee(None)
            result = t.result_pair.result
            fee_charged = int(result.fee_charged)
            fee_charged_col(fee_charged)
            max_fee_col(max_fee)
            operation_count(len(tx.operations))
            code = result.result.code
            successful(code in _TX_SUCCESS_CODES)
            code = int(code)
            result_code(code)
            result_name(_RESULT_CODE_NAMES.get(code, str(code)))
            memo = tx.memo
            memo_type(_MEMO_TYPES.get(memo.type, str(memo.type)))
            memo_col(_memo_text(memo))
            bounds = _time_bounds(tx)
            if bounds is None:
                min_time(None)
                max_time(None)
            else:
                min_time(bounds.min_time)
                max_time(bounds.max_time)
            add_soroban(tx, t, max_fee, fee_charged)
            if include_xdr:
                c["tx_envelope"].append(base64_text(envelope.xdr))
                c["tx_result"].append(base64_text(t.result_pair.xdr))
                c["tx_meta"].append(base64_text(t.meta.xdr))

    def _add_soroban(self, tx: Any, t: LedgerTransaction, max_fee: int, fee_charged: int) -> None:
        c = self.columns
        data = None if isinstance(tx, _TransactionV0) else tx.ext.soroban_data
        if data is None:
            for name in _SOROBAN_COLUMNS:
                c[name].append(None)
            return
        resources = data.resources
        c["resource_fee"].append(data.resource_fee)
        c["soroban_resources_instructions"].append(resources.instructions)
        c["soroban_resources_disk_read_bytes"].append(resources.disk_read_bytes)
        c["soroban_resources_write_bytes"].append(resources.write_bytes)
        resource_ext = data.ext.value
        c["soroban_resources_archived_entries"].append(
            len(resource_ext.archived_soroban_entries) if resource_ext is not None else 0
        )
        c["inclusion_fee_bid"].append(max_fee - data.resource_fee)
        charges = _soroban_fee_charges(t.meta)
        if charges is None:
            for name in _SOROBAN_CHARGE_COLUMNS:
                c[name].append(None)
            return
        non_refundable = int(charges.total_non_refundable_resource_fee_charged)
        refundable = int(charges.total_refundable_resource_fee_charged)
        c["inclusion_fee_charged"].append(fee_charged - non_refundable - refundable)
        c["non_refundable_resource_fee_charged"].append(non_refundable)
        c["refundable_resource_fee_charged"].append(refundable)
        c["rent_fee_charged"].append(int(charges.rent_fee_charged))
        c["resource_fee_refund"].append(int(data.resource_fee) - non_refundable - refundable)

    def finish(self) -> pa.RecordBatch:
        if self._rows is not None:
            return pa.RecordBatch.from_arrays(self._rows.arrays(), schema=self.schema)
        return record_batch(self.schema, self.columns)


_SOROBAN_CHARGE_COLUMNS: Final = (
    "inclusion_fee_charged",
    "non_refundable_resource_fee_charged",
    "refundable_resource_fee_charged",
    "rent_fee_charged",
    "resource_fee_refund",
)
_SOROBAN_COLUMNS: Final = (
    "resource_fee",
    "soroban_resources_instructions",
    "soroban_resources_disk_read_bytes",
    "soroban_resources_write_bytes",
    "soroban_resources_archived_entries",
    "inclusion_fee_bid",
    *_SOROBAN_CHARGE_COLUMNS,
)
