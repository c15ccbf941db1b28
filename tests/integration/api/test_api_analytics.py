"""``GET /api/v1/analytics/*`` on a real server: each aggregation equals the same aggregation written in plain
DuckDB SQL over the run's Parquet files and over its Delta tables (with and without where and ranges); hostile
parameters are 400s; repeated questions are cache hits until a commit lands; the rolling windows equal a
recomputation."""

from __future__ import annotations

import functools
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pytest
from deltalake import DeltaTable
from websockets.sync.client import connect

from stellar_arrow.config import ApiSettings
from stellar_arrow.sink import Checkpoint
from stellar_arrow.sink.delta import delta_table_path
from tests.integration.api.running import Running, start, stop
from tests.unit.analytics.recompute import as_numbers, recompute
from tests.unit.sink.realdata import FIRST, ledger_tables, whole

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """All 20 ledgers committed to Parquet and Delta (date/asset_code partitions), nothing live."""
    running = start(
        tmp_path_factory.mktemp("analytics"),
        ApiSettings(api_port=0),
        committed=20,
        live=0,
        output_formats=("parquet", "delta"),
    )
    yield running
    stop(running)


SOURCES = ["parquet", "delta"]


@functools.cache
def _delta_transfers(root: Path) -> ds.Dataset:
    """The token_transfers Delta table of a run as delta-rs exposes it (its log read once per run)."""
    return DeltaTable(str(delta_table_path(root, "token_transfers"))).to_pyarrow_dataset()


def _plain(running: Running, sql: str, source: str = "parquet") -> list[tuple[Any, ...]]:
    """``sql`` over ``t``: the run's token_transfers, read by plain DuckDB from its Parquet files or from its
    Delta table (as delta-rs exposes it: Delta types, e.g. ``ledger_sequence`` int64, ``to_muxed_id``
    decimal(20,0), plus the ``date`` partition column)."""
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    if source == "delta":
        con.register("t", _delta_transfers(Path(running.sink.root)))
        return con.sql(sql).fetchall()
    files = sorted(str(p) for p in Path(running.sink.root).glob("token_transfers/**/*.parquet"))
    listed = ", ".join(f"'{f}'" for f in files)
    con.execute(f"CREATE VIEW t AS SELECT * FROM read_parquet([{listed}], hive_partitioning = false)")
    return con.sql(sql).fetchall()


WHERE_CASES = [
    ({}, "TRUE"),
    (
        {"where": "asset_code IN ('USDC', 'XLM') OR asset = 'native'"},
        "(asset_code IN ('USDC', 'XLM') OR asset = 'native')",
    ),
    (
        {"where": "amount_raw > 10000000 AND NOT (\"from\" LIKE 'GA%')"},
        "(amount_raw::HUGEINT > 10000000 AND NOT (\"from\" LIKE 'GA%'))",
    ),
    (
        {"from_ledger": str(FIRST + 3), "to_ledger": str(FIRST + 11)},
        f"ledger_sequence BETWEEN {FIRST + 3} AND {FIRST + 11}",
    ),
    (  # exact decimals on the decimal column (left out of the Delta log's file statistics)
        {"where": "amount BETWEEN 0.0000101 AND 250.5000001"},
        "amount BETWEEN 0.0000101 AND 250.5000001",
    ),
]


def _time_case(running: Running) -> tuple[dict[str, str], str]:
    times = sorted({r["closed_at"] for r in whole("token_transfers").to_pylist()})
    low, high = times[4], times[15]
    params = {"start_time": low.strftime("%Y-%m-%dT%H:%M:%SZ"), "end_time": str(int(high.timestamp()))}
    sql = f"closed_at >= '{low.isoformat()}'::TIMESTAMPTZ AND closed_at < '{high.isoformat()}'::TIMESTAMPTZ"
    return params, sql


def _cases(running: Running) -> list[tuple[dict[str, str], str]]:
    return [*WHERE_CASES, _time_case(running)]


