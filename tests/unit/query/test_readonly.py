"""Read-only SQL: real queries answer exactly, every way out of the sandbox is refused one by one."""

from __future__ import annotations

import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from stellar_arrow.query.readonly import SqlRefusedError, SqlTimeoutError, check_sql, run_sql
from tests.unit.query.test_where import TABLE

TABLES = {"token_transfers": TABLE}


def test_an_aggregation_equals_plain_duckdb() -> None:
    sql = (
        "SELECT asset, count(*) AS n, sum(CAST(amount_raw AS HUGEINT)) AS total FROM token_transfers "
        "WHERE event_type = 'transfer' GROUP BY asset ORDER BY asset"
    )
    result = run_sql(sql, TABLES)
    con = duckdb.connect()
    con.register("token_transfers", TABLE)
    expected = con.sql(sql).to_arrow_table()
    assert result.table.to_pylist() == expected.to_pylist()
    assert not result.truncated
    assert sum(r["n"] for r in result.table.to_pylist()) == sum(
        1 for r in TABLE.to_pylist() if r["event_type"] == "transfer"
    )


def test_ctes_and_unions_are_allowed() -> None:
    sql = (
        "WITH m AS (SELECT * FROM token_transfers WHERE event_type = 'mint') "
        "SELECT count(*) AS n FROM m UNION ALL SELECT count(*) FROM token_transfers WHERE event_type = 'mint'"
    )
    counts = [r["n"] for r in run_sql(sql, TABLES).table.to_pylist()]
    assert counts[0] == counts[1] > 0


def test_rows_are_limited_and_the_cut_is_reported() -> None:
    result = run_sql("SELECT * FROM token_transfers", TABLES, max_rows=10)
    assert result.table.num_rows == 10 and result.truncated


def test_a_long_query_is_interrupted_at_the_time_limit() -> None:
    started = time.monotonic()
    with pytest.raises(SqlTimeoutError, match=r"longer than 0\.5 s"):
        run_sql(
            "SELECT count(*) FROM token_transfers a, token_transfers b, token_transfers c",
            TABLES,
            timeout_s=0.5,
        )
    assert time.monotonic() - started < 10


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "table functions are not allowed"),
        ("SELECT * FROM read_parquet('data/**/*.parquet')", "table functions are not allowed"),
        ("SELECT * FROM '/etc/passwd'", "unknown table"),
        ("SELECT read_text('/etc/passwd')", "not allowed"),
        ("SELECT getenv('HOME')", "not allowed"),
        ("SELECT current_setting('threads')", "not allowed"),
        ("SELECT * FROM duckdb_settings()", "table functions are not allowed"),
        ("SELECT * FROM range(10)", "table functions are not allowed"),
        ("COPY token_transfers TO '/tmp/x.csv'", "only SELECT"),
        ("COPY (SELECT 1) TO '/tmp/x.csv'", "only SELECT"),
        ("ATTACH '/tmp/other.db' AS other", "only SELECT"),
        ("INSTALL httpfs", "only SELECT"),
        ("LOAD httpfs", "only SELECT"),
        ("SET threads = 64", "only SELECT"),
        ("PRAGMA database_list", "only SELECT"),
        ("CREATE TABLE x AS SELECT 1", "only SELECT"),
        ("INSERT INTO token_transfers SELECT * FROM token_transfers", "only SELECT"),
        ("DELETE FROM token_transfers", "only SELECT"),
        ("DROP TABLE token_transfers", "only SELECT"),
        ("SELECT 1; SELECT 2", "exactly one"),
        ("SELECT * FROM other_db.main.token_transfers", "qualified table names"),
        ("SELECT * FROM secrets", "unknown table"),
        ("SELECT * INTO newtable FROM token_transfers", "INTO"),
        ("", "empty"),
        ("SELECT ?", "parameters"),
        ("SELEC 1", "only SELECT|cannot parse"),
        ("SELECT * FROM token_transfers WHERE nope = 1", "the query failed"),
    ],
)
def test_every_way_out_is_refused(sql: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(SqlRefusedError, match=message) as caught:
        run_sql(sql, TABLES)
    assert caught.value.field == "sql"
    assert not Path("/tmp/x.csv").exists() or "x.csv" not in sql


def test_the_sandbox_holds_even_if_the_parser_check_were_bypassed(tmp_path: Path) -> None:
    """The DuckDB connection itself refuses files and settings: the second guard works on its own."""
    secret = tmp_path / "secret.csv"
    secret.write_text("a\n1\n")
    import stellar_arrow.query.readonly as module

    original = module.check_sql
    module.check_sql = lambda sql, tables: None  # type: ignore[assignment]
    try:
        for sql in (
            f"SELECT * FROM read_csv('{secret}')",
            "SET threads = 8",
            f"COPY (SELECT 1) TO '{tmp_path}/o.csv'",
        ):
            with pytest.raises(SqlRefusedError, match="not allowed"):
                run_sql(sql, TABLES)
    finally:
        module.check_sql = original
    assert not (tmp_path / "o.csv").exists()


def test_check_sql_accepts_plain_selects() -> None:
    check_sql("SELECT 1", frozenset({"token_transfers"}))
    check_sql("select event_type, count(*) from TOKEN_TRANSFERS group by 1", frozenset({"token_transfers"}))
    assert isinstance(run_sql("SELECT 1 AS one", TABLES).table, pa.Table)
