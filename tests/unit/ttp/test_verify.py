"""Reconciliation finds corrupted events; what it counts and what it leaves out (spec §4)."""

from __future__ import annotations

from dataclasses import replace
from functools import cache
from typing import Any

import pytest
from stellar_sdk import xdr as x

from stellar_arrow.ledger import PUBNET
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.ttp import (
    Burn,
    Fee,
    Mint,
    TransactionEvents,
    Transfer,
    transaction_events,
    verify_transaction,
)
from stellar_arrow.ttp.fees import FeeEvents
from stellar_arrow.ttp.verify import event_deltas
from stellar_arrow.xdr import decode_ledger_close_meta
from stellar_arrow.xdr.strkey import contract_strkey
from tests.conftest import DATA
from tests.unit.ttp.scenario import (
    ALICE,
    BOB,
    ISSUER,
    NETWORK,
    Tx,
    asset,
    balance,
    decoded,
    i64,
    muxed,
    op,
    op_result,
    pool_share_trustline_entry,
    updated,
)


@cache
def real_ledger() -> list[TransactionEvents]:
    (raw,) = read_ledger_file(DATA / "corpus" / "pubnet-0063092982.xdr.gz")
    return transaction_events(decode_ledger_close_meta(raw), PUBNET)


def first(kind: type) -> tuple[TransactionEvents, int]:
    for t in real_ledger():
        for i, ev in enumerate(t.operations):
            if isinstance(ev, kind) and ev.asset is not None and ev.amount > 0 and not ev.to.startswith("C"):
                return t, i
    raise AssertionError(kind)


def with_operations(t: TransactionEvents, ops: list[Any]) -> TransactionEvents:
    return TransactionEvents(t.transaction, t.fees, ops)


def test_real_ledger_reconciles() -> None:
    assert all(verify_transaction(t, strict=True) == [] for t in real_ledger())


def test_amount_off_by_one_is_reported_with_tx_hash_and_holder() -> None:
    t, i = first(Transfer)
    ev = t.operations[i]
    ops = list(t.operations)
    ops[i] = replace(ev, amount=ev.amount + 1)
    found = verify_transaction(with_operations(t, ops))
    assert {(m.tx_hash, m.holder, m.asset) for m in found} == {
        (t.transaction.hash_hex, ev.from_, ev.asset.canonical),
        (t.transaction.hash_hex, ev.to, ev.asset.canonical),
    }
    to_side = next(m for m in found if m.holder == ev.to)
    assert to_side.actual == to_side.expected + 1 and to_side.ledger_sequence == 63092982
    assert t.transaction.hash_hex in str(to_side) and "63092982" in str(to_side)


def test_wrong_holder_is_reported() -> None:
    t, i = first(Transfer)
    ev = t.operations[i]
    ops = list(t.operations)
    ops[i] = replace(ev, to=ALICE.public_key)
    holders = {m.holder for m in verify_transaction(with_operations(t, ops))}
    assert holders == {ev.to, ALICE.public_key}


def test_dropped_event_is_reported() -> None:
    t, i = first(Transfer)
    ops = list(t.operations)
    del ops[i]
    assert verify_transaction(with_operations(t, ops))


def test_changed_fee_is_reported_by_balances_and_by_fee_charged_in_every_mode() -> None:
    t = real_ledger()[0]
    broken = TransactionEvents(
        t.transaction,
        type(t.fees)((replace(t.fees.charge, amount=t.fees.charge.amount - 1), t.fees.refund)),
        t.operations,
    )
    assert [m.check for m in verify_transaction(broken)] == ["transaction", "fee"]
    assert [m.check for m in verify_transaction(broken, strict=True)] == ["transaction", "fee"]


def test_event_deltas_skip_contract_holders_and_custom_tokens_unless_asked() -> None:
    t, i = first(Transfer)
    ev = t.operations[i]
    contract = contract_strkey(bytes(32))
    events = [
        replace(ev, to=contract),
        replace(ev, asset=None),
        Mint(ev.meta, contract, ev.asset, 3),
        Burn(ev.meta, contract, ev.asset, 3),
    ]
    assert event_deltas(events) == {(ev.from_, ev.asset.canonical): -ev.amount}
    assert event_deltas(events, contract_holders=True) == {
        (ev.from_, ev.asset.canonical): -ev.amount,
        (contract, ev.asset.canonical): ev.amount,
    }


def test_negative_fee_is_a_credit() -> None:
    t = real_ledger()[0]
    refund = Fee(t.fees.charge.meta, ALICE.public_key, -5)
    assert event_deltas([refund]) == {(ALICE.public_key, "native"): 5}


