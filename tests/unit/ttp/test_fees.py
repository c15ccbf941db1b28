"""Fee and refund events and the ledger-level event order (spec §2.1-2.3)."""

from __future__ import annotations

from stellar_sdk import xdr as x

from stellar_arrow.ttp import NATIVE, Fee, MuxedInfo, Transfer
from stellar_arrow.ttp.sac import sac_address
from tests.unit.ttp.scenario import (
    ALICE,
    BOB,
    CAROL,
    FEEBUMPER,
    NETWORK,
    Tx,
    balance,
    derive,
    i64,
    muxed,
    op,
    op_result,
)

NATIVE_SAC = sac_address(NATIVE, NETWORK.network_id)


def payment_tx(source: x.MuxedAccount, amount: int = 5, **kw: object) -> Tx:
    body = x.OperationBody(
        x.OperationType.PAYMENT,
        payment_op=x.PaymentOp(muxed(CAROL), x.Asset(x.AssetType.ASSET_TYPE_NATIVE), i64(amount)),
    )
    res = op_result(
        x.OperationType.PAYMENT, payment_result=x.PaymentResult(x.PaymentResultCode.PAYMENT_SUCCESS)
    )
    return Tx(source, [op(body)], [res], [[]], **kw)  # type: ignore[arg-type]


def test_classic_fee_from_muxed_source_is_g_and_has_no_operation_index() -> None:
    events = derive([payment_tx(muxed(ALICE, 99), fee_charged=123)])
    fee = events[0]
    assert isinstance(fee, Fee) and fee.amount == 123 and fee.from_ == ALICE.public_key
    assert fee.meta.operation_index is None and fee.meta.to_muxed_info is None
    assert fee.meta.contract_address == NATIVE_SAC and fee.asset == NATIVE
    assert isinstance(events[1], Transfer) and events[1].meta.operation_index == 1


def test_failed_classic_tx_has_only_its_fee() -> None:
    events = derive([payment_tx(muxed(ALICE), code=x.TransactionResultCode.txFAILED)])
    assert [e.event_type for e in events] == ["fee"]
    events = derive([payment_tx(muxed(ALICE), code=x.TransactionResultCode.txBAD_SEQ)])
    assert [e.event_type for e in events] == ["fee"]


def test_zero_classic_fee_is_emitted() -> None:
    events = derive([payment_tx(muxed(ALICE), fee_charged=0)])
    assert (events[0].event_type, events[0].amount) == ("fee", 0)


def test_fee_bump_pays_from_fee_source_with_outer_hash_and_inner_ops() -> None:
    tx = payment_tx(muxed(ALICE), fee_bump=FEEBUMPER, fee_charged=400)
    fee, transfer = derive([tx])
    assert fee.from_ == FEEBUMPER.public_key and fee.amount == 400
    assert fee.meta.tx_hash == tx.tx_hash().hex() == transfer.meta.tx_hash
    assert isinstance(transfer, Transfer) and transfer.from_ == ALICE.public_key


def test_fee_bump_inner_failure_gives_fee_only() -> None:
    tx = payment_tx(muxed(ALICE), fee_bump=FEEBUMPER, code=x.TransactionResultCode.txFAILED)
    assert [(e.event_type, e.from_) for e in derive([tx])] == [("fee", FEEBUMPER.public_key)]  # type: ignore[union-attr]


def test_transaction_index_follows_apply_order_not_tx_set_order() -> None:
    txs = [
        payment_tx(muxed(ALICE), 1, seq_num=1),
        payment_tx(muxed(BOB), 2, seq_num=2),
        payment_tx(muxed(CAROL), 3, seq_num=3),
    ]
    events = derive(txs, tx_set_order=[2, 0, 1])
    assert [(e.event_type, e.meta.transaction_index) for e in events] == [
        ("fee", 1),
        ("fee", 2),
        ("fee", 3),
        ("transfer", 1),
        ("transfer", 2),
        ("transfer", 3),
    ]
    assert [e.meta.event_index for e in events] == list(range(6))
    assert [e.meta.tx_hash for e in events[:3]] == [t.tx_hash().hex() for t in txs]


def soroban_tx(source: x.MuxedAccount, charge: int, refund: int, *, protocol: int, **kw: object) -> Tx:
    kp = {ALICE.public_key: ALICE, BOB.public_key: BOB}
    acct = next(k for k in kp.values() if k.raw_public_key() == source.ed25519.uint256)
    fee_changes = balance(acct, 10_000, 10_000 - charge)
    refund_changes = balance(acct, 10_000 - charge, 10_000 - charge + refund) if refund else []
    return Tx(
        source,
        soroban=True,
        meta_version=3 if protocol < 23 else 4,
        fee_changes=fee_changes,
        changes_after=refund_changes if protocol < 23 else [],
        post_fee_changes=refund_changes if protocol >= 23 else [],
        **kw,
    )  # type: ignore[arg-type]


def with_payment(t: Tx) -> Tx:
    p = payment_tx(t.source)
    t.operations, t.results, t.op_changes = p.operations, p.results, p.op_changes
    return t


def test_soroban_refund_before_p23_follows_its_own_tx() -> None:
    a = with_payment(soroban_tx(muxed(ALICE), 500, 120, protocol=22, seq_num=1))
    b = with_payment(soroban_tx(muxed(BOB), 300, 0, protocol=22, seq_num=2))
    events = derive([a, b], protocol=22)
    assert [(e.event_type, e.meta.transaction_index, e.amount) for e in events] == [
        ("fee", 1, 500),
        ("fee", 2, 300),
        ("transfer", 1, 5),
        ("fee", 1, -120),
        ("transfer", 2, 5),
    ]


def test_soroban_refunds_from_p23_come_after_all_operation_events() -> None:
    a = with_payment(soroban_tx(muxed(ALICE), 500, 120, protocol=23, seq_num=1))
    b = with_payment(soroban_tx(muxed(BOB), 300, 50, protocol=23, seq_num=2))
    events = derive([a, b], protocol=23)
    assert [(e.event_type, e.meta.transaction_index, e.amount) for e in events] == [
        ("fee", 1, 500),
        ("fee", 2, 300),
        ("transfer", 1, 5),
        ("transfer", 2, 5),
        ("fee", 1, -120),
        ("fee", 2, -50),
    ]


def test_failed_soroban_tx_still_gets_its_refund() -> None:
    t = soroban_tx(muxed(ALICE), 500, 200, protocol=23, code=x.TransactionResultCode.txFAILED)
    assert [(e.event_type, e.amount) for e in derive([t], protocol=23)] == [("fee", 500), ("fee", -200)]


def test_soroban_charge_uses_fee_processing_not_fee_charged() -> None:
    t = soroban_tx(muxed(ALICE), 777, 0, protocol=22, fee_charged=1)
    assert [(e.event_type, e.amount) for e in derive([t], protocol=22)] == [("fee", 777)]


def test_fee_bump_with_muxed_fee_source_uses_inner_memo_and_g_payer() -> None:
    tx = payment_tx(muxed(ALICE), memo=x.Memo(x.MemoType.MEMO_ID, id=x.Uint64(5)), fee_bump=FEEBUMPER)
    envelope = tx.envelope()
    envelope.fee_bump.tx.fee_source = muxed(FEEBUMPER, 99)
    tx.envelope = lambda: envelope  # type: ignore[method-assign]
    fee, transfer = derive([tx])
    assert fee.from_ == FEEBUMPER.public_key
    assert transfer.meta.to_muxed_info == MuxedInfo("id", 5) and transfer.meta.tx_hash == tx.tx_hash().hex()
