"""Hostile values in every REST query parameter and path segment, and in every WebSocket message field.

The routes and their parameters are read from the server's own OpenAPI document, so a route added later is
swept too. Every answer is a 2xx, a 400 naming the parameter, or a 404 for a well-formed path that names
nothing: never a 500, never a hang (the client times out after 10 s), never a dropped WebSocket.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from stellar_arrow.config import ApiSettings
from tests.integration.api.running import Running, start, stop

pytestmark = pytest.mark.integration

HOSTILE = [
    "²",
    "١٢٣",
    "253402300800",
    "9223372036854775808",
    "-1",
    "0",
    "1e999999",
    "NaN",
    "",
    " ",
    "\x00",
    "x" * 5000,
    "'; DROP TABLE token_transfers; --",
    "native,",
    "\u202egnp",
    "10000-01-01T00:00:00Z",
]
#: The values the hostile run reported (500s before): each must be a 400 naming the field.
REPORTED = ["253402300800", "9223372036854775808", "²"]


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    running = start(tmp_path_factory.mktemp("hostile"), ApiSettings(api_port=0), committed=2, live=1)
    yield running
    stop(running)


def routes(api: Running) -> list[tuple[str, list[str], list[str]]]:
    """``(path template, path parameters, query parameters)`` of every GET route under /api/v1."""
    spec = api.http.get("/openapi.json").raise_for_status().json()
    found = []
    for path, methods in spec["paths"].items():
        if "get" not in methods or not path.startswith("/api/v1"):
            continue
        params = methods["get"].get("parameters", [])
        found.append(
            (
                path,
                [p["name"] for p in params if p["in"] == "path"],
                [p["name"] for p in params if p["in"] == "query"],
            )
        )
    assert len(found) >= 8
    return found


VALID_PATH = {
    "event_id": "1",
    "account_id": "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
    "sequence": "63092982",
    "tx_hash": "ab" * 32,
    "name": "volume_by_asset",
}


def check(api: Running, url: str, field: str) -> None:
    response = api.http.get(url)
    assert response.status_code in (200, 400, 404), (url, response.status_code, response.text[:300])
    if response.status_code == 400:
        body = response.json()
        assert body["field"] == field, (url, body)
        assert field in body["detail"] and len(body["detail"]) < 1000


def test_every_query_parameter_of_every_route(api: Running) -> None:
    checked = 0
    for path, path_params, query_params in routes(api):
        base = path
        for name in path_params:
            base = base.replace("{" + name + "}", VALID_PATH[name])
        for name in query_params:
            for value in HOSTILE:
                check(api, f"{base}?{name}={quote(value)}", name)
                checked += 1
            # the same name twice is refused, not silently overwritten
            response = api.http.get(f"{base}?{name}=1&{name}=2")
            assert response.status_code == 400 and response.json()["field"] == name
    assert checked > 200


def test_every_path_parameter_of_every_route(api: Running) -> None:
    for path, path_params, _ in routes(api):
        for name in path_params:
            for value in HOSTILE:
                if value.strip() == "":
                    continue  # an empty segment is another route (404/405 by the router)
                url = path.replace("{" + name + "}", quote(value, safe=""))
                for other in path_params:
                    url = url.replace("{" + other + "}", VALID_PATH[other])
                check(api, url, name)


@pytest.mark.parametrize("route", ["/api/v1/transfers", "/api/v1/stats/volume"])
@pytest.mark.parametrize("name", ["start_time", "end_time"])
@pytest.mark.parametrize("value", REPORTED)
def test_reported_time_values_are_400s(api: Running, route: str, name: str, value: str) -> None:
    response = api.http.get(f"{route}?{name}={quote(value)}")
    assert response.status_code == 400
    assert response.json()["field"] == name


WS_HOSTILE: list[object] = [
    "²",
    "9223372036854775808",
    -1,
    2**64,
    1.5,
    None,
    True,
    [],
    {},
    "x" * 5000,
    "\x00",
    {"$gt": 1},
]
#: Every field of a subscribe message, and every filter field inside it.
WS_FIELDS = [
    "format",
    "compression",
    "cursor",
    "status",
    "filters",
    *(
        f"filters.{name}"
        for name in (
            "event_types",
            "assets",
            "accounts",
            "asset_codes",
            "transaction_hash",
            "min_amount",
            "max_amount",
            "from_ledger",
            "to_ledger",
            "start_time",
            "end_time",
        )
    ),
]


def subscribe_with(field: str, value: object) -> dict[str, Any]:
    if field.startswith("filters."):
        return {"type": "subscribe", "filters": {field.split(".", 1)[1]: value}}
    return {"type": "subscribe", field: value}


def test_every_websocket_field_gets_an_error_frame_and_the_connection_stays(
    make_api: Callable[..., Running],
) -> None:
    options = ApiSettings(api_port=0, ws_message_rate=10_000, ws_message_burst=10_000)
    running = make_api(options, committed=1, live=0)
    sweep: list[tuple[str, str]] = [
        (json.dumps(subscribe_with(field, value)), field)
        for field in WS_FIELDS
        for value in WS_HOSTILE
        if value is not None  # null means "absent"
        and len(json.dumps(subscribe_with(field, value)).encode()) <= 4096  # larger: closed 1009, below
    ]
    must_fail: list[tuple[str, str]] = [
        ('{"type": "subscribe", "cursor": "²"}', "cursor"),  # the reported case
        ('{"type": "subscribe", "cursor": 1e999}', "message"),  # not JSON a parser can hold exactly
        ('{"type": "subscribe", "cursor": NaN}', "message"),
        ('{"type": "subscribe", "cursor": 18446744073709551616}', "cursor"),
        ('{"type": "subscribe", "filters": {"min_amount": "1e999999"}}', "filters.min_amount"),
        ('{"type": "subscribe", "filters": {"start_time": 253402300800}}', "filters.start_time"),
        ('{"type": "subscribe", "filters": {"start_time": "²"}}', "filters.start_time"),
        ('{"type": "subscribe", "filters": {"accounts": ["GBAD"]}}', "filters.accounts"),
        ('{"type": "subscribe", "filters": {"assets": ["USDC"]}}', "filters.assets"),
        ('{"type": "subscribe", "wat": 1}', "wat"),
        ('{"type": 5}', "type"),
        ("[" * 3_000, "message"),  # deep nesting within security.ws_max_message_bytes (4096)
        ('"subscribe"', "type"),
    ]
    messages = sweep + must_fail

    async def scenario() -> list[tuple[str, str]]:
        answers: list[tuple[str, str]] = []
        async with connect(running.ws_url, compression=None, max_size=None) as ws:
            for text, _ in messages:
                await ws.send(text)
                while True:
                    reply = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                    if reply["type"] in ("error", "subscribed"):
                        break
                answers.append((reply["type"], reply.get("field", "")))
            await ws.send('{"type": "ping"}')
            while orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "pong":
                pass
            await ws.send(json.dumps(subscribe_with("cursor", "9" * 5000)))  # over ws_max_message_bytes
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed as closed:
                assert closed.rcvd is not None and closed.rcvd.code == 1009
        return answers

    answers = asyncio.run(scenario())
    errors = 0
    for (text, field), (kind, got) in zip(messages, answers, strict=True):
        if kind == "subscribed":  # a value that happens to be valid for that field (status: true, ...)
            assert (text, field) not in must_fail, text
            continue
        errors += 1
        assert got == field or got.startswith(f"{field}."), (text[:200], got)  # filters.$gt: the bad key
    assert errors > 0.9 * len(messages)