def _get(running: Running, name: str, params: dict[str, str]) -> list[dict[str, Any]]:
    response = running.http.get(f"/api/v1/analytics/{name}", params=params)
    assert response.status_code == 200, response.text
    rows: list[dict[str, Any]] = response.json()["rows"]
    return rows


def test_the_sample_run_is_all_in_parquet_and_delta(committed: Running) -> None:
    assert _plain(committed, "SELECT count(*) FROM t")[0][0] == whole("token_transfers").num_rows
    assert _plain(committed, "SELECT count(*) FROM t", "delta")[0][0] == whole("token_transfers").num_rows
    delta = DeltaTable(str(delta_table_path(Path(committed.sink.root), "token_transfers")))
    schema = delta.to_pyarrow_dataset().schema
    assert schema.field("ledger_sequence").type == pa.int64()  # uint32 in Parquet
    assert schema.field("amount").type == pa.decimal128(38, 7)
    assert schema.field("amount_raw").type == pa.string()
    assert delta.metadata().partition_columns == ["date", "asset_code"]  # the sink's partition_by


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("case", range(6))
def test_volume_by_asset_equals_plain_sql(committed: Running, case: int, source: str) -> None:
    params, cond = _cases(committed)[case]
    want = _plain(
        committed,
        "SELECT coalesce(asset, contract_id), count(*), sum(amount_raw::HUGEINT)::VARCHAR FROM t "
        f"WHERE event_type = 'transfer' AND {cond} GROUP BY 1 ORDER BY 1",
        source,
    )
    got = _get(committed, "volume_by_asset", params)
    assert [(r["asset"], r["transfers"], r["volume_raw"]) for r in got] == want and want
    for r in got:  # whole units: exact, 7 decimals at most
        assert int(r["volume_raw"]) == int(r["volume"].replace(".", "")) * 10 ** (
            7 - len(r["volume"].partition(".")[2])
        )


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("case", range(6))
def test_transfers_by_hour_equals_plain_sql(committed: Running, case: int, source: str) -> None:
    params, cond = _cases(committed)[case]
    want = _plain(
        committed,
        "SELECT strftime(date_trunc('hour', closed_at), '%Y-%m-%dT%H:%M:%SZ'), coalesce(asset, contract_id), "
        f"count(*), sum(amount_raw::HUGEINT)::VARCHAR FROM t WHERE event_type = 'transfer' AND {cond} "
        "GROUP BY 1, 2 ORDER BY 1, 2",
        source,
    )
    got = _get(committed, "transfers_by_hour", params)
    assert [(r["hour"], r["asset"], r["transfers"], r["volume_raw"]) for r in got] == want and want


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("case", range(6))
def test_fees_by_hour_equals_plain_sql(committed: Running, case: int, source: str) -> None:
    params, cond = _cases(committed)[case]
    want = _plain(
        committed,
        "SELECT strftime(date_trunc('hour', closed_at), '%Y-%m-%dT%H:%M:%SZ'), count(*), "
        "count(DISTINCT transaction_hash), "
        "coalesce(sum(CASE WHEN amount_raw::HUGEINT > 0 THEN amount_raw::HUGEINT END), 0)::VARCHAR, "
        "coalesce(sum(CASE WHEN amount_raw::HUGEINT < 0 THEN -amount_raw::HUGEINT END), 0)::VARCHAR, "
        f"sum(amount_raw::HUGEINT)::VARCHAR FROM t WHERE event_type = 'fee' AND {cond} GROUP BY 1 ORDER BY 1",
        source,
    )
    got = _get(committed, "fees_by_hour", params)
    keys = ("hour", "fee_events", "transactions", "charged_raw", "refunded_raw", "fees_raw")
    assert [tuple(r[k] for k in keys) for r in got] == want
    assert want or case == 2  # no fee is over 1 XLM


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("case", range(6))
def test_top_accounts_equals_plain_sql(committed: Running, case: int, source: str) -> None:
    params, cond = _cases(committed)[case]
    want = _plain(
        committed,
        'SELECT "from", coalesce(asset, contract_id), count(*), sum(amount_raw::HUGEINT) AS v FROM t '
        f"WHERE event_type = 'transfer' AND \"from\" IS NOT NULL AND {cond} GROUP BY 1, 2 "
        "ORDER BY v DESC, 1, 2 LIMIT 7",
        source,
    )
    got = _get(committed, "top_accounts", {**params, "limit": "7"})
    assert [(r["account"], r["asset"], r["transfers"], int(r["volume_raw"])) for r in got] == [
        (a, b, c, int(v)) for a, b, c, v in want
    ]
    assert len(want) == 7


