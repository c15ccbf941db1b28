"""Bounded work in the HTTP server: paged filtered replays, stalled readers, replay and query bulkheads."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from stellar_arrow.config import ApiSettings
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.query import filter_from_json, filter_rows
from stellar_arrow.resilience.bulkhead import AsyncBulkhead
from tests.integration.api.running import COMMITTED, LIVE, Running
from tests.unit.sink.realdata import FIRST, whole

pytestmark = pytest.mark.integration

HELD = COMMITTED + LIVE


def _ids(rows: pa.Table) -> list[int]:
    ledgers, indexes = rows["ledger_sequence"].to_pylist(), rows["event_index"].to_pylist()
    return [(a << 32) | b for a, b in zip(ledgers, indexes, strict=True)]


def _rejections(name: str) -> float:
    return REGISTRY.get_sample_value("bulkhead_rejections_total", {"name": name}) or 0.0


async def _frames(ws: Any, until: str, timeout: float = 20) -> list[dict[str, Any]]:
    got: list[dict[str, Any]] = []
    while True:
        frame = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if frame["type"] in ("status", "ping"):
            continue
        got.append(frame)
        if frame["type"] == until:
            return got


@pytest.mark.parametrize(
    "filters",
    [None, {"event_types": ["transfer", "fee"], "assets": ["native"], "min_amount": "0.5"}],
)
def test_replay_from_cursor_zero_pages_the_filtered_history(
    make_api: Callable[..., Running], filters: dict[str, Any] | None
) -> None:
    running = make_api(ApiSettings(api_port=0, ws_replay_page_rows=300))
    rows = whole("token_transfers", FIRST, FIRST + HELD - 1)  # committed files, then the live buffer
    if filters:
        rows = filter_rows(rows, filter_from_json(filters))
    want = _ids(rows)

    async def scenario() -> list[dict[str, Any]]:
        async with connect(running.ws_url, compression=None, max_size=None) as ws:
            message: dict[str, Any] = {"type": "subscribe", "cursor": 0}
            if filters:
                message["filters"] = filters
            await ws.send(orjson.dumps(message).decode())
            return await _frames(ws, "replay_done")

    frames = asyncio.run(scenario())
    events = [f for f in frames if f["type"] == "events"]
    got = [int(r["id"]) for f in events for r in f["data"]]
    assert want and got == want  # every matching event once, in order
    assert all(0 < f["count"] <= 300 for f in events)  # bounded pages, none empty
    assert frames[-1] == {"type": "replay_done", "events": len(want), "cursor": FIRST + HELD - 1}


def _deaf_socket(port: int) -> socket.socket:
    """A client socket with a tiny receive buffer; its owner never reads."""
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect(("127.0.0.1", port))
    return sock


async def _close_reason(ws: Any) -> tuple[int | None, str | None]:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 20)
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, None)


def test_a_replay_client_that_never_reads_is_closed_and_does_not_block_others(
    make_api: Callable[..., Running],
) -> None:
    options = ApiSettings(api_port=0, ws_replay_page_rows=100, ws_replay_stall_s=1.0, ws_max_replays=2)
    running = make_api(options)
    want = _ids(whole("token_transfers", FIRST, FIRST + HELD - 1))

    async def scenario() -> tuple[tuple[int | None, str | None], list[int], float]:
        deaf = _deaf_socket(running.server.port)
        async with (
            connect(running.ws_url, sock=deaf, max_queue=1, compression=None) as slow,
            connect(running.ws_url, compression=None, max_size=None) as fast,
        ):
            await slow.send('{"type": "subscribe", "cursor": 0}')
            started = time.monotonic()
            await fast.send('{"type": "subscribe", "cursor": 0}')
            frames = await _frames(fast, "replay_done")
            got = [int(r["id"]) for f in frames if f["type"] == "events" for r in f["data"]]
            deadline = time.monotonic() + 15
            while 'ws_clients_evicted_total{reason="slow"} 1.0' not in running.http.get("/metrics").text:
                assert time.monotonic() < deadline, (
                    "the replay of a client that reads nothing was not stopped"
                )
                await asyncio.sleep(0.1)
            evicted_after = time.monotonic() - started
            return await _close_reason(slow), got, evicted_after

    (code, reason), got, evicted_after = asyncio.run(scenario())
    assert got == want
    assert code == 1013 and reason == "slow consumer: replay not read for 1s"
    assert evicted_after < 15


def test_replays_beyond_the_bulkhead_get_a_busy_error(make_api: Callable[..., Running]) -> None:
    options = ApiSettings(
        api_port=0, ws_replay_page_rows=100, ws_max_replays=1, ws_replay_wait_s=0.2, ws_replay_stall_s=30
    )
    running = make_api(options)
    before = _rejections("ws_replays")

    async def scenario() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        deaf = _deaf_socket(running.server.port)
        async with (
            connect(running.ws_url, sock=deaf, max_queue=1, compression=None) as holder,
            connect(running.ws_url, compression=None, max_size=None) as other,
        ):
            await holder.send('{"type": "subscribe", "cursor": 0}')  # holds the one replay slot, stalled
            await asyncio.sleep(0.5)
            await other.send('{"type": "subscribe", "cursor": 0}')
            refused = await _frames(other, "error")
            await other.send('{"type": "subscribe"}')  # live only: no replay slot needed
            live = await _frames(other, "subscribed")
            return refused, live

    refused, live = asyncio.run(scenario())
    error = refused[-1]
    assert error["field"] == "cursor" and error["message"].startswith("busy: all 1 ws_replays slots")
    assert error["retry_after_s"] > 0
    assert not [f for f in refused if f["type"] == "events"]
    assert live[-1]["cursor"] is None
    assert _rejections("ws_replays") == before + 1


def test_queries_beyond_the_bulkhead_get_429_with_retry_after(make_api: Callable[..., Running]) -> None:
    running = make_api(ApiSettings(api_port=0, max_queries=1, query_wait_s=0.0), committed=2, live=1)
    queries: AsyncBulkhead = running.server.server.config.app.state.query_bulkhead
    assert running.http.get("/api/v1/transfers", params={"limit": 5}).status_code == 200
    before = _rejections("api_queries")
    asyncio.run(queries.acquire())  # a query in progress holds the only slot
    try:
        busy = running.http.get("/api/v1/transfers", params={"limit": 5})
        assert busy.status_code == 429
        assert busy.headers["retry-after"] == "1"
        body = busy.json()
        assert body["status"] == 429 and body["bulkhead"] == "api_queries" and "busy" in body["detail"]
        assert running.http.get("/api/v1/stats/summary").status_code == 429
        assert running.http.get("/health").status_code == 200  # operations routes are not queries
        assert _rejections("api_queries") == before + 2
    finally:
        queries.release()
    assert running.http.get("/api/v1/transfers", params={"limit": 5}).status_code == 200
