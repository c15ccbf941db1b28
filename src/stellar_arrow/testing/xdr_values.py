"""XDR values for hand-built ledgers: keys, assets, ledger entries and changes, operations, contract events.

Small constructors over stellar-sdk's XDR classes (``stellar_sdk.xdr``), named after what they build, for use
with :class:`~stellar_arrow.testing.ledgers.Tx` and :class:`~stellar_arrow.testing.ledgers.LedgerBuilder`::

    alice, bob = keypair(1), keypair(2)
    changes = balance(alice, 1_000, 990) + balance(bob, 0, 10)      # STATE/UPDATED of two accounts

Keys are deterministic (``keypair(n)`` has the seed ``bytes([n]) * 32``), so tests can name accounts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from stellar_sdk import Asset as SdkAsset
from stellar_sdk import Keypair, StrKey
from stellar_sdk import xdr as x

from stellar_arrow.ledger.network import TESTNET

__all__ = [
    "account_entry",
    "account_id",
    "asset",
    "asset_topic",
    "balance",
    "cb_entry",
    "cb_id",
    "contract_event",
    "created",
    "i64",
    "keypair",
    "m_address",
    "muxed",
    "op",
    "op_result",
    "pool_entry",
    "pool_share_trustline_entry",
    "removed",
    "sac_id",
    "sc_account",
    "sc_contract",
    "sc_i128",
    "sc_map",
    "sc_str",
    "sym",
    "trustline_asset",
    "trustline_entry",
    "updated",
]

TESTNET_PASSPHRASE: Final = TESTNET.passphrase


def keypair(n: int) -> Keypair:
    return Keypair.from_raw_ed25519_seed(bytes([n]) * 32)


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


def _code_and_issuer(a: x.Asset) -> tuple[str, str] | None:
    """``(code, issuer strkey)`` of a credit asset, ``None`` for native."""
    arm: Any = a.alpha_num4 or a.alpha_num12
    if arm is None:
        return None
    raw: bytes = arm.asset_code.asset_code4 if a.alpha_num4 else arm.asset_code.asset_code12
    issuer = StrKey.encode_ed25519_public_key(arm.issuer.account_id.ed25519.uint256)
    return raw.rstrip(b"\x00").decode(), issuer


def sac_id(a: x.Asset, network_passphrase: str = TESTNET_PASSPHRASE) -> bytes:
    """SAC contract id of an XDR asset on a network, computed by stellar-sdk."""
    credit = _code_and_issuer(a)
    sdk_asset = SdkAsset.native() if credit is None else SdkAsset(*credit)
    return StrKey.decode_contract(sdk_asset.contract_id(network_passphrase))


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


def cb_entry(h: bytes, a: x.Asset, amount: int, claimant: Keypair | None = None) -> x.LedgerEntry:
    pred = x.ClaimPredicate(x.ClaimPredicateType.CLAIM_PREDICATE_UNCONDITIONAL)
    who = claimant if claimant is not None else keypair(2)  # BOB of the test scenarios
    cl = x.Claimant(x.ClaimantType.CLAIMANT_TYPE_V0, v0=x.ClaimantV0(account_id(who), pred))
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
    data: Any = pre.data
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
    credit = _code_and_issuer(a)
    if credit is None:
        return sc_str("native")
    return sc_str(f"{credit[0]}:{credit[1]}")
