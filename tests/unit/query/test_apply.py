"""One filter, two appliers: pyarrow compute and the DuckDB predicate keep exactly the same rows."""

from __future__ import annotations

import functools
from datetime import timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.errors import ConfigError, RequestError
from stellar_arrow.query import (
    DEFAULT_LARGE_AMOUNT,
    PAYMENT_OPERATIONS,
    TransferFilter,
    configure_named_filters,
    filter_from_query,
    filter_mask,
    filter_rows,
    sql_where,
)
from stellar_arrow.ttp import (
    NATIVE,
    TOKEN_TRANSFERS_SCHEMA,
    Asset,
    Burn,
    EventMeta,
    Fee,
    Mint,
    MuxedInfo,
    Transfer,
    events_to_batch,
)
from stellar_arrow.xdr.strkey import account_strkey, contract_strkey, muxed_strkey
from tests.unit.sink.realdata import FIRST, whole

G1, G2, G3 = (account_strkey(bytes([i]) * 32) for i in (1, 2, 3))
CT = contract_strkey(bytes(32))
USD, USD2 = Asset("USD", G3), Asset("USD", G1)


def meta(i: int, mux: MuxedInfo | None = None) -> EventMeta:
    return EventMeta(10, 0, "aa", 1, 1, CT, mux, i)


EVENTS = [
    Fee(meta(0), G1, 100),
    Transfer(meta(1, MuxedInfo("id", 7)), G1, G2, NATIVE, 10_000_000),  # 1 XLM
    Transfer(meta(2), G2, G1, USD, 10_000_001),
    Mint(meta(3), G2, USD2, 2**100),
    Burn(meta(4), G1, None, 5),
    Transfer(meta(5), G1, G2, None, -3),
]
BATCH = events_to_batch(EVENTS)


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (TransferFilter(), [0, 1, 2, 3, 4, 5]),
        (TransferFilter(event_types=("transfer", "mint")), [1, 2, 3, 5]),
        (TransferFilter(assets=("native",)), [0, 1]),
        (TransferFilter(asset_codes=("USD",)), [2, 3]),
        (TransferFilter(assets=(USD.qualified,)), [2]),
        (TransferFilter(assets=(USD.qualified, "native")), [0, 1, 2]),
        (TransferFilter(assets=(CT,)), [0, 1, 2, 3, 4, 5]),  # every event of the sample carries CT
        (TransferFilter(accounts=(G2,)), [1, 2, 3, 5]),
        (TransferFilter(accounts=(muxed_strkey(bytes([2]) * 32, 7),)), [1]),  # matched on to_muxed
        (TransferFilter(min_amount=10_000_000), [1, 2, 3]),
        (TransferFilter(min_amount=10_000_001), [2, 3]),
        (TransferFilter(max_amount=10_000_000), [0, 1, 4, 5]),
        (TransferFilter(max_amount=5), [4, 5]),  # -3 (a refund) is below every bound
        (TransferFilter(min_amount=2**100), [3]),
        (TransferFilter(min_amount=2**100, max_amount=2**100), [3]),
        (TransferFilter(event_types=("transfer",), accounts=(G1,), min_amount=10_000_000), [1, 2]),
    ],
)
def test_filters_on_synthetic_events(f: TransferFilter, expected: list[int]) -> None:
    assert filter_rows(BATCH, f).column("event_index").to_pylist() == expected
    assert duck(pa.Table.from_batches([BATCH]), f) == [(10, i) for i in expected]


def test_no_filter_keeps_the_rows_as_they_are() -> None:
    assert filter_rows(BATCH, None) is BATCH
    assert filter_rows(BATCH, TransferFilter()) is BATCH
    assert filter_mask(BATCH, TransferFilter()) is None
    table = pa.Table.from_batches([BATCH, BATCH])
    assert filter_rows(table, TransferFilter(event_types=("fee",))).num_rows == 2


def test_a_condition_on_a_missing_column_names_the_field() -> None:
    f = TransferFilter(operation_types=("payment",))
    older = BATCH.drop_columns(["operation_type"])  # rows of schema version 2 have no operation_type
    with pytest.raises(RequestError) as info:
        filter_rows(older, f)
    assert info.value.field == "operation_types"
    index = BATCH.schema.get_field_index("operation_type")
    typed = BATCH.set_column(
        index, "operation_type", pa.array(["payment", "payment", "x", None, "x", "x"], pa.string())
    )
    assert filter_rows(typed, f).column("event_index").to_pylist() == [0, 1]
    assert duck(pa.Table.from_batches([typed]), f) == [(10, 0), (10, 1)]


def duck(rows: pa.Table, f: TransferFilter) -> list[tuple[int, int]]:
    """The (ledger, event_index) keys DuckDB keeps with the predicate of ``f`` (values only as parameters)."""
    where, params = sql_where(f)
    for value in params:
        assert str(value) not in where  # never pasted into the text
    with duckdb.connect(":memory:") as db:
        db.execute("SET TimeZone = 'UTC'")
        db.register("rows", rows)
        sql = f"SELECT ledger_sequence, event_index FROM rows {where} ORDER BY ledger_sequence, event_index"
        return [(int(a), int(b)) for a, b in db.execute(sql, params).fetchall()]


@functools.cache
def real() -> pa.Table:
    return whole("token_transfers", FIRST, FIRST + 7)


