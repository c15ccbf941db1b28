"""Build small valid ``LedgerCloseMeta`` ledgers for tests: a hash-linked chain of real XDR bytes.

A :class:`Tx` describes one applied transaction; :class:`LedgerBuilder` assembles ledgers holding such
transactions with stellar-sdk's XDR classes and fills in every hash a reader checks, so the ledgers pass
:func:`~stellar_arrow.ledger.check_ledger_hashes`, the network check of transaction hashes and the
:class:`~stellar_arrow.ledger.ChainValidator` (consecutive sequences linked by ``previous_ledger_hash``):

* ``LedgerHeaderHistoryEntry.hash`` = SHA-256 of the header, whose ``previousLedgerHash`` is the hash of
  the ledger built before;
* ``scpValue.txSetHash`` = SHA-256 of the ``GeneralizedTransactionSet``;
* ``txSetResultHash`` = SHA-256 of the ``TransactionResultSet`` (results in apply order), each result
  carrying its transaction's hash on the builder's network.

Ledgers before protocol 23 are ``LedgerCloseMeta`` V1, from 23 on V2 (as stellar-core writes them)::

    builder = LedgerBuilder(first_sequence=1000, network_passphrase=TESTNET.passphrase)
    empty = builder.ledger()                                   # ledger 1000, no transactions
    paid = builder.ledger([payment(keypair(1), keypair(2), 10)])   # ledger 1001, one XLM payment
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from stellar_sdk import Keypair
from stellar_sdk import xdr as x

from stellar_arrow.ledger.network import TESTNET
from stellar_arrow.testing.xdr_values import asset, balance, i64, muxed, op, op_result

__all__ = ["LedgerBuilder", "Tx", "payment"]

TESTNET_PASSPHRASE = TESTNET.passphrase
_ZERO = bytes(32)


@dataclass
class Tx:
    """One applied transaction: envelope parts, per-operation results and ledger-entry changes, fee changes,
    meta version (2, 3 or 4), contract events; a fee bump when ``fee_bump`` is set."""

    source: x.MuxedAccount
    operations: list[x.Operation] = field(default_factory=list)
    results: list[x.OperationResult] = field(default_factory=list)
    op_changes: list[list[x.LedgerEntryChange]] = field(default_factory=list)
    memo: x.Memo = field(default_factory=lambda: x.Memo(x.MemoType.MEMO_NONE))
    fee_charged: int = 100
    code: x.TransactionResultCode = x.TransactionResultCode.txSUCCESS
    fee_bump: Keypair | None = None
    soroban: bool = False
    seq_num: int = 7
    fee_changes: list[x.LedgerEntryChange] = field(default_factory=list)
    changes_after: list[x.LedgerEntryChange] = field(default_factory=list)
    post_fee_changes: list[x.LedgerEntryChange] = field(default_factory=list)
    meta_version: int = 2
    op_events: list[list[x.ContractEvent]] = field(default_factory=list)  # v4 per op; v3: [events]
    tx_events: list[x.TransactionEvent] = field(default_factory=list)

    def transaction(self) -> x.Transaction:
        ext = x.TransactionExt(0)
        if self.soroban:
            res = x.SorobanResources(x.LedgerFootprint([], []), x.Uint32(0), x.Uint32(0), x.Uint32(0))
            ext = x.TransactionExt(
                1, soroban_data=x.SorobanTransactionData(x.SorobanTransactionDataExt(0), res, i64(0))
            )
        return x.Transaction(
            self.source,
            x.Uint32(1000),
            x.SequenceNumber(i64(self.seq_num)),
            x.Preconditions(x.PreconditionType.PRECOND_NONE),
            self.memo,
            self.operations,
            ext,
        )

    def envelope(self) -> x.TransactionEnvelope:
        inner = x.TransactionEnvelope(
            x.EnvelopeType.ENVELOPE_TYPE_TX, v1=x.TransactionV1Envelope(self.transaction(), [])
        )
        if self.fee_bump is None:
            return inner
        fb = x.FeeBumpTransaction(
            muxed(self.fee_bump),
            i64(2000),
            x.FeeBumpTransactionInnerTx(x.EnvelopeType.ENVELOPE_TYPE_TX, v1=inner.v1),
            x.FeeBumpTransactionExt(0),
        )
        return x.TransactionEnvelope(
            x.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP, fee_bump=x.FeeBumpTransactionEnvelope(fb, [])
        )

    def tx_hash(self, network_passphrase: str = TESTNET_PASSPHRASE) -> bytes:
        """The transaction's hash on the network (the hash its result pair carries)."""
        network_id = hashlib.sha256(network_passphrase.encode()).digest()
        env: Any = self.envelope()
        if self.fee_bump is None:
            payload = x.TransactionSignaturePayload(
                x.Hash(network_id),
                x.TransactionSignaturePayloadTaggedTransaction(x.EnvelopeType.ENVELOPE_TYPE_TX, tx=env.v1.tx),
            )
        else:
            payload = x.TransactionSignaturePayload(
                x.Hash(network_id),
                x.TransactionSignaturePayloadTaggedTransaction(
                    x.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP, fee_bump=env.fee_bump.tx
                ),
            )
        return hashlib.sha256(payload.to_xdr_bytes()).digest()

    def result(self) -> x.TransactionResult:
        ok = self.code in (x.TransactionResultCode.txSUCCESS, x.TransactionResultCode.txFAILED)
        if self.fee_bump is None:
            inner_result = x.TransactionResultResult(self.code, results=self.results if ok else None)
            return x.TransactionResult(i64(self.fee_charged), inner_result, x.TransactionResultExt(0))
        inner_code = self.code
        outer = (
            x.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS
            if self.code == x.TransactionResultCode.txSUCCESS
            else x.TransactionResultCode.txFEE_BUMP_INNER_FAILED
        )
        inner = x.InnerTransactionResult(
            i64(0),
            x.InnerTransactionResultResult(inner_code, results=self.results if ok else None),
            x.InnerTransactionResultExt(0),
        )
        inner_pair = x.InnerTransactionResultPair(x.Hash(hashlib.sha256(b"inner").digest()), inner)
        return x.TransactionResult(
            i64(self.fee_charged),
            x.TransactionResultResult(outer, inner_result_pair=inner_pair),
            x.TransactionResultExt(0),
        )

    def meta(self) -> x.TransactionMeta:
        success = self.code == x.TransactionResultCode.txSUCCESS
        changes = self.op_changes if success else []
        if self.meta_version == 2:
            ops = [x.OperationMeta(x.LedgerEntryChanges(c)) for c in changes]
            return x.TransactionMeta(
                2,
                v2=x.TransactionMetaV2(
                    x.LedgerEntryChanges([]), ops, x.LedgerEntryChanges(self.changes_after)
                ),
            )
        if self.meta_version == 3:
            ops = [x.OperationMeta(x.LedgerEntryChanges(c)) for c in changes]
            soroban = None
            if self.soroban:
                events = self.op_events[0] if self.op_events and success else []
                soroban = x.SorobanTransactionMeta(
                    x.SorobanTransactionMetaExt(0), events, x.SCVal(x.SCValType.SCV_VOID), []
                )
            return x.TransactionMeta(
                3,
                v3=x.TransactionMetaV3(
                    x.ExtensionPoint(0),
                    x.LedgerEntryChanges([]),
                    ops,
                    x.LedgerEntryChanges(self.changes_after),
                    soroban,
                ),
            )
        ops4 = []
        for i, c in enumerate(changes):
            events = self.op_events[i] if i < len(self.op_events) else []
            ops4.append(x.OperationMetaV2(x.ExtensionPoint(0), x.LedgerEntryChanges(c), events))
        return x.TransactionMeta(
            4,
            v4=x.TransactionMetaV4(
                x.ExtensionPoint(0),
                x.LedgerEntryChanges([]),
                ops4,
                x.LedgerEntryChanges(self.changes_after),
                None,
                self.tx_events,
                [],
            ),
        )


