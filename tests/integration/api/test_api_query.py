"""``POST /api/v1/query`` on a real server: read-only SQL over the four tables with exact amounts, row and
time limits from the settings, every escape refused one by one with a 400, and the roles that may use it."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from stellar_arrow.config import ApiSettings
from tests.integration.api.running import Running, start, stop
from tests.integration.security.api_server import start_secured
from tests.integration.security.conftest import Keys, security_settings
from tests.integration.security.conftest import keys as keys
from tests.unit.sink.realdata import FIRST, whole

pytestmark = pytest.mark.integration

LEDGERS = 15  # 10 committed + 5 live (tests.integration.api.running)


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    options = ApiSettings(api_port=0, sql_max_rows=50, sql_timeout_s=0.5)
    running = start(tmp_path_factory.mktemp("sql"), options)
    yield running
    stop(running)


def _post(running: Running, sql: str) -> httpx.Response:
    return running.http.post("/api/v1/query", json={"sql": sql})


def test_counts_of_the_four_tables(limited: Running) -> None:
    for table in ("ledgers", "transactions", "operations", "token_transfers"):
        response = _post(limited, f"SELECT count(*) AS n FROM {table}")
        assert response.status_code == 200, response.text
        assert int(response.json()["rows"][0]["n"]) == whole(table, FIRST, FIRST + LEDGERS - 1).num_rows


def test_amounts_are_exact(limited: Running) -> None:
    sql = (
        "WITH x AS (SELECT * FROM token_transfers WHERE event_type = 'transfer') "
        "SELECT sum(amount_raw::HUGEINT) AS raw, sum(amount) AS whole_units, "
        "max(amount_raw::HUGEINT) AS top FROM x"
    )
    body = _post(limited, sql).json()
    rows = [
        r
        for r in whole("token_transfers", FIRST, FIRST + LEDGERS - 1).to_pylist()
        if r["event_type"] == "transfer"
    ]
    want = sum(int(r["amount_raw"]) for r in rows)
    (row,) = body["rows"]
    assert row["raw"] == str(want) and isinstance(row["raw"], str)
    assert Decimal(row["whole_units"]) * 10**7 == want  # decimal text, never a float
    assert row["top"] == str(max(int(r["amount_raw"]) for r in rows))
    assert body["columns"][0] == {"name": "raw", "type": "decimal128(38, 0)"}


def test_rows_are_cut_at_the_limit(limited: Running) -> None:
    body = _post(limited, "SELECT * FROM token_transfers ORDER BY ledger_sequence, event_index").json()
    assert body["row_count"] == 50 and body["truncated"] is True and len(body["rows"]) == 50
    small = _post(limited, "SELECT sequence FROM ledgers ORDER BY 1 LIMIT 3").json()
    assert small["truncated"] is False and [int(r["sequence"]) for r in small["rows"]] == [
        FIRST,
        FIRST + 1,
        FIRST + 2,
    ]


def test_a_long_query_is_stopped(limited: Running) -> None:
    sql = (
        "SELECT sum(a.event_index * b.event_index + c.event_index) "
        "FROM token_transfers a, token_transfers b, token_transfers c"
    )
    response = _post(limited, sql)
    assert response.status_code == 400 and "0.5 s" in response.json()["detail"]


REFUSED = [
    "SELECT * FROM read_csv('/etc/passwd')",
    "SELECT * FROM read_csv_auto('/etc/passwd')",
    "SELECT * FROM read_parquet('/etc/passwd')",
    "SELECT * FROM read_text('/etc/passwd')",
    "SELECT * FROM '/etc/passwd'",
    "SELECT * FROM glob('/*')",
    "SELECT getenv('HOME')",
    "SELECT current_setting('threads')",
    "SELECT * FROM duckdb_settings()",
    "SELECT * FROM information_schema.tables",
    "SELECT * FROM main.token_transfers",
    "COPY token_transfers TO '/tmp/stellar-arrow-copy-test.csv'",
    "COPY (SELECT 1) TO '/tmp/stellar-arrow-copy-test.csv'",
    "EXPORT DATABASE '/tmp/stellar-arrow-export-test'",
    "ATTACH '/tmp/stellar-arrow-attach-test.db' AS other",
    "DETACH other",
    "USE other",
    "INSTALL httpfs",
    "LOAD httpfs",
    "SET threads = 8",
    "SET enable_external_access = true",
    "RESET threads",
    "PRAGMA database_list",
    "CALL pragma_version()",
    "CHECKPOINT",
    "CREATE TABLE x AS SELECT 1",
    "INSERT INTO token_transfers SELECT * FROM token_transfers",
    "UPDATE token_transfers SET amount_raw = '0'",
    "DELETE FROM token_transfers",
    "DROP TABLE token_transfers",
    "SELECT 1; SELECT 2",
    "SELECT 1; DROP TABLE ledgers",
    "SELECT * INTO t2 FROM ledgers",
    "SELECT * FROM no_such_table",
    "SELECT $1",
    "",
    "   ",
    "SELECT " + "1 + " * 5000 + "1",
    "SELECT (" * 500 + "1" + ")" * 500,
]


@pytest.mark.parametrize("sql", REFUSED, ids=[s[:40] for s in REFUSED])
def test_refused_one_by_one(limited: Running, sql: str) -> None:
    response = _post(limited, sql)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == "sql" and body["detail"].startswith("sql: ")
    for leftover in (
        "/tmp/stellar-arrow-copy-test.csv",
        "/tmp/stellar-arrow-export-test",
        "/tmp/stellar-arrow-attach-test.db",
    ):
        assert not Path(leftover).exists()


BAD_BODIES = [
    b"not json",
    b"[]",
    b'{"sql": 5}',
    b'{"query": "SELECT 1"}',
    b'{"sql": "SELECT 1", "x": 1}',
    b"",
    b"\xff\xfe",
]


@pytest.mark.parametrize("body", BAD_BODIES)
def test_bad_bodies_are_400(limited: Running, body: bytes) -> None:
    response = limited.http.post("/api/v1/query", content=body, headers={"content-type": "application/json"})
    assert response.status_code == 400, response.text


def test_a_huge_body_is_refused_before_it_is_read(limited: Running) -> None:
    sql = "SELECT 1 -- " + "x" * 2_000_000
    response = _post(limited, sql)
    assert response.status_code == 413, response.text  # security.max_body_bytes


def test_repeated_queries_are_cached(limited: Running) -> None:
    sql = "SELECT event_type, count(*) AS n FROM token_transfers GROUP BY 1 ORDER BY 1"
    assert _post(limited, sql).json() == _post(limited, sql).json()
    metrics = limited.http.get("/metrics").text
    assert 'analytics_cache_hits_total{kind="sql"}' in metrics


def test_roles_with_authentication_on(tmp_path: Path, keys: Keys) -> None:
    running = start_secured(tmp_path / "out", security_settings(keys))
    try:
        with running.client() as client:
            query = {"sql": "SELECT count(*) AS n FROM token_transfers"}
            for key, status in ((keys.reader, 200), (keys.admin, 200), (keys.processor, 403)):
                response = client.post("/api/v1/query", json=query, headers={"x-api-key": key})
                assert response.status_code == status, response.text
            assert client.post("/api/v1/query", json=query).status_code == 401
            for name in ("volume_by_asset", "realtime"):
                assert client.get(f"/api/v1/analytics/{name}").status_code == 401
                ok = client.get(f"/api/v1/analytics/{name}", headers={"x-api-key": keys.reader})
                assert ok.status_code == 200, ok.text
    finally:
        running.stop()