@pytest.mark.parametrize("source", SOURCES)
@pytest.mark.parametrize("case", range(6))
def test_supply_changes_equal_plain_sql(committed: Running, case: int, source: str) -> None:
    params, cond = _cases(committed)[case]
    want = _plain(
        committed,
        "SELECT coalesce(asset, contract_id), "
        + ", ".join(
            f"count(*) FILTER (WHERE event_type = '{k}'), "
            f"coalesce(sum(amount_raw::HUGEINT) FILTER (WHERE event_type = '{k}'), 0)::VARCHAR"
            for k in ("mint", "burn", "clawback")
        )
        + f" FROM t WHERE event_type IN ('mint', 'burn', 'clawback') AND {cond} GROUP BY 1 ORDER BY 1",
        source,
    )
    got = _get(committed, "supply_changes", params)
    keys = ("asset", "mints", "minted_raw", "burns", "burned_raw", "clawbacks", "clawed_back_raw")
    assert [tuple(r[k] for k in keys) for r in got] == want
    for r in got:
        assert int(r["net_raw"]) == int(r["minted_raw"]) - int(r["burned_raw"]) - int(r["clawed_back_raw"])


HOSTILE = [
    ("realtime", {"window": "7y"}),
    ("realtime", {"window": ""}),
    ("realtime", {"window": "1h", "extra": "1"}),
    ("top_accounts", {"limit": "-1"}),
    ("top_accounts", {"limit": str(10**9)}),
    ("top_accounts", {"limit": "1e3"}),
    ("top_accounts", {"limit": "0"}),
    ("volume_by_asset", {"limit": "5"}),  # limit is top_accounts' only
    ("volume_by_asset", {"where": "garbage(("}),
    ("volume_by_asset", {"where": "amount_raw > (SELECT 1)"}),
    ("volume_by_asset", {"where": "no_such_column = 1"}),
    ("volume_by_asset", {"where": "read_csv('/etc/passwd') = 1"}),
    ("volume_by_asset", {"where": "amount_raw > 999999999999999999999999999999999999999999"}),
    ("volume_by_asset", {"where": "(" * 3000 + "TRUE" + ")" * 3000}),
    ("volume_by_asset", {"where": "a\x00"}),
    ("volume_by_asset", {"where": ""}),
    ("fees_by_hour", {"start_time": "yesterday"}),
    ("fees_by_hour", {"start_time": "99999999999999"}),
    ("fees_by_hour", {"start_time": "2026-06-19T01:00:00Z", "end_time": "2026-06-19T00:00:00Z"}),
    ("fees_by_hour", {"from_ledger": "0"}),
    ("fees_by_hour", {"from_ledger": str(2**32)}),
    ("fees_by_hour", {"from_ledger": "10", "to_ledger": "5"}),
    ("supply_changes", {"asset": "native"}),
]


@pytest.mark.parametrize(("name", "params"), HOSTILE)
def test_hostile_parameters_are_400(committed: Running, name: str, params: dict[str, str]) -> None:
    response = committed.http.get(f"/api/v1/analytics/{name}", params=params)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400 and body["detail"] and body["field"]


def test_repeated_and_unknown(committed: Running) -> None:
    url = "/api/v1/analytics/top_accounts?limit=3&limit=4"
    assert committed.http.get(url).status_code == 400
    response = committed.http.get("/api/v1/analytics/volume_by_assets")
    assert response.status_code == 404
    assert response.json()["aggregations"] == [
        "volume_by_asset",
        "transfers_by_hour",
        "fees_by_hour",
        "top_accounts",
        "supply_changes",
    ]
    assert committed.http.get("/api/v1/analytics/%00%ff").status_code == 404
    assert committed.http.get("/api/v1/analytics").json()["windows"] == ["1m", "1h", "24h"]