def real_filters() -> list[dict[str, str]]:
    rows = real().to_pylist()
    usdc = next(r for r in rows if r["asset_code"] == "USDC")
    contract = next(r["contract_id"] for r in rows if r["asset"] is None)
    busy = max(pc.value_counts(real()["to"].drop_null()).to_pylist(), key=lambda c: c["counts"])["values"]
    amounts = sorted(int(r["amount_raw"]) for r in rows if int(r["amount_raw"]) >= 0)
    median = amounts[len(amounts) // 2]
    text = f"{median // 10**7}.{median % 10**7:07d}"
    middle = rows[len(rows) // 2]
    closed = middle["closed_at"]
    return [
        {"event_type": "mint,burn"},
        {"asset": "native", "event_type": "transfer"},
        {"asset": f"USDC:{usdc['asset_issuer']}"},
        {"asset": f"{contract},native"},
        {"asset_code": "USDC"},
        {"account": busy},
        {"account": busy, "min_amount": text},
        {"min_amount": text},
        {"max_amount": text},
        {"min_amount": text, "max_amount": text},
        {"from_ledger": str(FIRST + 2), "to_ledger": str(FIRST + 4)},
        {"start_time": closed.strftime("%Y-%m-%dT%H:%M:%SZ")},
        {"end_time": closed.strftime("%Y-%m-%dT%H:%M:%SZ")},
        {
            "start_time": str(int(closed.timestamp())),
            "end_time": str(int((closed + timedelta(seconds=6)).timestamp())),
        },
        {"transaction_hash": middle["transaction_hash"]},
        {"event_type": "fee", "account": middle["from"] or busy, "to_ledger": str(FIRST + 5)},
        {"operation_type": "payment,path_payment_strict_receive"},
        {"filter": "successful_payments"},
        {"filter": "large_amounts", "event_type": "transfer"},
        {"filter": "successful_payments,large_amounts", "asset": "native"},
        {"where": f"amount_raw >= {median} AND operation_type <> 'payment'", "asset_code": "USDC"},
        {"where": "asset LIKE 'credit_alphanum12:%' OR to_muxed IS NOT NULL", "filter": "large_amounts"},
    ]


@pytest.mark.parametrize("index", range(22))
def test_arrow_and_duckdb_agree_on_real_rows(index: int) -> None:
    params = real_filters()[index]
    f = filter_from_query(params, schema=TOKEN_TRANSFERS_SCHEMA)
    kept = filter_rows(real(), f)
    keys = list(zip(kept["ledger_sequence"].to_pylist(), kept["event_index"].to_pylist(), strict=True))
    assert keys, params  # every case selects something real ...
    assert len(keys) < real().num_rows or params == {}  # ... and not everything
    assert duck(real(), f) == keys
    batched = [filter_rows(b, f) for b in real().to_batches()]
    assert sum(b.num_rows for b in batched) == len(keys)


def test_named_filters_mean_what_the_docs_say() -> None:
    rows = real().to_pylist()
    payments = filter_rows(real(), TransferFilter(named=("successful_payments",))).to_pylist()
    assert payments and payments == [
        r for r in rows if r["event_type"] == "transfer" and r["operation_type"] in PAYMENT_OPERATIONS
    ]
    large = filter_rows(real(), TransferFilter(named=("large_amounts",))).to_pylist()
    assert large == [r for r in rows if int(r["amount_raw"]) >= DEFAULT_LARGE_AMOUNT]
    try:  # the threshold is the settings' (load_settings configures the process)
        load_settings(filters={"large_amount_threshold": 10**10})
        larger = filter_rows(real(), TransferFilter(named=("large_amounts",)))
        assert 0 < larger.num_rows < len(large)
        assert larger.to_pylist() == [r for r in rows if int(r["amount_raw"]) >= 10**10]
        assert duck(real(), TransferFilter(named=("large_amounts",))) == [
            (r["ledger_sequence"], r["event_index"]) for r in larger.to_pylist()
        ]
    finally:
        configure_named_filters()
    with pytest.raises(ConfigError, match=r"filters\.large_amount_threshold"):
        load_settings(filters={"large_amount_threshold": -1})


def test_fee_events_have_no_operation_type_and_others_have_one() -> None:
    kinds = pc.value_counts(real()["operation_type"]).to_pylist()
    assert (
        sum(k["counts"] for k in kinds if k["values"] is None)
        == pc.sum(pc.equal(real()["event_type"], "fee")).as_py()
    )
    assert {k["values"] for k in kinds} >= {"payment", "path_payment_strict_send", "create_claimable_balance"}


def test_only_fee_events_come_from_failed_transactions() -> None:
    """Why ``successful_payments`` needs no status column: every non-fee event has a successful operation."""
    operations = whole("operations", FIRST, FIRST + 7)
    assert pc.sum(pc.invert(operations["successful"])).as_py() > 0  # failed transactions are in the sample
    with duckdb.connect() as db:
        db.register("tt", real())
        db.register("ops", operations)
        rows = db.sql(
            "SELECT o.successful, t.event_type = 'fee' AS fee, count(*) FROM tt t "
            "LEFT JOIN ops o USING (ledger_sequence, transaction_index, operation_index) GROUP BY ALL"
        ).fetchall()
    assert {(ok, fee) for ok, fee, _ in rows} == {(True, False), (None, True)}
