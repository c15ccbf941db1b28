"""Liquidity pool deposit/withdraw and pool-share redemption on trustline revocation (spec §2.5-2.6)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from stellar_sdk import xdr as x

from stellar_arrow.errors import EventDerivationError
from stellar_arrow.ttp import MuxedInfo
from stellar_arrow.xdr.strkey import claimable_balance_strkey, liquidity_pool_strkey
from tests.unit.ttp.scenario import (
    ALICE,
    BOB,
    FEEBUMPER,
    ISSUER,
    ISSUER2,
    Tx,
    account_id,
    asset,
    cb_entry,
    created,
    i64,
    muxed,
    op,
    op_events,
    op_result,
    pool_entry,
    removed,
    updated,
)
from tests.unit.ttp.test_trades import flatten

OT = x.OperationType
XLM = asset()
USD = asset("USD", ISSUER)
EUR = asset("EUR", ISSUER2)
BOBT = asset("BOBT", BOB)
A, B, ISS, I2 = ALICE.public_key, BOB.public_key, ISSUER.public_key, ISSUER2.public_key
P1, P2 = bytes([1]) * 32, bytes([2]) * 32
L1, L2 = liquidity_pool_strkey(P1), liquidity_pool_strkey(P2)
MEMO_ID = x.Memo(x.MemoType.MEMO_ID, id=x.Uint64(42))
USD_C, EUR_C = f"USD:{ISS}", f"EUR:{I2}"


def run(
    body: x.OperationBody,
    result: x.OperationResult,
    changes: list[Any],
    *,
    source: Any = ALICE,
    memo: x.Memo | None = None,
    fee_bump: Any = None,
    seq: int = 7,
) -> list[tuple[Any, ...]]:
    tx = Tx(
        muxed(source),
        [op(body)],
        [result],
        [changes],
        memo=memo or x.Memo(x.MemoType.MEMO_NONE),
        fee_bump=fee_bump,
        seq_num=seq,
    )
    return [flatten(e) for e in op_events([tx])]


def deposit() -> tuple[x.OperationBody, x.OperationResult]:
    p = x.Price(x.Int32(1), x.Int32(1))
    body = x.OperationBody(
        OT.LIQUIDITY_POOL_DEPOSIT,
        liquidity_pool_deposit_op=x.LiquidityPoolDepositOp(x.PoolID(x.Hash(P1)), i64(1), i64(1), p, p),
    )
    return body, op_result(
        OT.LIQUIDITY_POOL_DEPOSIT,
        liquidity_pool_deposit_result=x.LiquidityPoolDepositResult(
            x.LiquidityPoolDepositResultCode.LIQUIDITY_POOL_DEPOSIT_SUCCESS
        ),
    )


def withdraw() -> tuple[x.OperationBody, x.OperationResult]:
    body = x.OperationBody(
        OT.LIQUIDITY_POOL_WITHDRAW,
        liquidity_pool_withdraw_op=x.LiquidityPoolWithdrawOp(x.PoolID(x.Hash(P1)), i64(1), i64(0), i64(0)),
    )
    return body, op_result(
        OT.LIQUIDITY_POOL_WITHDRAW,
        liquidity_pool_withdraw_result=x.LiquidityPoolWithdrawResult(
            x.LiquidityPoolWithdrawResultCode.LIQUIDITY_POOL_WITHDRAW_SUCCESS
        ),
    )


def lp(
    pre: tuple[int, int] | None,
    post: tuple[int, int] | None,
    pool: bytes = P1,
    a: x.Asset = USD,
    b: x.Asset = EUR,
) -> list[x.LedgerEntryChange]:
    if pre is None:
        return created(pool_entry(pool, a, b, *post))  # type: ignore[misc]
    if post is None:
        return removed(pool_entry(pool, a, b, *pre))
    return updated(pool_entry(pool, a, b, *pre), pool_entry(pool, a, b, *post))


def test_deposit_into_new_pool() -> None:
    assert run(*deposit(), lp(None, (10, 20))) == [
        ("transfer", A, L1, USD_C, 10, None),
        ("transfer", A, L1, EUR_C, 20, None),
    ]


def test_deposit_into_existing_pool_without_mux() -> None:
    assert run(*deposit(), lp((10, 20), (15, 30)), memo=MEMO_ID) == [
        ("transfer", A, L1, USD_C, 5, None),
        ("transfer", A, L1, EUR_C, 10, None),
    ]


def test_issuer_deposit_mints_to_pool() -> None:
    assert run(*deposit(), lp((10, 20), (15, 30)), source=ISSUER) == [
        ("mint", None, L1, USD_C, 5, None),
        ("transfer", ISS, L1, EUR_C, 10, None),
    ]


def test_deposit_with_two_pool_changes_is_a_typed_error() -> None:
    with pytest.raises(EventDerivationError, match="exactly one liquidity pool change, found 2"):
        run(*deposit(), lp((10, 20), (15, 30)) + lp((1, 2), (3, 4), P2))


def test_withdraw_partial_with_memo() -> None:
    assert run(*withdraw(), lp((10, 20), (4, 8)), memo=MEMO_ID) == [
        ("transfer", L1, A, USD_C, 6, MuxedInfo("id", 42)),
        ("transfer", L1, A, EUR_C, 12, MuxedInfo("id", 42)),
    ]


def test_withdraw_removing_the_pool_with_a_zero_side() -> None:
    assert run(*withdraw(), lp((10, 0), None)) == [
        ("transfer", L1, A, USD_C, 10, None),
        ("transfer", L1, A, EUR_C, 0, None),
    ]


def test_issuer_withdraw_burns_from_pool() -> None:
    assert run(*withdraw(), lp((10, 20), (4, 8)), source=ISSUER2) == [
        ("transfer", L1, I2, USD_C, 6, None),
        ("burn", L1, None, EUR_C, 12, None),
    ]


def test_withdraw_growing_reserves_is_an_error() -> None:
    with pytest.raises(EventDerivationError, match="growing reserves"):
        run(*withdraw(), lp((10, 20), (11, 8)))


# ---- revocation ----------------------------------------------------------------------------------


def revoke_id(source: Any, seq: int, op_index0: int, pool: bytes, a: x.Asset) -> bytes:
    """Claimable balance id of a pool-share redemption, computed with stellar-sdk's XDR."""
    pre = x.HashIDPreimage(
        x.EnvelopeType.ENVELOPE_TYPE_POOL_REVOKE_OP_ID,
        revoke_id=x.HashIDPreimageRevokeID(
            account_id(source), x.SequenceNumber(i64(seq)), x.Uint32(op_index0), x.PoolID(x.Hash(pool)), a
        ),
    )
    return hashlib.sha256(pre.to_xdr_bytes()).digest()


