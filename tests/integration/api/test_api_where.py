"""Filter expressions, named filters and operation types over REST and WebSocket, against plain DuckDB
SQL over the sink's committed Parquet files; hostile expressions get a 400 / an error with the position."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import httpx
import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosedError

from stellar_arrow.api import ApiServer, TransferStore, create_app
from stellar_arrow.config import ApiSettings
from stellar_arrow.testing.sinks import MemorySink
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA
from tests.integration.api.running import Running, start, stop
from tests.unit.sink.realdata import FIRST, whole
from tests.where_cases import HOSTILE, VALID

pytestmark = pytest.mark.integration

COMMITTED = 6  # ledgers FIRST..FIRST+5, all in Parquet files
WS_MAX_MESSAGE = 4096  # the server's limit on one client message
Key = tuple[int, int]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Running, Path]]:
    root = tmp_path_factory.mktemp("where")
    running = start(root, ApiSettings(api_port=0), committed=COMMITTED, live=0)
    yield running, root
    stop(running)


def duck(
    root: Path, predicate: str, select: str = "ledger_sequence, event_index", tail: str = "ORDER BY ALL"
) -> list[Any]:
    """Rows of plain DuckDB SQL over the committed ``token_transfers`` Parquet files."""
    files = sorted(str(p) for p in (root / "token_transfers").rglob("*.parquet"))
    source = f"read_parquet({files!r}, hive_partitioning = false, union_by_name = true)"
    with duckdb.connect() as db:
        sql = f"SELECT {select} FROM {source} WHERE {predicate} {tail}"
        return db.sql(sql).fetchall()


def rest_keys(running: Running, path: str, params: dict[str, str]) -> list[Key]:
    """Every (ledger, event_index) of a list route, paged with its cursor."""
    keys: list[Key] = []
    cursor: str | None = None
    for _ in range(200):
        page = {**params, "limit": "200", **({"cursor": cursor} if cursor else {})}
        response = running.http.get(path, params=page)
        assert response.status_code == 200, response.text
        records = response.json()["_embedded"]["records"]
        if not records:
            return keys
        keys.extend((r["ledger_sequence"], r["event_index"]) for r in records)
        cursor = records[-1]["id"]
    raise AssertionError("more pages than expected")


@pytest.mark.parametrize(("params", "predicate"), VALID)
def test_transfers_match_plain_sql(api: tuple[Running, Path], params: dict[str, str], predicate: str) -> None:
    running, root = api
    want = duck(root, predicate)
    assert want, "each case selects some rows"
    assert rest_keys(running, "/api/v1/transfers", params) == want


def test_account_route_combines_the_account_and_the_expression(api: tuple[Running, Path]) -> None:
    running, root = api
    busiest = duck(root, '"to" IS NOT NULL', '"to", count(*) AS n', 'GROUP BY "to" ORDER BY n DESC LIMIT 1')
    account = busiest[0][0]
    predicate = f'(\'{account}\' IN ("from", "to", to_muxed)) AND amount >= 1'
    want = duck(root, predicate)
    assert want
    got = rest_keys(running, f"/api/v1/accounts/{account}/transfers", {"where": "amount >= 1"})
    assert got == want


def test_stats_routes_take_the_expression(api: tuple[Running, Path]) -> None:
    running, root = api
    where = "operation_type = 'payment'"
    assets = running.http.get("/api/v1/stats/assets", params={"where": where, "limit": "200"}).json()[
        "assets"
    ]
    want = duck(
        root,
        f"event_type <> 'fee' AND {where}",
        "coalesce(asset, contract_id), count(*), sum(amount_raw::HUGEINT)::VARCHAR",
        "GROUP BY 1 ORDER BY ALL",
    )
    assert sorted((a["asset"], a["events"], a["volume_raw"]) for a in assets) == want
    volume = running.http.get(
        "/api/v1/stats/volume", params={"interval": "ledger", "filter": "large_amounts"}
    )
    assert volume.status_code == 200, volume.text
    got = sorted((b["ledger"], b["asset"], b["events"]) for b in volume.json()["buckets"])
    want = duck(
        root,
        "event_type <> 'fee' AND amount_raw::HUGEINT >= 10000000",
        "ledger_sequence, coalesce(asset, contract_id), count(*)",
        "GROUP BY 1, 2 ORDER BY ALL",
    )
    assert got == want


ROUTES = ["/api/v1/transfers", "/api/v1/stats/volume", "/api/v1/stats/assets"]


@pytest.mark.parametrize(("text", "reason", "position"), HOSTILE)
def test_hostile_expressions_are_400_with_the_position(
    api: tuple[Running, Path], text: str, reason: str, position: int
) -> None:
    running, root = api
    account = duck(root, "\"to\" LIKE 'G%'", '"to"', "ORDER BY ALL LIMIT 1")[0][0]
    for path in [*ROUTES, f"/api/v1/accounts/{account}/transfers"]:
        response = running.http.get(path, params={"where": text})
        assert response.status_code == 400, (path, response.text)
        body = response.json()
        assert body["field"] == "where"
        assert reason in body["detail"] and f"(at position {position})" in body["detail"], body


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"filter": "everything"}, "filter"),
        ({"filter": "successful_payments,"}, "filter"),
        ({"operation_type": "teleport"}, "operation_type"),
        ({"operation_type": "payment;DROP"}, "operation_type"),
        ({"where": ""}, "where"),
    ],
)
def test_bad_named_filters_and_operation_types_are_400(
    api: tuple[Running, Path], params: dict[str, str], field: str
) -> None:
    running, _ = api
    for path in ROUTES:
        response = running.http.get(path, params=params)
        assert response.status_code == 400, (path, response.text)
        assert response.json()["field"] == field


async def _replay(url: str, message: dict[str, Any]) -> tuple[list[Key], list[dict[str, Any]]]:
    """Events of a cursor replay until ``replay_done``, and the error messages received on the way."""
    keys: list[Key] = []
    errors: list[dict[str, Any]] = []
    async with connect(url, compression=None, max_size=None) as ws:
        await ws.send(orjson.dumps(message).decode())
        while True:
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), 20))
            if frame["type"] == "events":
                keys.extend((r["ledger_sequence"], r["event_index"]) for r in frame["data"])
            elif frame["type"] == "error":
                errors.append(frame)
                await ws.send(orjson.dumps({"type": "subscribe", "cursor": FIRST + COMMITTED}).decode())
            elif frame["type"] == "replay_done":
                return keys, errors


@pytest.mark.parametrize(("params", "predicate"), VALID[::3])
def test_websocket_where_matches_plain_sql(
    api: tuple[Running, Path], params: dict[str, str], predicate: str
) -> None:
    running, root = api
    message: dict[str, Any] = {"type": "subscribe", "cursor": FIRST - 1, "filters": {}}
    if "where" in params:
        message["where"] = params["where"]
    if "filter" in params:
        message["filters"]["named"] = params["filter"].split(",")
    if "operation_type" in params:
        message["filters"]["operation_types"] = params["operation_type"].split(",")
    keys, errors = asyncio.run(_replay(running.ws_url, message))
    assert errors == []
    assert keys == duck(root, predicate)


@pytest.mark.parametrize(("text", "reason", "position"), HOSTILE)
def test_websocket_hostile_expressions_get_an_error_and_the_connection_lives(
    api: tuple[Running, Path], text: str, reason: str, position: int
) -> None:
    running, _ = api
    for message in (
        {"type": "subscribe", "where": text},
        {"type": "subscribe", "filters": {"where": text}},
    ):
        if len(orjson.dumps(message)) > WS_MAX_MESSAGE:  # refused by the bounded frame size: 1009
            with pytest.raises(ConnectionClosedError) as closed:
                asyncio.run(_replay(running.ws_url, message))
            assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009
            continue
        keys, errors = asyncio.run(_replay(running.ws_url, message))
        assert keys == []  # the follow-up subscription (after the last ledger) replays nothing
        (error,) = errors
        assert error["field"] in ("where", "filters.where")
        assert reason in error["message"] and f"(at position {position})" in error["message"], error


_FRAGMENTS = st.sampled_from(
    [
        "amount", "amount_raw", "asset", "operation_type", "event_type", "closed_at", "nope", "'payment'",
        "'2026-06-19T00:00:00Z'", "1", "-1.5", "1e9", "NULL", "TRUE", "=", "<>", ">=", "AND", "OR", "NOT",
        "IN", "BETWEEN", "IS", "LIKE", "(", ")", ",", ";", "--", "/*", "*/", "SELECT", "count(", "'", '"',
        "\\",
    ]
)  # fmt: skip


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(_FRAGMENTS, min_size=1, max_size=10).map(" ".join) | st.text(max_size=30))
def test_random_where_text_is_200_or_400_never_500(api: tuple[Running, Path], text: str) -> None:
    running, _ = api
    response = running.http.get("/api/v1/transfers", params={"where": text, "limit": "1"})
    assert response.status_code in (200, 400), (text, response.status_code, response.text)
    if response.status_code == 400:
        assert response.json()["field"] == "where", response.text


def test_rows_written_before_operation_type_get_400_not_500() -> None:
    """Data of schema version 2 (no ``operation_type``) served by this version: conditions on the column are
    refused naming the field; the others still answer."""
    schema = TOKEN_TRANSFERS_SCHEMA.remove(TOKEN_TRANSFERS_SCHEMA.get_field_index("operation_type"))
    sink = MemorySink({"token_transfers": schema})
    sink.write_batch(
        "token_transfers", whole("token_transfers", FIRST, FIRST).drop_columns(["operation_type"])
    )
    server = ApiServer(create_app(ApiSettings(api_port=0), TransferStore(sink.reader())))
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=10) as http:
            for params, field in [
                ({"operation_type": "payment"}, "operation_types"),
                ({"filter": "successful_payments"}, "operation_types"),
                ({"where": "operation_type = 'payment'"}, "where"),
            ]:
                response = http.get("/api/v1/transfers", params=params)
                assert response.status_code == 400, response.text
                assert response.json()["field"] == field
            fine = http.get("/api/v1/transfers", params={"where": "amount >= 1", "filter": "large_amounts"})
            assert fine.status_code == 200 and fine.json()["_embedded"]["records"]
    finally:
        server.stop()
        sink.close()


def test_live_websocket_subscription_applies_where_and_named_filters(tmp_path: Path) -> None:
    """Live fan-out (not a replay): events written after subscribing, filtered by the hub."""
    running = start(tmp_path, ApiSettings(api_port=0), committed=2, live=0)
    try:
        rows = whole("token_transfers", FIRST + 2, FIRST + 4)
        with duckdb.connect() as db:
            db.register("rows", rows)
            sql = (
                "SELECT ledger_sequence, event_index FROM rows WHERE event_type = 'transfer' "
                "AND operation_type IN ('payment', 'path_payment_strict_receive', "
                "'path_payment_strict_send') AND amount < 50 "
                "ORDER BY ALL"
            )
            want = db.sql(sql).fetchall()
        assert want
        message = {"type": "subscribe", "filters": {"named": "successful_payments"}, "where": "amount < 50"}

        async def scenario() -> list[Key]:
            got: list[Key] = []
            async with connect(running.ws_url, compression=None, max_size=None) as ws:
                await ws.send(orjson.dumps(message).decode())
                while orjson.loads(await asyncio.wait_for(ws.recv(), 20))["type"] != "subscribed":
                    pass
                writer = threading.Thread(target=lambda: [running.write_ledger(i) for i in range(2, 5)])
                writer.start()
                while not got or got[-1] < want[-1]:
                    frame = orjson.loads(await asyncio.wait_for(ws.recv(), 20))
                    if frame["type"] == "events":
                        got.extend((r["ledger_sequence"], r["event_index"]) for r in frame["data"])
                writer.join()
            return got

        assert asyncio.run(scenario()) == want
    finally:
        stop(running)
