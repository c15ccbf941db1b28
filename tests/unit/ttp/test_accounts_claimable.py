"""Account merge, inflation, claimable balances and clawbacks (spec §2.5)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from stellar_sdk import xdr as x

from stellar_arrow.errors import EventDerivationError
from stellar_arrow.ttp import MuxedInfo
from stellar_arrow.xdr.strkey import claimable_balance_strkey
from tests.unit.ttp.scenario import (
    ALICE,
    BOB,
    CAROL,
    ISSUER,
    Tx,
    account_id,
    asset,
    balance,
    cb_entry,
    cb_id,
    created,
    i64,
    muxed,
    op,
    op_events,
    op_result,
    removed,
)
from tests.unit.ttp.test_trades import flatten

OT = x.OperationType
USD = asset("USD", ISSUER)
A, B, C, ISS = ALICE.public_key, BOB.public_key, CAROL.public_key, ISSUER.public_key
CB = hashlib.sha256(b"cb").digest()
BADDR = claimable_balance_strkey(CB)
MEMO_ID = x.Memo(x.MemoType.MEMO_ID, id=x.Uint64(42))


def run(
    body: x.OperationBody,
    result: x.OperationResult,
    changes: list[Any] | None = None,
    *,
    source: x.MuxedAccount | None = None,
    op_source: x.MuxedAccount | None = None,
    memo: x.Memo | None = None,
) -> list[tuple[Any, ...]]:
    tx = Tx(
        source or muxed(ALICE),
        [op(body, op_source)],
        [result],
        [changes or []],
        memo=memo or x.Memo(x.MemoType.MEMO_NONE),
    )
    return [flatten(e) for e in op_events([tx])]


def merge(dest: x.MuxedAccount, balance: int | None) -> tuple[x.OperationBody, x.OperationResult]:
    return x.OperationBody(OT.ACCOUNT_MERGE, destination=dest), op_result(
        OT.ACCOUNT_MERGE,
        account_merge_result=x.AccountMergeResult(
            x.AccountMergeResultCode.ACCOUNT_MERGE_SUCCESS, i64(balance) if balance is not None else None
        ),
    )


def test_account_merge_with_balance_to_muxed_destination() -> None:
    assert run(*merge(muxed(BOB, 8), 123)) == [("transfer", A, B, "native", 123, MuxedInfo("id", 8))]


def test_account_merge_of_zero_balance_is_kept() -> None:
    assert run(*merge(muxed(BOB), 0)) == [("transfer", A, B, "native", 0, None)]


def test_inflation_mints_per_payout_without_mux() -> None:
    payouts = [x.InflationPayout(account_id(BOB), i64(10)), x.InflationPayout(account_id(CAROL), i64(20))]
    res = op_result(
        OT.INFLATION, inflation_result=x.InflationResult(x.InflationResultCode.INFLATION_SUCCESS, payouts)
    )
    assert run(x.OperationBody(OT.INFLATION), res, memo=MEMO_ID) == [
        ("mint", None, B, "native", 10, None),
        ("mint", None, C, "native", 20, None),
    ]


def create_cb(a: x.Asset, amount: int) -> tuple[x.OperationBody, x.OperationResult]:
    body = x.OperationBody(
        OT.CREATE_CLAIMABLE_BALANCE,
        create_claimable_balance_op=x.CreateClaimableBalanceOp(a, i64(amount), []),
    )
    res = op_result(
        OT.CREATE_CLAIMABLE_BALANCE,
        create_claimable_balance_result=x.CreateClaimableBalanceResult(
            x.CreateClaimableBalanceResultCode.CREATE_CLAIMABLE_BALANCE_SUCCESS, cb_id(CB)
        ),
    )
    return body, res


def test_create_claimable_balance_transfers_to_b_address_without_mux() -> None:
    assert run(*create_cb(USD, 5), created(cb_entry(CB, USD, 5)), memo=MEMO_ID) == [
        ("transfer", A, BADDR, f"USD:{ISS}", 5, None)
    ]


def test_create_claimable_balance_by_issuer_mints() -> None:
    assert run(*create_cb(USD, 5), source=muxed(ISSUER)) == [("mint", None, BADDR, f"USD:{ISS}", 5, None)]


def claim(changes: list[Any]) -> tuple[x.OperationBody, x.OperationResult, list[Any]]:
    body = x.OperationBody(
        OT.CLAIM_CLAIMABLE_BALANCE, claim_claimable_balance_op=x.ClaimClaimableBalanceOp(cb_id(CB))
    )
    res = op_result(
        OT.CLAIM_CLAIMABLE_BALANCE,
        claim_claimable_balance_result=x.ClaimClaimableBalanceResult(
            x.ClaimClaimableBalanceResultCode.CLAIM_CLAIMABLE_BALANCE_SUCCESS
        ),
    )
    return body, res, changes


def test_claim_claimable_balance_amount_from_removed_entry_and_memo_applies() -> None:
    assert run(*claim(removed(cb_entry(CB, USD, 77))), memo=MEMO_ID) == [
        ("transfer", BADDR, A, f"USD:{ISS}", 77, MuxedInfo("id", 42))
    ]


def test_claim_by_muxed_source_carries_its_id() -> None:
    assert run(*claim(removed(cb_entry(CB, USD, 77))), op_source=muxed(CAROL, 5), memo=MEMO_ID) == [
        ("transfer", BADDR, C, f"USD:{ISS}", 77, MuxedInfo("id", 5))
    ]


def test_claim_by_issuer_burns() -> None:
    assert run(*claim(removed(cb_entry(CB, USD, 77))), source=muxed(ISSUER)) == [
        ("burn", BADDR, None, f"USD:{ISS}", 77, None)
    ]


def test_claim_without_removed_balance_is_a_typed_error() -> None:
    with pytest.raises(
        EventDerivationError, match=r"operation 1: expected exactly one removed claimable"
    ) as err:
        run(*claim([]))
    assert err.value.operation_index == 1 and err.value.tx_hash


def test_clawback_claimable_balance() -> None:
    body = x.OperationBody(
        OT.CLAWBACK_CLAIMABLE_BALANCE, clawback_claimable_balance_op=x.ClawbackClaimableBalanceOp(cb_id(CB))
    )
    res = op_result(
        OT.CLAWBACK_CLAIMABLE_BALANCE,
        clawback_claimable_balance_result=x.ClawbackClaimableBalanceResult(
            x.ClawbackClaimableBalanceResultCode.CLAWBACK_CLAIMABLE_BALANCE_SUCCESS
        ),
    )
    assert run(body, res, removed(cb_entry(CB, USD, 9)), source=muxed(ISSUER)) == [
        ("clawback", BADDR, None, f"USD:{ISS}", 9, None)
    ]


def test_clawback_from_muxed_account_is_g() -> None:
    body = x.OperationBody(OT.CLAWBACK, clawback_op=x.ClawbackOp(USD, muxed(BOB, 3), i64(4)))
    res = op_result(OT.CLAWBACK, clawback_result=x.ClawbackResult(x.ClawbackResultCode.CLAWBACK_SUCCESS))
    assert run(body, res, source=muxed(ISSUER), memo=MEMO_ID) == [
        ("clawback", B, None, f"USD:{ISS}", 4, None)
    ]


@pytest.mark.parametrize(
    "body",
    [
        x.OperationBody(
            OT.SET_OPTIONS,
            set_options_op=x.SetOptionsOp(None, None, None, None, None, None, None, None, None),
        ),
        x.OperationBody(
            OT.CHANGE_TRUST,
            change_trust_op=x.ChangeTrustOp(x.ChangeTrustAsset(USD.type, alpha_num4=USD.alpha_num4), i64(0)),
        ),
        x.OperationBody(OT.MANAGE_DATA, manage_data_op=x.ManageDataOp(x.String64(b"k"), None)),
        x.OperationBody(OT.BUMP_SEQUENCE, bump_sequence_op=x.BumpSequenceOp(x.SequenceNumber(i64(3)))),
        x.OperationBody(
            OT.BEGIN_SPONSORING_FUTURE_RESERVES,
            begin_sponsoring_future_reserves_op=x.BeginSponsoringFutureReservesOp(account_id(BOB)),
        ),
        x.OperationBody(OT.END_SPONSORING_FUTURE_RESERVES),
    ],
    ids=[
        "set_options",
        "change_trust_delete",
        "manage_data",
        "bump_sequence",
        "begin_sponsoring",
        "end_sponsoring",
    ],
)
def test_operations_without_token_effect(body: x.OperationBody) -> None:
    arms = {
        OT.SET_OPTIONS: (
            "set_options_result",
            x.SetOptionsResult(x.SetOptionsResultCode.SET_OPTIONS_SUCCESS),
        ),
        OT.CHANGE_TRUST: (
            "change_trust_result",
            x.ChangeTrustResult(x.ChangeTrustResultCode.CHANGE_TRUST_SUCCESS),
        ),
        OT.MANAGE_DATA: (
            "manage_data_result",
            x.ManageDataResult(x.ManageDataResultCode.MANAGE_DATA_SUCCESS),
        ),
        OT.BUMP_SEQUENCE: (
            "bump_seq_result",
            x.BumpSequenceResult(x.BumpSequenceResultCode.BUMP_SEQUENCE_SUCCESS),
        ),
        OT.BEGIN_SPONSORING_FUTURE_RESERVES: (
            "begin_sponsoring_future_reserves_result",
            x.BeginSponsoringFutureReservesResult(
                x.BeginSponsoringFutureReservesResultCode.BEGIN_SPONSORING_FUTURE_RESERVES_SUCCESS
            ),
        ),
        OT.END_SPONSORING_FUTURE_RESERVES: (
            "end_sponsoring_future_reserves_result",
            x.EndSponsoringFutureReservesResult(
                x.EndSponsoringFutureReservesResultCode.END_SPONSORING_FUTURE_RESERVES_SUCCESS
            ),
        ),
    }
    name, value = arms[body.type]
    res = op_result(body.type, **{name: value})
    assert run(body, res, memo=MEMO_ID) == []


# ---- pre-protocol-8 XLM reconciliation (spec §2.7) ---------------------------------------------


def xlm_payment(amount: int) -> tuple[x.OperationBody, x.OperationResult]:
    body = x.OperationBody(OT.PAYMENT, payment_op=x.PaymentOp(muxed(BOB), asset(), i64(amount)))
    return body, op_result(OT.PAYMENT, payment_result=x.PaymentResult(x.PaymentResultCode.PAYMENT_SUCCESS))


def run_at(protocol: int, changes: list[Any]) -> list[tuple[Any, ...]]:
    tx = Tx(muxed(ALICE), [op(xlm_payment(10)[0])], [xlm_payment(10)[1]], [changes])
    return [flatten(e) for e in op_events([tx], protocol=protocol)]


def test_pre8_source_paying_without_balance_change_gets_a_mint_first() -> None:
    # e.g. an op after merging its own source: the source has no entry left yet pays
    assert run_at(7, balance(BOB, 0, 10)) == [
        ("mint", None, A, "native", 10, None),
        ("transfer", A, B, "native", 10, None),
    ]


def test_pre8_source_losing_more_than_the_events_gets_a_burn_last() -> None:
    assert run_at(7, balance(ALICE, 100, 85) + balance(BOB, 0, 10)) == [
        ("transfer", A, B, "native", 10, None),
        ("burn", A, None, "native", 5, None),
    ]


def test_pre8_consistent_op_is_untouched_and_no_reconciliation_from_8() -> None:
    assert run_at(7, balance(ALICE, 100, 90) + balance(BOB, 0, 10)) == [
        ("transfer", A, B, "native", 10, None)
    ]
    assert run_at(8, balance(BOB, 0, 10)) == [("transfer", A, B, "native", 10, None)]