def payment(
    sender: Keypair,
    receiver: Keypair,
    amount: int,
    *,
    code: str | None = None,
    issuer: Keypair | None = None,
    sender_balance: int = 10_000_000_000,
    receiver_balance: int = 0,
    fee: int = 100,
) -> Tx:
    """A successful payment of ``amount`` stroops (XLM, or ``code`` issued by ``issuer``) with its balance
    changes and fee changes, so that the derived events (one fee, one transfer) reconcile."""
    paid = asset(code, issuer)
    body = x.OperationBody(
        x.OperationType.PAYMENT, payment_op=x.PaymentOp(muxed(receiver), paid, i64(amount))
    )
    result = op_result(
        x.OperationType.PAYMENT, payment_result=x.PaymentResult(x.PaymentResultCode.PAYMENT_SUCCESS)
    )
    native = code is None
    xlm = sender_balance if native else 10_000_000_000  # the sender's lumens pay the fee
    fee_changes = balance(sender, xlm, xlm - fee)
    start = sender_balance - fee if native else sender_balance
    changes = balance(sender, start, start - amount, paid)
    changes += balance(receiver, receiver_balance, receiver_balance + amount, paid)
    return Tx(muxed(sender), [op(body)], [result], [changes], fee_charged=fee, fee_changes=fee_changes)