def set_flags(trustor: Any, a: x.Asset) -> tuple[x.OperationBody, x.OperationResult]:
    body = x.OperationBody(
        OT.SET_TRUST_LINE_FLAGS,
        set_trust_line_flags_op=x.SetTrustLineFlagsOp(account_id(trustor), a, x.Uint32(1), x.Uint32(0)),
    )
    return body, op_result(
        OT.SET_TRUST_LINE_FLAGS,
        set_trust_line_flags_result=x.SetTrustLineFlagsResult(
            x.SetTrustLineFlagsResultCode.SET_TRUST_LINE_FLAGS_SUCCESS
        ),
    )


def allow_trust(trustor: Any) -> tuple[x.OperationBody, x.OperationResult]:
    code = x.AssetCode(x.AssetType.ASSET_TYPE_CREDIT_ALPHANUM4, asset_code4=x.AssetCode4(b"USD\x00"))
    body = x.OperationBody(
        OT.ALLOW_TRUST, allow_trust_op=x.AllowTrustOp(account_id(trustor), code, x.Uint32(0))
    )
    return body, op_result(
        OT.ALLOW_TRUST, allow_trust_result=x.AllowTrustResult(x.AllowTrustResultCode.ALLOW_TRUST_SUCCESS)
    )


def cb(pool: bytes, a: x.Asset, amount: int, seq: int = 7, source: Any = ISSUER) -> tuple[list[Any], str]:
    h = revoke_id(source, seq, 0, pool, a)
    return created(cb_entry(h, a, amount)), claimable_balance_strkey(h)


