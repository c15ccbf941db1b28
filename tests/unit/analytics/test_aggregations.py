"""Aggregations on DuckDB over real rows with amounts near i128: exact past 10^38, a 400 past 2^127."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import duckdb
import pyarrow as pa
import pytest

from stellar_arrow.analytics import (
    AGGREGATIONS,
    AnalyticsQuery,
    SumOverflowError,
    format_raw,
    parse_analytics_query,
    run_aggregation,
)
from stellar_arrow.errors import RequestError
from tests.unit.sink.realdata import whole


class ArrowTables:
    """SQL over one in-memory table on a fresh DuckDB connection (``{src}`` = the rows)."""

    def __init__(self, rows: pa.Table) -> None:
        self.rows = rows

    def query(self, table: str, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        con = duckdb.connect()
        con.execute("SET TimeZone = 'UTC'")
        con.register("rows", self.rows)
        return con.sql(sql.replace("{src}", "rows"), params=list(params)).to_arrow_table()

    def holds_rows(self, table: str) -> bool:
        return self.rows.num_rows > 0


def _transfers_with(amounts: list[int]) -> pa.Table:
    rows = whole("token_transfers").filter(
        pa.compute.equal(whole("token_transfers")["event_type"], "transfer")
    )
    rows = rows.slice(0, len(amounts))
    native = pa.array(["native"] * len(amounts))
    rows = rows.set_column(rows.schema.get_field_index("asset"), "asset", native)
    raw = pa.array([str(a) for a in amounts], pa.string())
    return rows.set_column(rows.schema.get_field_index("amount_raw"), "amount_raw", raw)


def test_sums_past_decimal_38_stay_exact() -> None:
    big = 6 * 10**37  # two of them exceed DECIMAL(38, 0) but not the 128-bit range
    (row,) = run_aggregation(ArrowTables(_transfers_with([big, big, 1])), "volume_by_asset", AnalyticsQuery())
    assert row["volume_raw"] == str(2 * big + 1) and row["transfers"] == 3
    assert row["volume"] == format_raw(2 * big + 1) == "12" + "0" * 30 + ".0000001"


def test_a_sum_past_i128_is_a_clear_400() -> None:
    top = 2**127 - 1
    with pytest.raises(SumOverflowError, match="128-bit"):
        run_aggregation(ArrowTables(_transfers_with([top, 1])), "volume_by_asset", AnalyticsQuery())


def test_format_raw_is_exact_and_signed() -> None:
    assert [format_raw(v) for v in (0, 1, -1, 10**7, -123456789)] == [
        "0",
        "0.0000001",
        "-0.0000001",
        "1",
        "-12.3456789",
    ]


def test_parameters_are_checked_per_aggregation() -> None:
    schema = whole("token_transfers").schema
    for name in AGGREGATIONS:
        query = parse_analytics_query(name, {"from_ledger": "5", "to_ledger": "5"}, schema)
        assert query.from_ledger == query.to_ledger == 5
    assert parse_analytics_query("top_accounts", {"limit": "1000"}, schema).limit == 1000
    with pytest.raises(RequestError, match="limit"):
        parse_analytics_query("fees_by_hour", {"limit": "3"}, schema)
    with pytest.raises(RequestError, match="where"):
        parse_analytics_query("fees_by_hour", {"where": "amount_raw > 'x'"}, schema)
