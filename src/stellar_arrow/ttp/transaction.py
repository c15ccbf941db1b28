"""One applied transaction of a ledger, with its envelope matched by hash (the view every deriver reads).

Transactions come in apply order (``txProcessing``); their envelopes live in the tx set in a different order
and are matched by the network hash of each envelope (fee bumps: the outer hash).
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from stellar_arrow.errors import EventDerivationError
from stellar_arrow.ttp.sac import network_id
from stellar_arrow.xdr import model as X

__all__ = ["LedgerInfo", "LedgerTransaction", "ledger_info", "ledger_transactions", "muxed_key"]

_TX: Final = struct.pack(">I", 2)  # ENVELOPE_TYPE_TX
_TX_V0_AS_TX: Final = struct.pack(
    ">II", 2, 0
)  # ENVELOPE_TYPE_TX + KEY_TYPE_ED25519 (a V0 tx hashes as a V1 tx)
_FEE_BUMP: Final = struct.pack(">I", 5)  # ENVELOPE_TYPE_TX_FEE_BUMP
_SUCCESS_CODES: Final = frozenset(
    {X.TransactionResultCode.txSUCCESS, X.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS}
)
_MUXED: Final = X.CryptoKeyType.KEY_TYPE_MUXED_ED25519


@dataclass(frozen=True, slots=True)
class LedgerInfo:
    """Header facts every event needs."""

    ledger_sequence: int
    closed_at: int
    protocol_version: int
    network_id: bytes


def muxed_key(account: Any) -> bytes:
    """The ed25519 key of a ``MuxedAccount`` (muxed id dropped)."""
    key: bytes = account.med25519.ed25519 if account.type == _MUXED else account.ed25519
    return key


@dataclass(frozen=True, slots=True)
class LedgerTransaction:
    """A transaction as applied: envelope parts (inner tx for fee bumps), result and meta."""

    ledger: LedgerInfo
    index: int  # 1-based position in txProcessing
    tx_hash: str
    source: bytes  # ed25519 of the (inner) tx source
    source_account: Any | None  # X.MuxedAccount of the (inner) tx source; None for V0 envelopes
    fee_source: bytes  # ed25519 of the account that paid the fee
    seq_num: int  # (inner) tx sequence number
    memo: Any  # X.Memo of the (inner) tx
    operations: Sequence[Any]  # X.Operation list of the (inner) tx
    is_soroban: bool
    fee_charged: int  # outer result feeCharged
    result_code: int  # outer result code
    operation_results: Sequence[Any]  # X.OperationResult list (inner for fee bumps); empty if none
    fee_processing: Sequence[Any]
    meta: Any  # X.TransactionMeta
    post_fee_processing: Sequence[Any]

    @property
    def successful(self) -> bool:
        return self.result_code in _SUCCESS_CODES

    @property
    def meta_version(self) -> int:
        return int(self.meta.v)

    def operation_changes(self, op_index0: int) -> Sequence[Any]:
        """LedgerEntryChanges of one operation (0-based); empty when the meta has none."""
        meta = self.meta
        ops = meta.operations if meta.v == 0 else meta.value.operations
        if op_index0 >= len(ops):
            return ()
        return ops[op_index0].changes  # type: ignore[no-any-return]

    @property
    def tx_changes_before(self) -> Sequence[Any]:
        meta = self.meta
        if meta.v == 0:
            return ()
        if meta.v == 1:
            return meta.v1.tx_changes  # type: ignore[no-any-return]
        return meta.value.tx_changes_before  # type: ignore[no-any-return]

    @property
    def tx_changes_after(self) -> Sequence[Any]:
        meta = self.meta
        return () if meta.v < 2 else meta.value.tx_changes_after

    def error(self, message: str, operation_index: int | None = None) -> EventDerivationError:
        """A typed error naming this ledger, tx hash and (1-based) operation index."""
        where = f"ledger {self.ledger.ledger_sequence} tx {self.tx_hash}"
        if operation_index is not None:
            where += f" operation {operation_index}"
        return EventDerivationError(
            f"{where}: {message}",
            ledger_sequence=self.ledger.ledger_sequence,
            tx_hash=self.tx_hash,
            operation_index=operation_index,
        )


def ledger_info(lcm: Any, network_passphrase: str) -> LedgerInfo:
    header = lcm.value.ledger_header.header
    return LedgerInfo(
        ledger_sequence=header.ledger_seq,
        closed_at=header.scp_value.close_time,
        protocol_version=header.ledger_version,
        network_id=network_id(network_passphrase),
    )


def _envelopes(lcm: Any) -> list[Any]:
    if lcm.v == 0:
        return list(lcm.v0.tx_set.txs)
    out: list[Any] = []
    for phase in lcm.value.tx_set.v1_tx_set.phases:
        if phase.v == 0:
            for component in phase.v0_components:
                out.extend(component.txs_maybe_discounted_fee.txs)
        else:
            for stage in phase.parallel_txs_component.execution_stages:
                for cluster in stage:
                    out.extend(cluster)
    return out


def _envelope_hash(envelope: Any, net: bytes) -> bytes:
    kind = envelope.type
    if kind == X.EnvelopeType.ENVELOPE_TYPE_TX:
        return hashlib.sha256(net + _TX + envelope.v1.tx.xdr).digest()
    if kind == X.EnvelopeType.ENVELOPE_TYPE_TX_V0:
        return hashlib.sha256(net + _TX_V0_AS_TX + envelope.v0.tx.xdr).digest()
    return hashlib.sha256(net + _FEE_BUMP + envelope.fee_bump.tx.xdr).digest()


def _transaction(info: LedgerInfo, index: int, processing: Any, envelope: Any) -> LedgerTransaction:
    pair = processing.result
    result = pair.result
    code = result.result.code
    fee_source = None
    if envelope.type == X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP:
        fee_bump = envelope.fee_bump.tx
        fee_source = muxed_key(fee_bump.fee_source)
        tx = fee_bump.inner_tx.v1.tx
        inner = result.result.inner_result_pair
        op_results = inner.result.result.results if inner is not None else None
    else:
        tx = envelope.v1.tx if envelope.type == X.EnvelopeType.ENVELOPE_TYPE_TX else envelope.v0.tx
        op_results = result.result.results
    if envelope.type == X.EnvelopeType.ENVELOPE_TYPE_TX_V0:
        source_account = None
        source = tx.source_account_ed25519
        is_soroban = False
    else:
        source_account = tx.source_account
        source = muxed_key(source_account)
        is_soroban = tx.ext.v == 1
    return LedgerTransaction(
        ledger=info,
        index=index,
        tx_hash=pair.transaction_hash.hex(),
        source=source,
        source_account=source_account,
        fee_source=fee_source if fee_source is not None else source,
        seq_num=tx.seq_num,
        memo=tx.memo,
        operations=tx.operations,
        is_soroban=is_soroban,
        fee_charged=result.fee_charged,
        result_code=code,
        operation_results=op_results or (),
        fee_processing=processing.fee_processing,
        meta=processing.tx_apply_processing,
        post_fee_processing=getattr(processing, "post_tx_apply_fee_processing", None) or (),
    )


def ledger_transactions(lcm: Any, network_passphrase: str) -> tuple[LedgerInfo, list[LedgerTransaction]]:
    """The ledger's header facts and its transactions in apply order, envelopes matched by hash."""
    info = ledger_info(lcm, network_passphrase)
    processing = lcm.value.tx_processing
    if not processing:
        return info, []
    by_hash = {_envelope_hash(env, info.network_id): env for env in _envelopes(lcm)}
    txs = []
    for i, item in enumerate(processing):
        tx_hash = item.result.transaction_hash
        envelope = by_hash.get(tx_hash)
        if envelope is None:
            msg = (
                f"ledger {info.ledger_sequence} tx {tx_hash.hex()}: no envelope in the tx set hashes to it "
                "under this network passphrase (wrong --network?)"
            )
            raise EventDerivationError(
                msg,
                ledger_sequence=info.ledger_sequence,
                tx_hash=tx_hash.hex(),
            )
        txs.append(_transaction(info, i + 1, item, envelope))
    return info, txs
