"""Build real ``LedgerCloseMeta`` XDR with stellar-sdk for table-driven token-transfer tests.

A :class:`Tx` describes one applied transaction (envelope parts, per-op results and changes, fee changes,
meta version, contract events); :func:`ledger_bytes` assembles a whole ledger (LCM V1 before protocol 23, V2
from 23), encodes it with stellar-sdk and returns the bytes, which the tests decode with our own decoder.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from stellar_sdk import Asset as SdkAsset
from stellar_sdk import Keypair, Network, StrKey
from stellar_sdk import xdr as x

from stellar_arrow.ledger import resolve_network
from stellar_arrow.ttp import events_from_ledger
from stellar_arrow.ttp.events import Event
from stellar_arrow.xdr import decode_ledger_close_meta

PASSPHRASE = Network.TESTNET_NETWORK_PASSPHRASE
NETWORK = resolve_network(PASSPHRASE)
NETWORK_ID = NETWORK.network_id


def keypair(n: int) -> Keypair:
    return Keypair.from_raw_ed25519_seed(bytes([n]) * 32)


ALICE, BOB, CAROL, ISSUER, ISSUER2, FEEBUMPER = (keypair(i) for i in range(1, 7))


def account_id(kp: Keypair) -> x.AccountID:
    return x.AccountID(x.PublicKey(x.PublicKeyType.PUBLIC_KEY_TYPE_ED25519, x.Uint256(kp.raw_public_key())))


def muxed(kp: Keypair, mux_id: int | None = None) -> x.MuxedAccount:
    if mux_id is None:
        return x.MuxedAccount(x.CryptoKeyType.KEY_TYPE_ED25519, ed25519=x.Uint256(kp.raw_public_key()))
    return x.MuxedAccount(
        x.CryptoKeyType.KEY_TYPE_MUXED_ED25519,
        med25519=x.MuxedAccountMed25519(x.Uint64(mux_id), x.Uint256(kp.raw_public_key())),
    )


def m_address(kp: Keypair, mux_id: int) -> str:
    return StrKey.encode_med25519_public_key(kp.raw_public_key() + mux_id.to_bytes(8, "big"))


def asset(code: str | None = None, issuer: Keypair | None = None) -> x.Asset:
    if code is None:
        return SdkAsset.native().to_xdr_object()
    assert issuer is not None
    return SdkAsset(code, issuer.public_key).to_xdr_object()


def trustline_asset(a: x.Asset) -> x.TrustLineAsset:
    return x.TrustLineAsset(a.type, alpha_num4=a.alpha_num4, alpha_num12=a.alpha_num12)


def sac_id(a: x.Asset) -> bytes:
    """SAC contract id of an XDR asset, computed by stellar-sdk."""
    arm = a.alpha_num4 or a.alpha_num12
    if arm is None:
        return StrKey.decode_contract(SdkAsset.native().contract_id(PASSPHRASE))
    raw = arm.asset_code.asset_code4 if a.alpha_num4 else arm.asset_code.asset_code12
    issuer = StrKey.encode_ed25519_public_key(arm.issuer.account_id.ed25519.uint256)
    return StrKey.decode_contract(SdkAsset(raw.rstrip(b"\x00").decode(), issuer).contract_id(PASSPHRASE))


def i64(v: int) -> x.Int64:
    return x.Int64(v)


# ---- ledger entries and changes ------------------------------------------------------------------


def _entry(data: x.LedgerEntryData) -> x.LedgerEntry:
    return x.LedgerEntry(x.Uint32(1), data, x.LedgerEntryExt(0))


def account_entry(kp: Keypair, balance: int) -> x.LedgerEntry:
    acc = x.AccountEntry(
        account_id(kp),
        i64(balance),
        x.SequenceNumber(i64(1)),
        x.Uint32(0),
        None,
        x.Uint32(0),
        x.String32(b""),
        x.Thresholds(b"\x01\x00\x00\x00"),
        [],
        x.AccountEntryExt(0),
    )
    return _entry(x.LedgerEntryData(x.LedgerEntryType.ACCOUNT, account=acc))


def trustline_entry(kp: Keypair, a: x.Asset, balance: int) -> x.LedgerEntry:
    tl = x.TrustLineEntry(
        account_id(kp), trustline_asset(a), i64(balance), i64(2**62), x.Uint32(1), x.TrustLineEntryExt(0)
    )
    return _entry(x.LedgerEntryData(x.LedgerEntryType.TRUSTLINE, trust_line=tl))


def pool_share_trustline_entry(kp: Keypair, pool_id: bytes, balance: int) -> x.LedgerEntry:
    tla = x.TrustLineAsset(x.AssetType.ASSET_TYPE_POOL_SHARE, liquidity_pool_id=x.PoolID(x.Hash(pool_id)))
    tl = x.TrustLineEntry(account_id(kp), tla, i64(balance), i64(2**62), x.Uint32(1), x.TrustLineEntryExt(0))
    return _entry(x.LedgerEntryData(x.LedgerEntryType.TRUSTLINE, trust_line=tl))


def cb_id(h: bytes) -> x.ClaimableBalanceID:
    return x.ClaimableBalanceID(x.ClaimableBalanceIDType.CLAIMABLE_BALANCE_ID_TYPE_V0, v0=x.Hash(h))


def cb_entry(h: bytes, a: x.Asset, amount: int, claimant: Keypair = BOB) -> x.LedgerEntry:
    pred = x.ClaimPredicate(x.ClaimPredicateType.CLAIM_PREDICATE_UNCONDITIONAL)
    cl = x.Claimant(x.ClaimantType.CLAIMANT_TYPE_V0, v0=x.ClaimantV0(account_id(claimant), pred))
    cb = x.ClaimableBalanceEntry(cb_id(h), [cl], a, i64(amount), x.ClaimableBalanceEntryExt(0))
    return _entry(x.LedgerEntryData(x.LedgerEntryType.CLAIMABLE_BALANCE, claimable_balance=cb))


def pool_entry(pool_id: bytes, a: x.Asset, b: x.Asset, reserve_a: int, reserve_b: int) -> x.LedgerEntry:
    params = x.LiquidityPoolConstantProductParameters(a, b, x.Int32(30))
    cp = x.LiquidityPoolEntryConstantProduct(params, i64(reserve_a), i64(reserve_b), i64(1000), i64(1))
    body = x.LiquidityPoolEntryBody(x.LiquidityPoolType.LIQUIDITY_POOL_CONSTANT_PRODUCT, constant_product=cp)
    lp = x.LiquidityPoolEntry(x.PoolID(x.Hash(pool_id)), body)
    return _entry(x.LedgerEntryData(x.LedgerEntryType.LIQUIDITY_POOL, liquidity_pool=lp))


def created(e: x.LedgerEntry) -> list[x.LedgerEntryChange]:
    return [x.LedgerEntryChange(x.LedgerEntryChangeType.LEDGER_ENTRY_CREATED, created=e)]


def updated(pre: x.LedgerEntry, post: x.LedgerEntry) -> list[x.LedgerEntryChange]:
    return [
        x.LedgerEntryChange(x.LedgerEntryChangeType.LEDGER_ENTRY_STATE, state=pre),
        x.LedgerEntryChange(x.LedgerEntryChangeType.LEDGER_ENTRY_UPDATED, updated=post),
    ]


def removed(pre: x.LedgerEntry) -> list[x.LedgerEntryChange]:
    data = pre.data
    if data.type == x.LedgerEntryType.CLAIMABLE_BALANCE:
        key = x.LedgerKey(
            data.type, claimable_balance=x.LedgerKeyClaimableBalance(data.claimable_balance.balance_id)
        )
    elif data.type == x.LedgerEntryType.LIQUIDITY_POOL:
        key = x.LedgerKey(
            data.type, liquidity_pool=x.LedgerKeyLiquidityPool(data.liquidity_pool.liquidity_pool_id)
        )
    else:
        key = x.LedgerKey(data.type, account=x.LedgerKeyAccount(data.account.account_id))
    return [
        x.LedgerEntryChange(x.LedgerEntryChangeType.LEDGER_ENTRY_STATE, state=pre),
        x.LedgerEntryChange(x.LedgerEntryChangeType.LEDGER_ENTRY_REMOVED, removed=key),
    ]


def balance(kp: Keypair, pre: int, post: int, a: x.Asset | None = None) -> list[x.LedgerEntryChange]:
    """STATE/UPDATED of an account (native) or trustline balance."""
    if a is None or a.type == x.AssetType.ASSET_TYPE_NATIVE:
        return updated(account_entry(kp, pre), account_entry(kp, post))
    return updated(trustline_entry(kp, a, pre), trustline_entry(kp, a, post))


# ---- operations and results ----------------------------------------------------------------------


def op(body: x.OperationBody, source: x.MuxedAccount | None = None) -> x.Operation:
    return x.Operation(source, body)


def op_result(kind: x.OperationType, **arm: Any) -> x.OperationResult:
    return x.OperationResult(x.OperationResultCode.opINNER, tr=x.OperationResultTr(kind, **arm))


def sym(s: str) -> x.SCVal:
    return x.SCVal(x.SCValType.SCV_SYMBOL, sym=x.SCSymbol(s.encode()))


def sc_str(s: str | bytes) -> x.SCVal:
    return x.SCVal(x.SCValType.SCV_STRING, str=x.SCString(s.encode() if isinstance(s, str) else s))


def sc_i128(v: int) -> x.SCVal:
    return x.SCVal(x.SCValType.SCV_I128, i128=x.Int128Parts(x.Int64(v >> 64), x.Uint64(v & (2**64 - 1))))


def sc_account(kp: Keypair) -> x.SCVal:
    addr = x.SCAddress(x.SCAddressType.SC_ADDRESS_TYPE_ACCOUNT, account_id=account_id(kp))
    return x.SCVal(x.SCValType.SCV_ADDRESS, address=addr)


def sc_contract(cid: bytes) -> x.SCVal:
    addr = x.SCAddress(x.SCAddressType.SC_ADDRESS_TYPE_CONTRACT, contract_id=x.ContractID(x.Hash(cid)))
    return x.SCVal(x.SCValType.SCV_ADDRESS, address=addr)


def sc_map(entries: Sequence[tuple[x.SCVal, x.SCVal]]) -> x.SCVal:
    return x.SCVal(x.SCValType.SCV_MAP, map=x.SCMap([x.SCMapEntry(k, v) for k, v in entries]))


def contract_event(
    cid: bytes | None,
    topics: Sequence[x.SCVal],
    data: x.SCVal,
    kind: x.ContractEventType = x.ContractEventType.CONTRACT,
) -> x.ContractEvent:
    body = x.ContractEventBody(0, v0=x.ContractEventV0(list(topics), data))
    return x.ContractEvent(x.ExtensionPoint(0), x.ContractID(x.Hash(cid)) if cid else None, kind, body)


def asset_topic(a: x.Asset) -> x.SCVal:
    code = a.alpha_num4 or a.alpha_num12
    if code is None:
        return sc_str("native")
    text = (code.asset_code.asset_code4 if a.alpha_num4 else code.asset_code.asset_code12).rstrip(b"\x00")
    issuer = StrKey.encode_ed25519_public_key(code.issuer.account_id.ed25519.uint256)
    return sc_str(text.decode() + ":" + issuer)


# ---- transactions and ledgers --------------------------------------------------------------------


@dataclass
class Tx:
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

    def tx_hash(self) -> bytes:
        env = self.envelope()
        if self.fee_bump is None:
            payload = x.TransactionSignaturePayload(
                x.Hash(NETWORK_ID),
                x.TransactionSignaturePayloadTaggedTransaction(x.EnvelopeType.ENVELOPE_TYPE_TX, tx=env.v1.tx),
            )
        else:
            payload = x.TransactionSignaturePayload(
                x.Hash(NETWORK_ID),
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


def _header(seq: int, protocol: int, close_time: int) -> x.LedgerHeaderHistoryEntry:
    zero = x.Hash(bytes(32))
    sv = x.StellarValue(
        zero, x.TimePoint(x.Uint64(close_time)), [], x.StellarValueExt(x.StellarValueType.STELLAR_VALUE_BASIC)
    )
    header = x.LedgerHeader(
        x.Uint32(protocol),
        zero,
        sv,
        zero,
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
    return x.LedgerHeaderHistoryEntry(zero, header, x.LedgerHeaderHistoryEntryExt(0))


def ledger_xdr(
    txs: Sequence[Tx],
    *,
    protocol: int = 22,
    seq: int = 1000,
    close_time: int = 1_700_000_000,
    tx_set_order: Sequence[int] | None = None,
) -> bytes:
    """Encode a ledger holding ``txs`` in apply order (the tx set lists them in ``tx_set_order``)."""
    order = list(tx_set_order) if tx_set_order is not None else list(reversed(range(len(txs))))
    envelopes = [txs[i].envelope() for i in order]
    comp = x.TxSetComponent(
        x.TxSetComponentType.TXSET_COMP_TXS_MAYBE_DISCOUNTED_FEE,
        txs_maybe_discounted_fee=x.TxSetComponentTxsMaybeDiscountedFee(None, envelopes),
    )
    tx_set = x.GeneralizedTransactionSet(
        1, v1_tx_set=x.TransactionSetV1(x.Hash(bytes(32)), [x.TransactionPhase(0, v0_components=[comp])])
    )
    header = _header(seq, protocol, close_time)
    ext = x.LedgerCloseMetaExt(0)
    if protocol < 23:
        processing = [
            x.TransactionResultMeta(
                x.TransactionResultPair(x.Hash(t.tx_hash()), t.result()),
                x.LedgerEntryChanges(t.fee_changes),
                t.meta(),
            )
            for t in txs
        ]
        v1 = x.LedgerCloseMetaV1(ext, header, tx_set, processing, [], [], x.Uint64(0), [], [])
        return x.LedgerCloseMeta(1, v1=v1).to_xdr_bytes()
    processing2 = [
        x.TransactionResultMetaV1(
            x.ExtensionPoint(0),
            x.TransactionResultPair(x.Hash(t.tx_hash()), t.result()),
            x.LedgerEntryChanges(t.fee_changes),
            t.meta(),
            x.LedgerEntryChanges(t.post_fee_changes),
        )
        for t in txs
    ]
    v2 = x.LedgerCloseMetaV2(ext, header, tx_set, processing2, [], [], x.Uint64(0), [])
    return x.LedgerCloseMeta(2, v2=v2).to_xdr_bytes()


def decoded(txs: Sequence[Tx], **kwargs: Any) -> Any:
    return decode_ledger_close_meta(ledger_xdr(txs, **kwargs))


def derive(txs: Sequence[Tx], **kwargs: Any) -> list[Event]:
    return events_from_ledger(decoded(txs, **kwargs), NETWORK)


def op_events(txs: Sequence[Tx], **kwargs: Any) -> list[Event]:
    """Events without fee events."""
    return [e for e in derive(txs, **kwargs) if e.event_type != "fee"]
