"""Payments, path payments and offers (spec §2.4-2.5, §2.8): one table-driven case per checklist item."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest
from stellar_sdk import xdr as x

from stellar_arrow.ttp import Event, MuxedInfo
from stellar_arrow.xdr.strkey import liquidity_pool_strkey
from tests.unit.ttp.scenario import (
    ALICE,
    BOB,
    CAROL,
    ISSUER,
    ISSUER2,
    Tx,
    account_id,
    asset,
    i64,
    m_address,
    muxed,
    op,
    op_events,
    op_result,
)

XLM = asset()
USD = asset("USD", ISSUER)
EUR = asset("EURO", ISSUER2)
A, B, C, ISS = ALICE.public_key, BOB.public_key, CAROL.public_key, ISSUER.public_key
POOL = bytes(range(32))
L = liquidity_pool_strkey(POOL)
OT = x.OperationType
MEMO_TEXT = x.Memo(x.MemoType.MEMO_TEXT, text=b"hi\xff")
MEMO_ID = x.Memo(x.MemoType.MEMO_ID, id=x.Uint64(42))
MEMO_HASH = x.Memo(x.MemoType.MEMO_HASH, hash=x.Hash(b"h" * 32))
MEMO_RETURN = x.Memo(x.MemoType.MEMO_RETURN, ret_hash=x.Hash(b"r" * 32))


def payment(dest: x.MuxedAccount, a: x.Asset, amount: int) -> tuple[x.OperationBody, x.OperationResult]:
    body = x.OperationBody(OT.PAYMENT, payment_op=x.PaymentOp(dest, a, i64(amount)))
    return body, op_result(OT.PAYMENT, payment_result=x.PaymentResult(x.PaymentResultCode.PAYMENT_SUCCESS))


def order_book(seller: Any, sold: x.Asset, n_sold: int, bought: x.Asset, n_bought: int) -> x.ClaimAtom:
    return x.ClaimAtom(
        x.ClaimAtomType.CLAIM_ATOM_TYPE_ORDER_BOOK,
        order_book=x.ClaimOfferAtom(account_id(seller), i64(1), sold, i64(n_sold), bought, i64(n_bought)),
    )


def atom_v0(seller: Any, sold: x.Asset, n_sold: int, bought: x.Asset, n_bought: int) -> x.ClaimAtom:
    return x.ClaimAtom(
        x.ClaimAtomType.CLAIM_ATOM_TYPE_V0,
        v0=x.ClaimOfferAtomV0(
            x.Uint256(seller.raw_public_key()), i64(1), sold, i64(n_sold), bought, i64(n_bought)
        ),
    )


def pool_atom(sold: x.Asset, n_sold: int, bought: x.Asset, n_bought: int) -> x.ClaimAtom:
    return x.ClaimAtom(
        x.ClaimAtomType.CLAIM_ATOM_TYPE_LIQUIDITY_POOL,
        liquidity_pool=x.ClaimLiquidityAtom(x.PoolID(x.Hash(POOL)), sold, i64(n_sold), bought, i64(n_bought)),
    )


def strict_receive(
    dest: x.MuxedAccount,
    send: x.Asset,
    dest_asset: x.Asset,
    dest_amount: int,
    atoms: list[x.ClaimAtom],
    last_amount: int | None = None,
) -> tuple[x.OperationBody, x.OperationResult]:
    body = x.OperationBody(
        OT.PATH_PAYMENT_STRICT_RECEIVE,
        path_payment_strict_receive_op=x.PathPaymentStrictReceiveOp(
            send, i64(10**9), dest, dest_asset, i64(dest_amount), []
        ),
    )
    last = x.SimplePaymentResult(
        account_id(BOB), dest_asset, i64(last_amount if last_amount is not None else dest_amount)
    )
    res = x.PathPaymentStrictReceiveResult(
        x.PathPaymentStrictReceiveResultCode.PATH_PAYMENT_STRICT_RECEIVE_SUCCESS,
        success=x.PathPaymentStrictReceiveResultSuccess(atoms, last),
    )
    return body, op_result(OT.PATH_PAYMENT_STRICT_RECEIVE, path_payment_strict_receive_result=res)


def strict_send(
    dest: x.MuxedAccount,
    send: x.Asset,
    dest_asset: x.Asset,
    send_amount: int,
    last_amount: int,
    atoms: list[x.ClaimAtom],
) -> tuple[x.OperationBody, x.OperationResult]:
    body = x.OperationBody(
        OT.PATH_PAYMENT_STRICT_SEND,
        path_payment_strict_send_op=x.PathPaymentStrictSendOp(
            send, i64(send_amount), dest, dest_asset, i64(1), []
        ),
    )
    res = x.PathPaymentStrictSendResult(
        x.PathPaymentStrictSendResultCode.PATH_PAYMENT_STRICT_SEND_SUCCESS,
        success=x.PathPaymentStrictSendResultSuccess(
            atoms, x.SimplePaymentResult(account_id(BOB), dest_asset, i64(last_amount))
        ),
    )
    return body, op_result(OT.PATH_PAYMENT_STRICT_SEND, path_payment_strict_send_result=res)


def offer(
    kind: x.OperationType,
    atoms: list[x.ClaimAtom],
    result_kind: x.OperationType | None = None,
) -> tuple[x.OperationBody, x.OperationResult]:
    price = x.Price(x.Int32(1), x.Int32(1))
    success = x.ManageOfferSuccessResult(
        atoms, x.ManageOfferSuccessResultOffer(x.ManageOfferEffect.MANAGE_OFFER_DELETED)
    )
    if kind == OT.MANAGE_BUY_OFFER:
        body = x.OperationBody(kind, manage_buy_offer_op=x.ManageBuyOfferOp(XLM, USD, i64(1), price, i64(0)))
        return body, op_result(
            kind,
            manage_buy_offer_result=x.ManageBuyOfferResult(
                x.ManageBuyOfferResultCode.MANAGE_BUY_OFFER_SUCCESS, success=success
            ),
        )
    if kind == OT.MANAGE_SELL_OFFER:
        body = x.OperationBody(
            kind, manage_sell_offer_op=x.ManageSellOfferOp(XLM, USD, i64(1), price, i64(0))
        )
    else:
        body = x.OperationBody(
            kind, create_passive_sell_offer_op=x.CreatePassiveSellOfferOp(XLM, USD, i64(1), price)
        )
    res_kind = result_kind or kind
    result = x.ManageSellOfferResult(x.ManageSellOfferResultCode.MANAGE_SELL_OFFER_SUCCESS, success=success)
    arm = (
        "manage_sell_offer_result" if res_kind == OT.MANAGE_SELL_OFFER else "create_passive_sell_offer_result"
    )
    return body, op_result(res_kind, **{arm: result})


@dataclass
class Case:
    name: str
    op: tuple[x.OperationBody, x.OperationResult]
    expected: list[tuple[Any, ...]]  # (type, from, to, asset canonical or None, amount, mux)
    source: x.MuxedAccount = field(default_factory=lambda: muxed(ALICE))
    op_source: x.MuxedAccount | None = None
    memo: x.Memo = field(default_factory=lambda: x.Memo(x.MemoType.MEMO_NONE))


def usd() -> str:
    return f"USD:{ISS}"


def eur() -> str:
    return f"EURO:{ISSUER2.public_key}"


CASES = [
    Case(
        "create_account with memo",
        (
            x.OperationBody(OT.CREATE_ACCOUNT, create_account_op=x.CreateAccountOp(account_id(BOB), i64(50))),
            op_result(
                OT.CREATE_ACCOUNT,
                create_account_result=x.CreateAccountResult(x.CreateAccountResultCode.CREATE_ACCOUNT_SUCCESS),
            ),
        ),
        [("transfer", A, B, "native", 50, MuxedInfo("id", 42))],
        memo=MEMO_ID,
    ),
    Case("payment G to G", payment(muxed(BOB), USD, 7), [("transfer", A, B, usd(), 7, None)]),
    Case(
        "payment issuer mints",
        payment(muxed(BOB), USD, 7),
        [("mint", None, B, usd(), 7, None)],
        source=muxed(ISSUER),
    ),
    Case(
        "payment to issuer burns, no mux",
        payment(muxed(ISSUER, 3), USD, 7),
        [("burn", A, None, usd(), 7, None)],
    ),
    Case(
        "issuer to issuer is a transfer with memo",
        payment(muxed(ISSUER), USD, 7),
        [("transfer", ISS, ISS, usd(), 7, MuxedInfo("text", b"hi\xff"))],
        source=muxed(ISSUER),
        memo=MEMO_TEXT,
    ),
    Case(
        "muxed destination id",
        payment(muxed(BOB, 9), XLM, 1),
        [("transfer", A, B, "native", 1, MuxedInfo("id", 9))],
    ),
    Case(
        "muxed id beats memo",
        payment(muxed(BOB, 9), XLM, 1),
        [("transfer", A, B, "native", 1, MuxedInfo("id", 9))],
        memo=MEMO_TEXT,
    ),
    Case(
        "memo hash",
        payment(muxed(BOB), XLM, 1),
        [("transfer", A, B, "native", 1, MuxedInfo("hash", b"h" * 32))],
        memo=MEMO_HASH,
    ),
    Case(
        "memo return is a hash",
        payment(muxed(BOB), XLM, 1),
        [("transfer", A, B, "native", 1, MuxedInfo("hash", b"r" * 32))],
        memo=MEMO_RETURN,
    ),
    Case(
        "muxed tx source is reduced to G",
        payment(muxed(BOB), XLM, 1),
        [("transfer", A, B, "native", 1, None)],
        source=muxed(ALICE, 77),
    ),
    Case(
        "muxed op source is reduced to G",
        payment(muxed(BOB), XLM, 1),
        [("transfer", C, B, "native", 1, None)],
        op_source=muxed(CAROL, 5),
    ),
    Case("self XLM payment", payment(muxed(ALICE), XLM, 3), [("transfer", A, A, "native", 3, None)]),
    Case(
        "strict receive through order book, V0 and pool atoms",
        strict_receive(
            muxed(CAROL, 1),
            XLM,
            USD,
            30,
            [
                order_book(BOB, x.Asset(x.AssetType.ASSET_TYPE_NATIVE), 0, XLM, 0),
                atom_v0(BOB, EUR, 10, XLM, 11),
                pool_atom(USD, 30, EUR, 10),
            ],
        ),
        [
            ("transfer", B, A, "native", 0, None),
            ("transfer", A, B, "native", 0, None),
            ("transfer", B, A, eur(), 10, None),
            ("transfer", A, B, "native", 11, None),
            ("transfer", L, A, usd(), 30, None),
            ("transfer", A, L, eur(), 10, None),
            ("transfer", A, C, usd(), 30, MuxedInfo("id", 1)),
        ],
        memo=MEMO_TEXT,
    ),
    Case(
        "strict receive final amount is op.destAmount",
        strict_receive(muxed(BOB), XLM, USD, 30, [], 29),
        [("transfer", A, B, usd(), 30, None)],
    ),
    Case(
        "strict send final amount is result.last",
        strict_send(muxed(BOB), XLM, USD, 100, 31, [pool_atom(USD, 31, XLM, 100)]),
        [
            ("transfer", L, A, usd(), 31, None),
            ("transfer", A, L, "native", 100, None),
            ("transfer", A, B, usd(), 31, None),
        ],
    ),
    Case(
        "empty path same asset is a payment",
        strict_send(muxed(BOB), USD, USD, 5, 5, []),
        [("transfer", A, B, usd(), 5, None)],
    ),
    Case(
        "issuer as path source mints its legs",
        strict_send(muxed(BOB), USD, XLM, 5, 9, [pool_atom(XLM, 9, USD, 5)]),
        [
            ("transfer", L, ISS, "native", 9, None),
            ("mint", None, L, usd(), 5, None),
            ("transfer", ISS, B, "native", 9, None),
        ],
        source=muxed(ISSUER),
    ),
    Case(
        "issuer as path destination burns the final",
        strict_send(muxed(ISSUER), XLM, USD, 5, 9, [pool_atom(USD, 9, XLM, 5)]),
        [
            ("transfer", L, A, usd(), 9, None),
            ("transfer", A, L, "native", 5, None),
            ("burn", A, None, usd(), 9, None),
        ],
    ),
    Case(
        "path payment to self",
        strict_send(muxed(ALICE), XLM, USD, 5, 9, [pool_atom(USD, 9, XLM, 5)]),
        [
            ("transfer", L, A, usd(), 9, None),
            ("transfer", A, L, "native", 5, None),
            ("transfer", A, A, usd(), 9, None),
        ],
    ),
    Case("manage sell offer without trades", offer(OT.MANAGE_SELL_OFFER, []), []),
    Case(
        "manage sell offer, zero-amount atom kept, no mux despite memo",
        offer(OT.MANAGE_SELL_OFFER, [order_book(BOB, USD, 0, XLM, 0)]),
        [("transfer", B, A, usd(), 0, None), ("transfer", A, B, "native", 0, None)],
        memo=MEMO_ID,
    ),
    Case(
        "manage buy offer with two atoms",
        offer(OT.MANAGE_BUY_OFFER, [order_book(BOB, USD, 4, XLM, 8), order_book(CAROL, USD, 1, XLM, 2)]),
        [
            ("transfer", B, A, usd(), 4, None),
            ("transfer", A, B, "native", 8, None),
            ("transfer", C, A, usd(), 1, None),
            ("transfer", A, C, "native", 2, None),
        ],
    ),
    Case(
        "offer seller is the issuer: mint and burn legs",
        offer(OT.MANAGE_SELL_OFFER, [order_book(ISSUER, USD, 4, XLM, 8)]),
        [("mint", None, A, usd(), 4, None), ("transfer", A, ISS, "native", 8, None)],
    ),
    Case(
        "passive offer result written as MANAGE_SELL_OFFER",
        offer(OT.CREATE_PASSIVE_SELL_OFFER, [order_book(BOB, USD, 4, XLM, 8)], OT.MANAGE_SELL_OFFER),
        [("transfer", B, A, usd(), 4, None), ("transfer", A, B, "native", 8, None)],
    ),
    Case(
        "passive offer result in its own arm",
        offer(OT.CREATE_PASSIVE_SELL_OFFER, [order_book(BOB, USD, 4, XLM, 8)]),
        [("transfer", B, A, usd(), 4, None), ("transfer", A, B, "native", 8, None)],
    ),
]


def flatten(ev: Event) -> tuple[Any, ...]:
    asset = ev.asset.canonical if ev.asset is not None else None
    return (
        ev.event_type,
        getattr(ev, "from_", None),
        getattr(ev, "to", None),
        asset,
        ev.amount,
        ev.meta.to_muxed_info,
    )


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_operation_events(case: Case) -> None:
    body, result = case.op
    tx = Tx(case.source, [op(body, case.op_source)], [result], [[]], memo=case.memo)
    events = op_events([tx])
    assert [flatten(e) for e in events] == case.expected
    assert all(e.meta.operation_index == 1 and e.meta.transaction_index == 1 for e in events)


def test_classic_events_name_the_sac_of_their_asset() -> None:
    from stellar_arrow.ttp.sac import sac_address
    from tests.unit.ttp.scenario import NETWORK, sac_id

    body, result = payment(muxed(BOB), USD, 7)
    (ev,) = op_events([Tx(muxed(ALICE), [op(body)], [result], [[]])])
    assert ev.asset is not None
    assert ev.meta.contract_address == sac_address(ev.asset, NETWORK.network_id)
    from stellar_arrow.xdr.strkey import contract_strkey

    assert ev.meta.contract_address == contract_strkey(sac_id(USD))


def test_op_index_is_one_based_per_operation() -> None:
    p1, r1 = payment(muxed(BOB), XLM, 1)
    p2, r2 = payment(muxed(CAROL), XLM, 2)
    tx = Tx(
        muxed(ALICE),
        [
            op(p1),
            op(
                x.OperationBody(OT.BUMP_SEQUENCE, bump_sequence_op=x.BumpSequenceOp(x.SequenceNumber(i64(9))))
            ),
            op(p2),
        ],
        [
            r1,
            op_result(
                OT.BUMP_SEQUENCE,
                bump_seq_result=x.BumpSequenceResult(x.BumpSequenceResultCode.BUMP_SEQUENCE_SUCCESS),
            ),
            r2,
        ],
        [[], [], []],
    )
    assert [(e.meta.operation_index, e.amount) for e in op_events([tx])] == [(1, 1), (3, 2)]


def test_m_address_helper_matches_muxed_strkey() -> None:
    from stellar_arrow.xdr.strkey import muxed_strkey

    assert m_address(BOB, 9) == muxed_strkey(BOB.raw_public_key(), 9)