def test_revocation_without_pool_changes_has_no_events() -> None:
    assert run(*set_flags(BOB, USD), [], source=ISSUER) == []


def test_revocation_with_two_claimable_balances() -> None:
    ca, ba = cb(P1, USD, 6)
    cbb, bb = cb(P1, EUR, 12)
    changes = lp((10, 20), (4, 8)) + ca + cbb
    assert run(*set_flags(BOB, USD), changes, source=ISSUER) == [
        ("transfer", L1, ba, USD_C, 6, None),
        ("transfer", L1, bb, EUR_C, 12, None),
    ]


def test_allow_trust_revocation_removing_the_pool() -> None:
    ca, ba = cb(P1, USD, 10)
    cbb, bb = cb(P1, EUR, 20)
    assert run(*allow_trust(BOB), lp((10, 20), None) + cbb + ca, source=ISSUER, memo=MEMO_ID) == [
        ("transfer", L1, ba, USD_C, 10, None),
        ("transfer", L1, bb, EUR_C, 20, None),
    ]


def test_trustor_issuing_the_other_asset_burns_it_in_pool_asset_order() -> None:
    changes = lp((3, 10), (1, 4), a=BOBT, b=USD)
    ca, ba = cb(P1, USD, 6)
    assert run(*set_flags(BOB, USD), changes + ca, source=ISSUER) == [
        ("burn", L1, None, f"BOBT:{B}", 2, None),
        ("transfer", L1, ba, USD_C, 6, None),
    ]


def test_zero_withdrawal_side_emits_nothing() -> None:
    ca, ba = cb(P1, USD, 6)
    assert run(*set_flags(BOB, USD), lp((10, 20), (4, 20)) + ca, source=ISSUER) == [
        ("transfer", L1, ba, USD_C, 6, None)
    ]


def test_two_pools_sharing_the_revoked_asset_are_told_apart_by_cb_id() -> None:
    c1, b1 = cb(P1, USD, 6)
    c1e, b1e = cb(P1, EUR, 12)
    c2, b2 = cb(P2, USD, 7)
    c2x, b2x = cb(P2, XLM, 70)
    changes = lp((10, 20), (3, 10), P2, USD, XLM) + c2x + c1 + lp((10, 20), (4, 8), P1) + c2 + c1e
    assert run(*set_flags(BOB, USD), changes, source=ISSUER) == [
        ("transfer", L1, b1, USD_C, 6, None),
        ("transfer", L1, b1e, EUR_C, 12, None),
        ("transfer", L2, b2, USD_C, 7, None),
        ("transfer", L2, b2x, "native", 70, None),
    ]


def test_fee_bumped_revocation_uses_inner_source_and_sequence() -> None:
    ca, ba = cb(P1, USD, 6, seq=99)
    cbb, bb = cb(P1, EUR, 12, seq=99)
    events = run(
        *set_flags(BOB, USD), lp((10, 20), (4, 8)) + ca + cbb, source=ISSUER, fee_bump=FEEBUMPER, seq=99
    )
    assert events == [("transfer", L1, ba, USD_C, 6, None), ("transfer", L1, bb, EUR_C, 12, None)]


def test_missing_redemption_balance_is_a_typed_error() -> None:
    ca, _ = cb(P1, USD, 6, seq=1)  # attributed to another tx: wrong seq
    with pytest.raises(EventDerivationError, match="redeemed 6 USD") as err:
        run(*set_flags(BOB, USD), lp((10, 20), (4, 20)) + ca, source=ISSUER)
    assert err.value.operation_index == 1
