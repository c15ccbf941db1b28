"""Read-only views over one decoded ``LedgerCloseMeta``: header facts and transactions in apply order.

``txProcessing`` is in apply order while the tx set is in hash order, so every result pair is
matched with its envelope by the transaction hash recomputed under the network id: a hash with
no envelope means the ledger is not from that network (:class:`NetworkMismatchError`).
Pure: decoded values in, views out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from stellar_arrow.errors import NetworkMismatchError
from stellar_arrow.ledger.hashes import transaction_hash
from stellar_arrow.ledger.network import Network
from stellar_arrow.xdr import model as X

__all__ = ["LedgerTransaction", "LedgerView", "detect_network", "ledger_view", "pair_transactions"]

_SUCCESS_CODES = frozenset(
    {X.TransactionResultCode.txSUCCESS, X.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS}
)


@dataclass(frozen=True, slots=True)
class LedgerView:
    """Header facts and the raw pieces of one ledger (LCM V0, V1 or V2)."""

    meta_version: int
    header_entry: X.LedgerHeaderHistoryEntry
    envelopes: tuple[X.TransactionEnvelope, ...]  # the tx set, in tx-set order
    processing: tuple[Any, ...]  # TransactionResultMeta / TransactionResultMetaV1, apply order
    tx_set: Any  # X.TransactionSet (V0) or X.GeneralizedTransactionSet (V1/V2)
    soroban_fee_write_1kb: int | None
    total_byte_size_of_live_soroban_state: int | None
    evicted_keys_count: int | None

    @property
    def header(self) -> X.LedgerHeader:
        return self.header_entry.header

    @property
    def ledger_sequence(self) -> int:
        return int(self.header_entry.header.ledger_seq)

    @property
    def ledger_hash(self) -> bytes:
        return bytes(self.header_entry.hash)

    @property
    def previous_ledger_hash(self) -> bytes:
        return bytes(self.header_entry.header.previous_ledger_hash)

    @property
    def close_time(self) -> int:
        """Unix seconds (UTC) of ``scpValue.closeTime``."""
        return int(self.header_entry.header.scp_value.close_time)

    @property
    def result_pairs(self) -> list[X.TransactionResultPair]:
        return [p.result for p in self.processing]


@dataclass(frozen=True, slots=True)
class LedgerTransaction:
    """One applied transaction: its 1-based apply-order index, hash, envelope, result and meta."""

    ledger_sequence: int
    transaction_index: int
    tx_hash: bytes
    envelope: X.TransactionEnvelope
    result_pair: X.TransactionResultPair
    fee_processing: list[Any]  # LedgerEntryChanges
    meta: X.TransactionMeta
    post_tx_apply_fee_processing: list[Any] | None  # LCM V2 only

    @property
    def result(self) -> X.TransactionResult:
        return self.result_pair.result

    @property
    def result_code(self) -> int:
        return int(self.result_pair.result.result.code)

    @property
    def successful(self) -> bool:
        return self.result_pair.result.result.code in _SUCCESS_CODES

    @property
    def fee_charged(self) -> int:
        return int(self.result_pair.result.fee_charged)

    @property
    def is_fee_bump(self) -> bool:
        return self.envelope.type == X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP

    @property
    def tx(self) -> Any:
        """The (inner) ``Transaction`` or ``TransactionV0`` that carries the operations."""
        envelope = self.envelope
        if envelope.type == X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP:
            return envelope.value.tx.inner_tx.value.tx
        return envelope.value.tx

    @property
    def operations(self) -> list[X.Operation]:
        ops: list[X.Operation] = self.tx.operations
        return ops

    @property
    def operation_results(self) -> list[Any] | None:
        """``OperationResult``s (inner ones for a fee bump); None when the tx failed before its ops ran."""
        result = self.result_pair.result.result
        if result.code in (
            X.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS,
            X.TransactionResultCode.txFEE_BUMP_INNER_FAILED,
        ):
            inner = result.value.result.result
            results: list[Any] | None = inner.results
            return results
        results = result.results
        return results


def _generalized_envelopes(tx_set: X.GeneralizedTransactionSet) -> Iterator[X.TransactionEnvelope]:
    for phase in tx_set.value.phases:
        if phase.v == 0:
            for component in phase.value:
                yield from component.value.txs
        else:
            for stage in phase.value.execution_stages:
                for cluster in stage:
                    yield from cluster


def ledger_view(lcm: X.LedgerCloseMeta) -> LedgerView:
    """The view of one decoded ``LedgerCloseMeta``."""
    version = int(lcm.v)
    body = lcm.value
    if version == 0:
        return LedgerView(
            meta_version=0,
            header_entry=body.ledger_header,
            envelopes=tuple(body.tx_set.txs),
            processing=tuple(body.tx_processing),
            tx_set=body.tx_set,
            soroban_fee_write_1kb=None,
            total_byte_size_of_live_soroban_state=None,
            evicted_keys_count=None,
        )
    ext_v1 = body.ext.v1
    return LedgerView(
        meta_version=version,
        header_entry=body.ledger_header,
        envelopes=tuple(_generalized_envelopes(body.tx_set)),
        processing=tuple(body.tx_processing),
        tx_set=body.tx_set,
        soroban_fee_write_1kb=None if ext_v1 is None else int(ext_v1.soroban_fee_write1_kb),
        total_byte_size_of_live_soroban_state=int(body.total_byte_size_of_live_soroban_state),
        evicted_keys_count=len(body.evicted_keys),
    )


def pair_transactions(view: LedgerView, network: Network) -> list[LedgerTransaction]:
    """Transactions in apply order (1-based index), each with its envelope found by hash.

    Raises :class:`NetworkMismatchError` naming the ledger when a result's hash matches no envelope
    hashed under ``network`` (the ledger is from another network) or the counts differ.
    """
    seq = view.ledger_sequence
    network_id = network.network_id
    by_hash = {transaction_hash(envelope, network_id): envelope for envelope in view.envelopes}
    if len(view.processing) != len(view.envelopes):
        msg = (
            f"ledger {seq}: {len(view.processing)} transaction results but {len(view.envelopes)} "
            f"envelopes in the tx set"
        )
        raise NetworkMismatchError(msg, ledger_sequence=seq)
    out: list[LedgerTransaction] = []
    for index, processing in enumerate(view.processing, start=1):
        pair = processing.result
        tx_hash = bytes(pair.transaction_hash)
        envelope = by_hash.get(tx_hash)
        if envelope is None:
            msg = (
                f"ledger {seq}: transaction #{index} hash {tx_hash.hex()} matches no envelope hashed "
                f"under network {network.name!r}: the ledger is not from that network"
            )
            raise NetworkMismatchError(msg, ledger_sequence=seq)
        out.append(
            LedgerTransaction(
                ledger_sequence=seq,
                transaction_index=index,
                tx_hash=tx_hash,
                envelope=envelope,
                result_pair=pair,
                fee_processing=processing.fee_processing,
                meta=processing.tx_apply_processing,
                post_tx_apply_fee_processing=getattr(processing, "post_tx_apply_fee_processing", None),
            )
        )
    return out


def detect_network(view: LedgerView, candidates: Sequence[Network]) -> Network | None:
    """The first candidate under which the first result's hash matches an envelope (None: no match/empty)."""
    if not view.processing:
        return None
    wanted = bytes(view.processing[0].result.transaction_hash)
    for network in candidates:
        if any(transaction_hash(e, network.network_id) == wanted for e in view.envelopes):
            return network
    return None