def test_pool_share_trustlines_are_not_balances() -> None:
    usd = asset("USD", ISSUER)
    body = x.OperationBody(x.OperationType.PAYMENT, payment_op=x.PaymentOp(muxed(BOB), usd, i64(5)))
    res = op_result(
        x.OperationType.PAYMENT, payment_result=x.PaymentResult(x.PaymentResultCode.PAYMENT_SUCCESS)
    )
    shares = updated(
        pool_share_trustline_entry(ALICE, bytes(32), 10), pool_share_trustline_entry(ALICE, bytes(32), 3)
    )
    tx = Tx(
        muxed(ALICE),
        [op(body)],
        [res],
        [balance(ALICE, 10, 5, usd) + balance(BOB, 0, 5, usd) + shares],
        fee_changes=balance(ALICE, 1000, 900),
    )
    (t,) = transaction_events(decoded([tx]), NETWORK)
    assert verify_transaction(t, strict=True) == []


@pytest.mark.parametrize("protocol", [12, 13])
def test_internal_error_before_protocol_13_ignores_operation_changes(protocol: int) -> None:
    body = x.OperationBody(
        x.OperationType.BUMP_SEQUENCE, bump_sequence_op=x.BumpSequenceOp(x.SequenceNumber(i64(9)))
    )
    tx = Tx(
        muxed(ALICE),
        [op(body)],
        [],
        [balance(BOB, 5, 6)],
        code=x.TransactionResultCode.txINTERNAL_ERROR,
        fee_changes=balance(ALICE, 1000, 900),
    )
    tx.meta_version = 2
    # meta of a failed tx carries no op changes in the builder; put the stray change after the ops instead
    tx.changes_after = balance(BOB, 5, 6)
    (t,) = transaction_events(decoded([tx], protocol=protocol), NETWORK)
    assert bool(verify_transaction(t)) == (protocol > 12)


def test_check_ledger_raises_a_typed_error_only_on_mismatch() -> None:
    from stellar_arrow.errors import ReconciliationError
    from stellar_arrow.ttp import check_ledger

    usd = asset("USD", ISSUER)
    body = x.OperationBody(x.OperationType.PAYMENT, payment_op=x.PaymentOp(muxed(BOB), usd, i64(5)))
    res = op_result(
        x.OperationType.PAYMENT, payment_result=x.PaymentResult(x.PaymentResultCode.PAYMENT_SUCCESS)
    )
    good = Tx(
        muxed(ALICE),
        [op(body)],
        [res],
        [balance(ALICE, 10, 5, usd) + balance(BOB, 0, 5, usd)],
        fee_changes=balance(ALICE, 1000, 900),
    )
    check_ledger(decoded([good]), NETWORK, strict=True)
    bad = Tx(
        muxed(ALICE),
        [op(body)],
        [res],
        [balance(ALICE, 10, 5, usd) + balance(BOB, 0, 4, usd)],
        fee_changes=balance(ALICE, 1000, 900),
    )
    with pytest.raises(ReconciliationError, match=r"ledger 1000: 1 balance mismatches") as err:
        check_ledger(decoded([bad]), NETWORK)
    assert err.value.ledger_sequence == 1000 and BOB.public_key in str(err.value)


def soroban_with_refund() -> TransactionEvents:
    return next(t for t in real_ledger() if t.transaction.is_soroban and t.fees.refund is not None)


def test_a_stroop_moved_from_refund_to_charge_is_caught_by_the_refund_rule_only() -> None:
    """Balances and the feeCharged sum still agree; the meta's Soroban fee breakdown does not."""
    t = soroban_with_refund()
    charge, refund = t.fees.charge, t.fees.refund
    assert refund is not None and verify_transaction(t) == []
    moved = TransactionEvents(
        t.transaction,
        FeeEvents((replace(charge, amount=charge.amount + 1), replace(refund, amount=refund.amount - 1))),
        t.operations,
    )
    (found,) = verify_transaction(moved)  # default mode
    assert (found.check, found.expected, found.actual) == ("refund", refund.amount, refund.amount - 1)
    assert found.tx_hash == t.transaction.hash_hex and found.operation_index is None


def test_a_missing_or_misplaced_refund_is_reported() -> None:
    t = soroban_with_refund()
    dropped = TransactionEvents(t.transaction, FeeEvents((t.fees.charge, None)), t.operations)
    assert {m.check for m in verify_transaction(dropped)} == {"transaction", "fee", "refund"}
    classic = next(t for t in real_ledger() if not t.transaction.is_soroban)
    refund = replace(classic.fees.charge, amount=-1)
    extra = TransactionEvents(
        classic.transaction, FeeEvents((classic.fees.charge, refund)), classic.operations
    )
    assert "refund" in {m.check for m in verify_transaction(extra)}