@dataclass
class LedgerBuilder:
    """Builds consecutive, hash-linked ledgers starting at ``first_sequence``.

    ``close_time`` (unix seconds) grows by ``close_interval`` per ledger; ``previous_hash`` is what the first
    ledger links to (zero: a chain of its own). :attr:`sequence` is the next ledger's sequence.
    """

    first_sequence: int = 1000
    network_passphrase: str = TESTNET_PASSPHRASE
    protocol: int = 22
    close_time: int = 1_700_000_000
    close_interval: int = 5
    previous_hash: bytes = _ZERO
    sequence: int = field(init=False)

    def __post_init__(self) -> None:
        self.sequence = self.first_sequence

    def ledger(
        self,
        txs: Sequence[Tx] = (),
        *,
        protocol: int | None = None,
        tx_set_order: Sequence[int] | None = None,
    ) -> bytes:
        """The next ledger's ``LedgerCloseMeta`` bytes holding ``txs`` in apply order.

        The tx set lists them in ``tx_set_order`` (default: reversed, so that readers must pair results with
        envelopes by hash, as with real ledgers).
        """
        raw, ledger_hash = _ledger_xdr(
            txs,
            protocol=self.protocol if protocol is None else protocol,
            seq=self.sequence,
            close_time=self.close_time,
            previous_hash=self.previous_hash,
            passphrase=self.network_passphrase,
            tx_set_order=tx_set_order,
        )
        self.previous_hash = ledger_hash
        self.sequence += 1
        self.close_time += self.close_interval
        return raw

    def chain(self, count: int, txs: Sequence[Tx] = ()) -> Iterator[tuple[int, bytes]]:
        """``count`` ledgers as ``(ledger_sequence, bytes)``, each holding ``txs`` (default: none)."""
        for _ in range(count):
            seq = self.sequence
            yield seq, self.ledger(txs)


def _header(
    seq: int, protocol: int, close_time: int, previous_hash: bytes, tx_set_hash: bytes, results_hash: bytes
) -> x.LedgerHeaderHistoryEntry:
    zero = x.Hash(_ZERO)
    sv = x.StellarValue(
        x.Hash(tx_set_hash),
        x.TimePoint(x.Uint64(close_time)),
        [],
        x.StellarValueExt(x.StellarValueType.STELLAR_VALUE_BASIC),
    )
    header = x.LedgerHeader(
        x.Uint32(protocol),
        x.Hash(previous_hash),
        sv,
        x.Hash(results_hash),
        zero,
        x.Uint32(seq),
        i64(10**17),
        i64(0),
        x.Uint32(0),
        x.Uint64(0),
        x.Uint32(100),
        x.Uint32(5000000),
        x.Uint32(1000),
        [zero, zero, zero, zero],
        x.LedgerHeaderExt(0),
    )
    ledger_hash = hashlib.sha256(header.to_xdr_bytes()).digest()
    return x.LedgerHeaderHistoryEntry(x.Hash(ledger_hash), header, x.LedgerHeaderHistoryEntryExt(0))


def _ledger_xdr(
    txs: Sequence[Tx],
    *,
    protocol: int,
    seq: int,
    close_time: int,
    previous_hash: bytes,
    passphrase: str,
    tx_set_order: Sequence[int] | None,
) -> tuple[bytes, bytes]:
    order = list(tx_set_order) if tx_set_order is not None else list(reversed(range(len(txs))))
    envelopes = [txs[i].envelope() for i in order]
    comp = x.TxSetComponent(
        x.TxSetComponentType.TXSET_COMP_TXS_MAYBE_DISCOUNTED_FEE,
        txs_maybe_discounted_fee=x.TxSetComponentTxsMaybeDiscountedFee(None, envelopes),
    )
    tx_set = x.GeneralizedTransactionSet(
        1, v1_tx_set=x.TransactionSetV1(x.Hash(previous_hash), [x.TransactionPhase(0, v0_components=[comp])])
    )
    pairs = [x.TransactionResultPair(x.Hash(t.tx_hash(passphrase)), t.result()) for t in txs]
    header = _header(
        seq,
        protocol,
        close_time,
        previous_hash,
        hashlib.sha256(tx_set.to_xdr_bytes()).digest(),
        hashlib.sha256(x.TransactionResultSet(pairs).to_xdr_bytes()).digest(),
    )
    ext = x.LedgerCloseMetaExt(0)
    if protocol < 23:
        processing = [
            x.TransactionResultMeta(pair, x.LedgerEntryChanges(t.fee_changes), t.meta())
            for pair, t in zip(pairs, txs, strict=True)
        ]
        v1 = x.LedgerCloseMetaV1(ext, header, tx_set, processing, [], [], x.Uint64(0), [], [])
        return x.LedgerCloseMeta(1, v1=v1).to_xdr_bytes(), header.hash.hash
    processing2 = [
        x.TransactionResultMetaV1(
            x.ExtensionPoint(0),
            pair,
            x.LedgerEntryChanges(t.fee_changes),
            t.meta(),
            x.LedgerEntryChanges(t.post_fee_changes),
        )
        for pair, t in zip(pairs, txs, strict=True)
    ]
    v2 = x.LedgerCloseMetaV2(ext, header, tx_set, processing2, [], [], x.Uint64(0), [])
    return x.LedgerCloseMeta(2, v2=v2).to_xdr_bytes(), header.hash.hash
