"""Contract (SAC and SEP-41) events in meta v3 and v4, and unified mode (spec §3)."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from stellar_sdk import xdr as x

from stellar_arrow.errors import EventDerivationError
from stellar_arrow.ttp import MuxedInfo, compare_modes, events_from_ledger
from stellar_arrow.xdr.strkey import contract_strkey
from tests.unit.ttp.scenario import (
    ALICE,
    BOB,
    ISSUER,
    NETWORK,
    Tx,
    asset,
    asset_topic,
    balance,
    contract_event,
    decoded,
    i64,
    muxed,
    op,
    op_events,
    op_result,
    sac_id,
    sc_account,
    sc_contract,
    sc_i128,
    sc_map,
    sc_str,
    sym,
)
from tests.unit.ttp.test_trades import flatten

OT = x.OperationType
USD = asset("USD", ISSUER)
XLM = asset()
SAC = sac_id(USD)
SAC_C = contract_strkey(SAC)
TOKEN = hashlib.sha256(b"custom token").digest()
TOKEN_C = contract_strkey(TOKEN)
OTHER = hashlib.sha256(b"some contract").digest()
A, B, ISS = ALICE.public_key, BOB.public_key, ISSUER.public_key
USD_C = f"USD:{ISS}"
MEMO_ID = x.Memo(x.MemoType.MEMO_ID, id=x.Uint64(42))


def invoke() -> tuple[x.OperationBody, x.OperationResult]:
    args = x.InvokeContractArgs(sc_contract(SAC).address, x.SCSymbol(b"transfer"), [])
    body = x.OperationBody(
        OT.INVOKE_HOST_FUNCTION,
        invoke_host_function_op=x.InvokeHostFunctionOp(
            x.HostFunction(x.HostFunctionType.HOST_FUNCTION_TYPE_INVOKE_CONTRACT, invoke_contract=args), []
        ),
    )
    return body, op_result(
        OT.INVOKE_HOST_FUNCTION,
        invoke_host_function_result=x.InvokeHostFunctionResult(
            x.InvokeHostFunctionResultCode.INVOKE_HOST_FUNCTION_SUCCESS, success=x.Hash(bytes(32))
        ),
    )


def run(events: list[x.ContractEvent], version: int, memo: x.Memo | None = None) -> list[tuple[Any, ...]]:
    body, result = invoke()
    tx = Tx(
        muxed(ALICE),
        [op(body)],
        [result],
        [[]],
        soroban=True,
        meta_version=version,
        op_events=[events],
        memo=memo or x.Memo(x.MemoType.MEMO_NONE),
    )
    evs = op_events([tx], protocol=22 if version == 3 else 23)
    return [(*flatten(e), e.meta.contract_address, e.meta.operation_index) for e in evs]


def ev(
    cid: bytes | None, fn: str, *topics: x.SCVal, data: x.SCVal | None = None, **kw: Any
) -> x.ContractEvent:
    return contract_event(cid, [sym(fn), *topics], data if data is not None else sc_i128(5), **kw)


AT = asset_topic(USD)

V3_CASES = [
    (
        "sac transfer",
        ev(SAC, "transfer", sc_account(ALICE), sc_account(BOB), AT),
        ("transfer", A, B, USD_C, 5, None, SAC_C, 1),
    ),
    (
        "sac transfer from issuer is a mint",
        ev(SAC, "transfer", sc_account(ISSUER), sc_account(BOB), AT),
        ("mint", None, B, USD_C, 5, None, SAC_C, 1),
    ),
    (
        "sac transfer to issuer is a burn",
        ev(SAC, "transfer", sc_account(ALICE), sc_account(ISSUER), AT),
        ("burn", A, None, USD_C, 5, None, SAC_C, 1),
    ),
    (
        "sac transfer to contract",
        ev(SAC, "transfer", sc_account(ALICE), sc_contract(OTHER), AT),
        ("transfer", A, contract_strkey(OTHER), USD_C, 5, None, SAC_C, 1),
    ),
    (
        "sac mint drops the admin",
        ev(SAC, "mint", sc_account(ISSUER), sc_account(BOB), AT),
        ("mint", None, B, USD_C, 5, None, SAC_C, 1),
    ),
    (
        "sac clawback drops the admin",
        ev(SAC, "clawback", sc_account(ISSUER), sc_account(BOB), AT),
        ("clawback", B, None, USD_C, 5, None, SAC_C, 1),
    ),
    ("sac burn", ev(SAC, "burn", sc_account(BOB), AT), ("burn", B, None, USD_C, 5, None, SAC_C, 1)),
    (
        "custom token",
        ev(TOKEN, "transfer", sc_account(ALICE), sc_account(BOB)),
        ("transfer", A, B, None, 5, None, TOKEN_C, 1),
    ),
    (
        "asset topic on a non-SAC contract",
        ev(TOKEN, "transfer", sc_account(ALICE), sc_account(BOB), AT),
        ("transfer", A, B, None, 5, None, TOKEN_C, 1),
    ),
    (
        "wrong topic count for a SAC",
        ev(SAC, "burn", sc_account(BOB), AT, AT),
        ("burn", B, None, None, 5, None, SAC_C, 1),
    ),
    (
        "non-string last topic",
        ev(SAC, "transfer", sc_account(ALICE), sc_account(BOB), sym("USD")),
        ("transfer", A, B, None, 5, None, SAC_C, 1),
    ),
    (
        "i128 above int64",
        ev(TOKEN, "mint", sc_account(ISSUER), sc_account(BOB), data=sc_i128(2**100 + 3)),
        ("mint", None, B, None, 2**100 + 3, None, TOKEN_C, 1),
    ),
    (
        "negative i128",
        ev(TOKEN, "burn", sc_account(BOB), data=sc_i128(-7)),
        ("burn", B, None, None, -7, None, TOKEN_C, 1),
    ),
]


@pytest.mark.parametrize(("event", "expected"), [c[1:] for c in V3_CASES], ids=[c[0] for c in V3_CASES])
def test_meta_v3_events(event: x.ContractEvent, expected: tuple[Any, ...]) -> None:
    assert run([event], 3, memo=MEMO_ID) == [expected]


MALFORMED = [
    (
        "system event",
        ev(TOKEN, "transfer", sc_account(ALICE), sc_account(BOB), kind=x.ContractEventType.SYSTEM),
    ),
    (
        "diagnostic event",
        ev(TOKEN, "transfer", sc_account(ALICE), sc_account(BOB), kind=x.ContractEventType.DIAGNOSTIC),
    ),
    ("no contract id", ev(None, "transfer", sc_account(ALICE), sc_account(BOB))),
    ("one topic", contract_event(TOKEN, [sym("burn")], sc_i128(1))),
    (
        "non-symbol fn",
        contract_event(TOKEN, [sc_str("transfer"), sc_account(ALICE), sc_account(BOB)], sc_i128(1)),
    ),
    (
        "non-i128 amount",
        ev(TOKEN, "burn", sc_account(BOB), data=x.SCVal(x.SCValType.SCV_U64, u64=x.Uint64(3))),
    ),
    ("too few transfer topics", ev(TOKEN, "transfer", sc_account(ALICE))),
    ("non-address party", ev(TOKEN, "transfer", sc_account(ALICE), sym("bob"))),
    ("unsupported fn", ev(TOKEN, "approve", sc_account(ALICE), sc_account(BOB))),
    ("set_authorized", ev(SAC, "set_authorized", sc_account(BOB), AT)),
]


@pytest.mark.parametrize("version", [3, 4])
@pytest.mark.parametrize("event", [c[1] for c in MALFORMED], ids=[c[0] for c in MALFORMED])
def test_malformed_events_are_skipped(event: x.ContractEvent, version: int) -> None:
    good = ev(TOKEN, "burn", sc_account(BOB))
    assert run([event, good], version) == [("burn", B, None, None, 5, None, TOKEN_C, 1)]


def amount_map(*entries: tuple[x.SCVal, x.SCVal]) -> x.SCVal:
    return sc_map(list(entries))


MUX_U64 = (sym("to_muxed_id"), x.SCVal(x.SCValType.SCV_U64, u64=x.Uint64(2**64 - 1)))
AMOUNT = (sym("amount"), sc_i128(9))

V4_CASES = [
    (
        "sac transfer",
        ev(SAC, "transfer", sc_account(ALICE), sc_account(BOB), AT),
        ("transfer", A, B, USD_C, 5, None, SAC_C, 1),
    ),
    ("sac mint", ev(SAC, "mint", sc_account(BOB), AT), ("mint", None, B, USD_C, 5, None, SAC_C, 1)),
    (
        "sac clawback",
        ev(SAC, "clawback", sc_account(BOB), AT),
        ("clawback", B, None, USD_C, 5, None, SAC_C, 1),
    ),
    ("sac burn", ev(SAC, "burn", sc_account(BOB), AT), ("burn", B, None, USD_C, 5, None, SAC_C, 1)),
    (
        "map with u64 muxed id",
        ev(SAC, "transfer", sc_account(ALICE), sc_account(BOB), AT, data=amount_map(AMOUNT, MUX_U64)),
        ("transfer", A, B, USD_C, 9, MuxedInfo("id", 2**64 - 1), SAC_C, 1),
    ),
    (
        "map with bytes hash",
        ev(
            TOKEN,
            "mint",
            sc_account(BOB),
            data=amount_map(
                (sym("to_muxed_id"), x.SCVal(x.SCValType.SCV_BYTES, bytes=x.SCBytes(b"\x01\x02"))), AMOUNT
            ),
        ),
        ("mint", None, B, None, 9, MuxedInfo("hash", b"\x01\x02" + bytes(30)), TOKEN_C, 1),
    ),
    (
        "map with text",
        ev(
            TOKEN,
            "transfer",
            sc_account(ALICE),
            sc_account(BOB),
            data=amount_map(AMOUNT, (sym("to_muxed_id"), sc_str(b"memo\xff"))),
        ),
        ("transfer", A, B, None, 9, MuxedInfo("text", b"memo\xff"), TOKEN_C, 1),
    ),
    (
        "map extra keys ignored",
        ev(TOKEN, "burn", sc_account(BOB), data=amount_map(AMOUNT, (sym("x"), sym("y")))),
        ("burn", B, None, None, 9, None, TOKEN_C, 1),
    ),
    (
        "v3-shaped mint on v4 keeps the admin as to, no asset",
        ev(SAC, "mint", sc_account(ISSUER), sc_account(BOB), AT),
        ("mint", None, ISS, None, 5, None, SAC_C, 1),
    ),
    (
        "v4 sac transfer from issuer stays a transfer",
        ev(SAC, "transfer", sc_account(ISSUER), sc_account(BOB), AT),
        ("transfer", ISS, B, USD_C, 5, None, SAC_C, 1),
    ),
]


@pytest.mark.parametrize(("event", "expected"), [c[1:] for c in V4_CASES], ids=[c[0] for c in V4_CASES])
def test_meta_v4_events_ignore_the_tx_memo(event: x.ContractEvent, expected: tuple[Any, ...]) -> None:
    assert run([event], 4, memo=MEMO_ID) == [expected]


V4_REJECTED = [
    ("void muxed id", amount_map(AMOUNT, (sym("to_muxed_id"), x.SCVal(x.SCValType.SCV_VOID)))),
    ("map without amount", amount_map(MUX_U64)),
    ("non-symbol key", amount_map(AMOUNT, (sc_str("to_muxed_id"), sc_i128(1)))),
    ("non-i128 amount in map", amount_map((sym("amount"), x.SCVal(x.SCValType.SCV_U64, u64=x.Uint64(3))))),
]


@pytest.mark.parametrize("data", [c[1] for c in V4_REJECTED], ids=[c[0] for c in V4_REJECTED])
def test_v4_map_data_rejections(data: x.SCVal) -> None:
    assert run([ev(SAC, "transfer", sc_account(ALICE), sc_account(BOB), AT, data=data)], 4) == []


def test_map_data_is_not_accepted_in_meta_v3() -> None:
    assert (
        run([ev(SAC, "transfer", sc_account(ALICE), sc_account(BOB), AT, data=amount_map(AMOUNT))], 3) == []
    )


# ---- unified mode --------------------------------------------------------------------------------

XLM_SAC = sac_id(XLM)


def fee_event(
    who: Any,
    amount: int,
    cid: bytes = XLM_SAC,
    extra: list[x.SCVal] | None = None,
    data: x.SCVal | None = None,
) -> x.TransactionEvent:
    event = contract_event(cid, [sym("fee"), sc_account(who), *(extra or [])], data or sc_i128(amount))
    return x.TransactionEvent(x.TransactionEventStage.TRANSACTION_EVENT_STAGE_BEFORE_ALL_TXS, event)


def payment_tx(
    tx_events: list[x.TransactionEvent], op_evs: list[x.ContractEvent], meta_version: int = 4
) -> Tx:
    body = x.OperationBody(OT.PAYMENT, payment_op=x.PaymentOp(muxed(BOB), USD, i64(5)))
    res = op_result(OT.PAYMENT, payment_result=x.PaymentResult(x.PaymentResultCode.PAYMENT_SUCCESS))
    return Tx(
        muxed(ALICE),
        [op(body)],
        [res],
        [balance(ALICE, 10, 5, USD) + balance(BOB, 0, 5, USD)],
        fee_changes=balance(ALICE, 1000, 900),
        meta_version=meta_version,
        tx_events=tx_events,
        op_events=[op_evs],
        fee_charged=100,
    )


def unified(t: Tx) -> list[tuple[Any, ...]]:
    evs = events_from_ledger(decoded([t], protocol=23), NETWORK, "unified")
    return [(*flatten(e), e.meta.operation_index) for e in evs]


def test_unified_reads_core_fee_and_operation_events() -> None:
    t = payment_tx(
        [
            fee_event(ALICE, 100),
            x.TransactionEvent(
                x.TransactionEventStage.TRANSACTION_EVENT_STAGE_AFTER_TX,
                ev(TOKEN, "transfer", sc_account(ALICE), sc_account(BOB)),
            ),
        ],
        [
            ev(SAC, "transfer", sc_account(ALICE), sc_account(BOB), AT),
            ev(SAC, "set_authorized", sc_account(BOB), AT),
        ],
    )
    assert unified(t) == [("fee", A, None, "native", 100, None, None), ("transfer", A, B, USD_C, 5, None, 1)]
    n, differences = compare_modes(decoded([t], protocol=23), NETWORK)
    assert (n, differences) == (1, [])


def test_mode_comparison_reports_a_differing_event() -> None:
    t = payment_tx(
        [fee_event(ALICE, 100)],
        [ev(SAC, "transfer", sc_account(ALICE), sc_account(BOB), AT, data=sc_i128(6))],
    )
    n, differences = compare_modes(decoded([t], protocol=23), NETWORK)
    assert n == 1 and len(differences) == 1
    d = differences[0]
    assert d.operation_index == 1 and d.only_derived[0][4] == 5 and d.only_unified[0][4] == 6
    assert d.tx_hash == t.tx_hash().hex()


@pytest.mark.parametrize(
    ("tx_events", "message"),
    [
        ([], "found 0"),
        ([fee_event(ALICE, 1), fee_event(ALICE, -1), fee_event(ALICE, 1)], "found 3"),
        ([fee_event(ALICE, 100, cid=SAC)], "malformed fee event"),
        ([fee_event(ALICE, 100, extra=[sym("x")])], "malformed fee event"),
        ([fee_event(ALICE, 100, data=x.SCVal(x.SCValType.SCV_U64, u64=x.Uint64(1)))], "malformed fee event"),
    ],
    ids=["no fee", "three fees", "wrong contract", "three topics", "u64 amount"],
)
def test_unified_fee_errors(tx_events: list[x.TransactionEvent], message: str) -> None:
    with pytest.raises(EventDerivationError, match=message):
        unified(payment_tx(tx_events, []))


def test_unified_needs_meta_v4() -> None:
    t = payment_tx([], [], meta_version=2)
    with pytest.raises(EventDerivationError, match="needs TransactionMetaV4"):
        events_from_ledger(decoded([t], protocol=22), NETWORK, "unified")