def _counter(running: Running, name: str, kind: str) -> float:
    for line in running.http.get("/metrics").text.splitlines():
        if line.startswith(f'{name}{{kind="{kind}"}}'):
            return float(line.split()[-1])
    return 0.0


def _results(running: Running) -> Any:
    return running.server.server.config.app.state.results


def test_repeated_questions_hit_the_cache_until_a_commit_lands(tmp_path: Path) -> None:
    running = start(tmp_path, ApiSettings(api_port=0), committed=5, live=2)
    try:
        url = "/api/v1/analytics/volume_by_asset?where=asset%20%3D%20'native'"
        first = running.http.get(url).json()
        hits, misses = (
            _counter(running, "analytics_cache_hits_total", "aggregation"),
            _counter(running, "analytics_cache_misses_total", "aggregation"),
        )
        assert running.http.get(url).json() == first
        assert _counter(running, "analytics_cache_hits_total", "aggregation") == hits + 1
        cached = [
            line for line in running.http.get("/metrics").text.splitlines() if line.startswith("api_file_")
        ]
        assert cached and float(cached[0].split()[-1]) > 0  # the decoded rows of the committed files
        running.write_ledger(7)  # new live rows: a new data version, so a miss with the new rows
        running.sink.commit(Checkpoint(ledger_tables()[7][0]))
        assert len(_results(running)) >= 1
        after = running.http.get(url).json()
        assert len(_results(running)) == 1  # the rest dropped
        assert _counter(running, "analytics_cache_misses_total", "aggregation") == misses + 1
        want = sum(
            int(r["amount_raw"])
            for r in whole("token_transfers", FIRST, FIRST + 7).to_pylist()
            if r["event_type"] == "transfer" and r["asset"] == "native"
        )
        assert int(after["rows"][0]["volume_raw"]) == want != int(first["rows"][0]["volume_raw"])
    finally:
        stop(running)


def test_realtime_windows_equal_a_recomputation_and_are_pushed(tmp_path: Path) -> None:
    running = start(tmp_path, ApiSettings(api_port=0, status_interval_s=0.2), committed=6, live=3)
    try:
        with connect(running.ws_url, open_timeout=10) as ws:
            ws.send(json.dumps({"type": "subscribe", "channel": "analytics"}))
            assert json.loads(ws.recv(timeout=10)) == {"type": "subscribed", "channel": "analytics"}
            first = json.loads(ws.recv(timeout=10))
            assert first["type"] == "analytics" and set(first["windows"]) == {"1m", "1h", "24h"}
            for index in range(9, 14):
                running.write_ledger(index)
            running.sink.commit(Checkpoint(ledger_tables()[13][0]))
            seen = whole("token_transfers", FIRST, FIRST + 13).to_pylist()
            last = max(r["closed_at"] for r in seen).strftime("%Y-%m-%dT%H:%M:%SZ")
            pushed = first
            while pushed["windows"]["1m"]["end"] != last:
                pushed = json.loads(ws.recv(timeout=10))
            for name in ("1m", "1h", "24h"):
                rest = running.http.get("/api/v1/analytics/realtime", params={"window": name}).json()
                assert rest == pushed["windows"][name]
                assert as_numbers(rest) == recompute(seen, rest["start"], rest["end"])
            ws.send(json.dumps({"type": "subscribe", "channel": "nope"}))
            reply = json.loads(ws.recv(timeout=10))
            while reply["type"] == "analytics":
                reply = json.loads(ws.recv(timeout=10))
            assert reply["type"] == "error" and reply["field"] == "channel"
            ws.send(json.dumps({"type": "unsubscribe", "channel": "analytics"}))
            reply = json.loads(ws.recv(timeout=10))
            while reply["type"] == "analytics":
                reply = json.loads(ws.recv(timeout=10))
            assert reply == {"type": "unsubscribed", "channel": "analytics"}
    finally:
        stop(running)
