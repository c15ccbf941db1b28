"""Read-only views over one decoded ``LedgerCloseMeta``: header facts and transactions in apply order.

``txProcessing`` is in apply order while the tx set is in hash order, so every result pair is
matched with its envelope by the transaction hash recomputed under the network id: a hash with
no envelope means the ledger is not from that network (:class:`NetworkMismatchError`).
:class:`LedgerTransaction` is THE transaction view of the project: the tables and the token
transfer processor read the same one. Pure: decoded values in, views out.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from stellar_arrow.errors import NetworkMismatchError
from stellar_arrow.ledger.hashes import transaction_hash
from stellar_arrow.ledger.network import Network, require_network
from stellar_arrow.xdr import model as X

__all__ = [
    "LedgerTransaction",
    "LedgerView",
    "detect_network",
    "ledger_view",
    "muxed_key",
    "pair_transactions",
]

_SUCCESS_CODES = frozenset(
    {X.TransactionResultCode.txSUCCESS, X.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS}
)
_FEE_BUMP = X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP
_TX_V0 = X.EnvelopeType.ENVELOPE_TYPE_TX_V0
_MUXED = X.CryptoKeyType.KEY_TYPE_MUXED_ED25519


def muxed_key(account: X.MuxedAccount) -> bytes:
    """The ed25519 key of a ``MuxedAccount`` (the muxed id dropped)."""
    key: bytes = account.value.ed25519 if account.type == _MUXED else account.value
    return key


@dataclass(frozen=True, slots=True)
class LedgerView:
    """Header facts and the raw pieces of one ledger (LCM V0, V1 or V2)."""

    meta_version: int
    header_entry: X.LedgerHeaderHistoryEntry
    ledger_sequence: int
    close_time: int  # unix seconds (UTC) of scpValue.closeTime
    protocol_version: int  # header ledgerVersion
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
    def ledger_hash(self) -> bytes:
        return bytes(self.header_entry.hash)

    @property
    def previous_ledger_hash(self) -> bytes:
        return bytes(self.header_entry.header.previous_ledger_hash)

    @property
    def result_pairs(self) -> list[X.TransactionResultPair]:
        return [p.result for p in self.processing]


@dataclass(slots=True)
class LedgerTransaction:
    """One applied transaction: its ledger, 1-based apply-order index, hash, envelope, result and meta.

    For a fee bump, the operations, source, sequence number and memo are the inner transaction's, the fee
    source and ``fee_charged`` the outer one's, ``tx_hash`` the outer hash.

    Read-only by convention: it is not a frozen dataclass because a frozen one pays an
    ``object.__setattr__`` per field, and one is built per transaction of every ledger.
    """

    ledger: LedgerView
    network: Network
    transaction_index: int
    tx_hash: bytes
    envelope: X.TransactionEnvelope
    result_pair: X.TransactionResultPair
    processing: Any  # TransactionResultMeta(V1): its fee changes are read through it, when needed
    meta: X.TransactionMeta
    # Read many times per transaction by the table builders and the derivation: set once here.
    tx: Any = field(init=False, repr=False, compare=False)
    """The (inner) ``Transaction`` or ``TransactionV0`` that carries the operations."""
    hash_hex: str = field(init=False, repr=False, compare=False)
    """The (outer) hash as lowercase hex."""

    def __post_init__(self) -> None:
        envelope = self.envelope
        self.tx = envelope.value.tx.inner_tx.value.tx if envelope.type == _FEE_BUMP else envelope.value.tx
        self.hash_hex = self.tx_hash.hex()

    @property
    def ledger_sequence(self) -> int:
        return self.ledger.ledger_sequence

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
        """``feeCharged`` of the (outer) result: the fee finally paid, refunds deducted."""
        return int(self.result_pair.result.fee_charged)

    @property
    def is_fee_bump(self) -> bool:
        return self.envelope.type == _FEE_BUMP

    @property
    def source_account(self) -> X.MuxedAccount | None:
        """``MuxedAccount`` of the (inner) source; None for a V0 envelope (a bare ed25519 key)."""
        if self.envelope.type == _TX_V0:
            return None
        account: X.MuxedAccount = self.tx.source_account
        return account

    @property
    def source_key(self) -> bytes:
        """ed25519 key of the (inner) transaction's source."""
        if self.envelope.type == _TX_V0:
            key: bytes = self.envelope.value.tx.source_account_ed25519
            return key
        return muxed_key(self.tx.source_account)

    @property
    def fee_source_key(self) -> bytes:
        """ed25519 key of the account that paid the fee (the bump's fee source for a fee bump)."""
        envelope = self.envelope
        if envelope.type == _FEE_BUMP:
            return muxed_key(envelope.value.tx.fee_source)
        return self.source_key

    @property
    def seq_num(self) -> int:
        return int(self.tx.seq_num)

    @property
    def memo(self) -> X.Memo:
        memo: X.Memo = self.tx.memo
        return memo

    @property
    def is_soroban(self) -> bool:
        """True when the (inner) transaction carries ``SorobanTransactionData``."""
        return self.envelope.type != _TX_V0 and self.tx.ext.v == 1

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

    @property
    def meta_version(self) -> int:
        return int(self.meta.v)

    def operation_changes(self, index0: int) -> Sequence[Any]:
        """``LedgerEntryChanges`` of the operation at 0-based ``index0``; empty when the meta has none."""
        meta = self.meta
        ops = meta.value if meta.v == 0 else meta.value.operations
        if index0 >= len(ops):
            return ()
        changes: Sequence[Any] = ops[index0].changes
        return changes

    @property
    def tx_changes_before(self) -> Sequence[Any]:
        meta = self.meta
        if meta.v == 0:
            return ()
        changes: Sequence[Any] = meta.value.tx_changes if meta.v == 1 else meta.value.tx_changes_before
        return changes

    @property
    def tx_changes_after(self) -> Sequence[Any]:
        meta = self.meta
        if meta.v < 2:
            return ()
        changes: Sequence[Any] = meta.value.tx_changes_after
        return changes

    @property
    def fee_processing(self) -> list[Any]:
        """``LedgerEntryChanges`` of the fee charge (read on demand: the compiled decoder builds them
        on first read)."""
        changes: list[Any] = self.processing.fee_processing
        return changes

    @property
    def post_tx_apply_fee_processing(self) -> list[Any] | None:
        """``postTxApplyFeeProcessing`` (LCM V2 only), else None."""
        changes: list[Any] | None = getattr(self.processing, "post_tx_apply_fee_processing", None)
        return changes

    @property
    def post_fee_processing(self) -> Sequence[Any]:
        """``postTxApplyFeeProcessing`` (LCM V2), empty before."""
        return self.post_tx_apply_fee_processing or ()


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
    header = body.ledger_header.header
    if version == 0:
        return LedgerView(
            meta_version=0,
            header_entry=body.ledger_header,
            ledger_sequence=int(header.ledger_seq),
            close_time=int(header.scp_value.close_time),
            protocol_version=int(header.ledger_version),
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
        ledger_sequence=int(header.ledger_seq),
        close_time=int(header.scp_value.close_time),
        protocol_version=int(header.ledger_version),
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
    network = require_network(network)
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
                ledger=view,
                network=network,
                transaction_index=index,
                tx_hash=tx_hash,
                envelope=envelope,
                result_pair=pair,
                processing=processing,
                meta=processing.tx_apply_processing,
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
