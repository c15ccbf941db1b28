"""Filter expressions: accepted language, refusals with positions, and pyarrow == DuckDB on real events."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stellar_arrow.ledger import PUBNET
from stellar_arrow.query import MAX_WHERE_LENGTH, ExpressionError, compile_where
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.ttp import TOKEN_TRANSFERS_SCHEMA, events_from_ledger, events_to_batch
from stellar_arrow.xdr import decode_ledger_close_meta

LAKE = Path(__file__).resolve().parents[3] / "data" / "lakes" / "pubnet-p26"
SCHEMA = TOKEN_TRANSFERS_SCHEMA


def _events_table() -> pa.Table:
    source = DataLakeLedgerSource(str(LAKE), network_passphrase=PUBNET.passphrase)
    batches = [
        events_to_batch(
            events_from_ledger(decode_ledger_close_meta(lcm), PUBNET)
        )  # Network after the core redesign
        for _, lcm in source.ledgers(63092982, 63093001)
    ]
    return pa.Table.from_batches(batches, schema=SCHEMA)


TABLE = _events_table()
ROWS = TABLE.to_pylist()
ROW_IDS = TABLE.append_column("row_id", pa.array(range(TABLE.num_rows), pa.int64()))


def _arrow_rows(text: str) -> list[int]:
    where = compile_where(text, SCHEMA)
    return sorted(ROW_IDS.filter(where.arrow).column("row_id").to_pylist())


_DUCKDB = duckdb.connect()
_DUCKDB.register("events", ROW_IDS)


def _duckdb_rows(text: str) -> list[int]:
    where = compile_where(text, SCHEMA)
    result = _DUCKDB.execute(f"SELECT row_id FROM events WHERE {where.sql}", list(where.params)).fetchall()
    return sorted(r[0] for r in result)


def test_the_sample_table_is_big_enough_to_mean_something() -> None:
    assert TABLE.num_rows > 1000
    assert {r["event_type"] for r in ROWS} >= {"transfer", "fee", "mint", "burn"}, "all kinds present"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("event_type = 'mint'", lambda r: r["event_type"] == "mint"),
        ("event_type <> 'fee' AND amount >= 100", lambda r: r["event_type"] != "fee" and r["amount"] >= 100),
        ("amount_raw < 0", lambda r: int(r["amount_raw"]) < 0),
        ("amount_raw >= 10000000", lambda r: int(r["amount_raw"]) >= 10_000_000),
        ("asset LIKE 'USDC:%'", lambda r: r["asset"] is not None and r["asset"].startswith("USDC:")),
        ("asset ILIKE 'usdc:%'", lambda r: r["asset"] is not None and r["asset"].upper().startswith("USDC:")),
        ("operation_index IS NULL", lambda r: r["operation_index"] is None),
        ("NOT (operation_index IS NULL)", lambda r: r["operation_index"] is not None),
        (
            "ledger_sequence BETWEEN 63092983 AND 63092984",
            lambda r: 63092983 <= r["ledger_sequence"] <= 63092984,
        ),
        ("event_type IN ('burn', 'mint')", lambda r: r["event_type"] in ("burn", "mint")),
        ("NOT event_type IN ('fee', 'transfer')", lambda r: r["event_type"] not in ("fee", "transfer")),
        ("63092985 < ledger_sequence", lambda r: r["ledger_sequence"] > 63092985),
        (
            "amount > 0.5 OR event_type = 'fee'",
            lambda r: r["event_type"] == "fee" or r["amount"] > Decimal("0.5"),
        ),
        ("transaction_index = operation_index", lambda r: r["operation_index"] == r["transaction_index"]),
    ],
)
def test_accepted_expressions_select_exactly_the_matching_rows(text: str, expected: object) -> None:
    want = [i for i, r in enumerate(ROWS) if _holds(expected, r)]
    assert _arrow_rows(text) == want
    assert _duckdb_rows(text) == want


def _holds(predicate: object, row: dict[str, object]) -> bool:
    try:
        return bool(predicate(row))  # type: ignore[operator]
    except TypeError:  # a comparison with None: SQL's NULL is not true
        return False


def test_timestamps_compare_as_instants() -> None:
    first = min(r["closed_at"] for r in ROWS)
    assert isinstance(first, dt.datetime)
    text = f"closed_at > '{first.isoformat()}'"
    want = [i for i, r in enumerate(ROWS) if r["closed_at"] > first]
    assert 0 < len(want) < len(ROWS)
    assert _arrow_rows(text) == want == _duckdb_rows(text)


@pytest.mark.parametrize(
    ("text", "message", "position"),
    [
        ("upper(asset) = 'X'", "function calls are not allowed", 0),
        ("read_csv('/etc/passwd') IS NULL", "function calls are not allowed", 0),
        ("foo = 1", "unknown column 'foo'", 0),
        ("event_type = 'x' AND nope > 2", "unknown column 'nope'", 21),
        ("amount = 'x'", "a string does not compare", 9),
        ("event_type = 3", "a number does not compare", 13),
        ("ledger_sequence = -1", "outside the range", 19),
        ("ledger_sequence = 4294967296", "outside the range", 18),
        ("amount = 1e5", "not an exact decimal", 9),
        ("amount > 1.123456789", "more than 7 decimal places", 9),
        ("ledger_sequence = 1.5", "holds integers", 18),
        ("amount_raw > 170141183460469231731687303715884105728", "outside the range", 13),
        ("(SELECT 1) = 1", "subqueries are not allowed", None),
        ("event_type IN (SELECT 'mint')", "subqueries are not allowed", None),
        ("event_type = 'a'; DROP TABLE x", "';' is not allowed", 16),
        ("event_type = 'a' -- and more", "comments are not allowed", 17),
        ("/* hi */ event_type = 'a'", "comments are not allowed", 0),
        ("amount_raw + 1 > 2", "operator ADD is not allowed", 0),
        ("asset = NULL", "IS NULL", 8),
        ("to_muxed_memo = 'x'", "cannot be compared", 0),
        ("amount LIKE '1%'", "LIKE needs a string column", 0),
        ("asset LIKE 'a\\%'", "backslashes", None),
        ("CAST(amount AS INT) = 1", "not allowed", 0),
        ("x ==", "cannot parse", None),
        ("", "empty", 0),
        ("   ", "empty", 0),
        ("closed_at > 'yesterday'", "ISO-8601", 12),
        ("1 = 1", "at least one column", None),
        ("ledger_sequence", "not boolean", 0),
        ("t.ledger_sequence = 1", "not allowed", None),
    ],
)
def test_refusals_name_the_reason_and_the_position(text: str, message: str, position: int | None) -> None:
    with pytest.raises(ExpressionError) as caught:
        compile_where(text, SCHEMA, field="where")
    assert message in str(caught.value)
    assert caught.value.field == "where"
    if position is not None:
        assert caught.value.position == position, str(caught.value)


def test_length_and_depth_are_bounded() -> None:
    with pytest.raises(ExpressionError, match="longer than"):
        compile_where("event_type = 'x' OR " * 400 + "event_type = 'y'", SCHEMA)
    with pytest.raises(ExpressionError, match="nested"):
        compile_where("(" * 200 + "event_type = 'x'" + ")" * 200, SCHEMA)
    with pytest.raises(ExpressionError, match="NUL"):
        compile_where("event_type = 'a\x00'", SCHEMA)
    assert len("x" * MAX_WHERE_LENGTH) == MAX_WHERE_LENGTH


def test_values_are_parameters_never_pasted_into_sql() -> None:
    where = compile_where("asset = 'x'' OR 1=1 --'", SCHEMA)
    assert where.sql == '"asset" = ?'
    assert where.params == ("x' OR 1=1 --",)
    assert _duckdb_rows("asset = 'x'' OR 1=1 --'") == []


# --- properties ---------------------------------------------------------------------------------------


def _values(column: str) -> list[object]:
    return [r[column] for r in ROWS if r[column] is not None]


def _decimal_literal(value: Decimal) -> str:
    return format(value, "f")


_STRING_COLUMNS = ("event_type", "asset", "from", "to", "asset_code", "contract_id")
_OPS = ("=", "<>", "<", "<=", ">", ">=")


@st.composite
def _leaf(draw: st.DrawFn) -> str:
    kind = draw(st.sampled_from(["string", "int", "amount", "raw", "null", "like", "in", "between"]))
    op = draw(st.sampled_from(_OPS))
    if kind == "string":
        column = draw(st.sampled_from(_STRING_COLUMNS))
        value = draw(st.sampled_from(_values(column)) | st.text("ABCGXYZ:", max_size=6))
        return f'"{column}" {op} ' + "'" + str(value).replace("'", "''") + "'"
    if kind == "int":
        column = draw(
            st.sampled_from(["ledger_sequence", "transaction_index", "operation_index", "event_index"])
        )
        value = draw(st.sampled_from(_values(column)) | st.integers(0, 2**32 - 1))
        return f"{column} {op} {value}"
    if kind == "amount":
        value = draw(
            st.sampled_from(_values("amount"))
            | st.decimals(
                min_value=-(10**6), max_value=10**9, places=7, allow_nan=False, allow_infinity=False
            )
        )
        literal = _decimal_literal(abs(value))
        return f"amount {op} {'-' if value < 0 else ''}{literal}"
    if kind == "raw":
        value = draw(
            st.sampled_from([int(v) for v in _values("amount_raw")]) | st.integers(-(2**100), 2**100)
        )
        return f"amount_raw {op} {value}"
    if kind == "null":
        column = draw(st.sampled_from(["operation_index", "asset", "from", "to", "to_muxed_id", "amount"]))
        return f'"{column}" IS {draw(st.sampled_from(["", "NOT "]))}NULL'
    if kind == "like":
        column = draw(st.sampled_from(_STRING_COLUMNS))
        value = str(draw(st.sampled_from(_values(column))))
        cut = draw(st.integers(0, len(value)))
        pattern = value[:cut].replace("%", "").replace("_", "") + draw(st.sampled_from(["%", "_%", ""]))
        return f"\"{column}\" {draw(st.sampled_from(['LIKE', 'NOT LIKE', 'ILIKE']))} '{pattern}'"
    if kind == "in":
        column = draw(st.sampled_from(["event_type", "asset", "ledger_sequence"]))
        values = draw(st.lists(st.sampled_from(_values(column)), min_size=1, max_size=4))
        items = ", ".join(f"'{v}'" if isinstance(v, str) else str(v) for v in values)
        return f"{column} {draw(st.sampled_from(['IN', 'NOT IN']))} ({items})"
    low, high = sorted(draw(st.lists(st.sampled_from(_values("ledger_sequence")), min_size=2, max_size=2)))
    return f"ledger_sequence BETWEEN {low} AND {high}"


_EXPRESSIONS = st.recursive(
    _leaf(),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["AND", "OR"]), inner).map(lambda t: f"({t[0]} {t[1]} {t[2]})"),
        inner.map(lambda e: f"NOT ({e})"),
    ),
    max_leaves=6,
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_EXPRESSIONS)
def test_random_valid_expressions_give_the_same_rows_in_pyarrow_and_duckdb(text: str) -> None:
    assert _arrow_rows(text) == _duckdb_rows(text)


_FRAGMENTS = st.sampled_from(
    [
        "amount",
        "event_type",
        "asset",
        "ledger_sequence",
        "foo",
        "=",
        "<",
        ">=",
        "AND",
        "OR",
        "NOT",
        "IN",
        "(",
        ")",
        ",",
        "'mint'",
        "1",
        "-",
        "1.5",
        "1e9",
        "NULL",
        "IS",
        "LIKE",
        "BETWEEN",
        "SELECT",
        "*",
        "+",
        "read_csv('x')",
        ";",
        "--",
        "/*",
        '"',
        "'",
        "²",
        "CAST",
        "::",
        "TRUE",
        "?",
        "$1",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(_FRAGMENTS, min_size=1, max_size=12).map(" ".join) | st.text(max_size=40))
def test_random_text_is_either_accepted_or_refused_with_an_expression_error(text: str) -> None:
    try:
        where = compile_where(text, SCHEMA)
    except ExpressionError as exc:
        assert 0 <= exc.position <= max(len(text), MAX_WHERE_LENGTH)
        return
    ROW_IDS.filter(where.arrow)  # an accepted expression also runs
    _duckdb_rows(text)
