"""WebSocket /ws over real loopback connections: live filters, resume with no gap, formats, limits."""

from __future__ import annotations

import asyncio
import functools
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest
import zstandard
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from stellar_arrow.config import ApiSettings
from tests.integration.api.running import COMMITTED, LIVE, Running
from tests.unit.sink.realdata import FIRST, ledger_tables, whole

pytestmark = pytest.mark.integration

ALL = len(ledger_tables())


def event_ids(rows: pa.Table) -> list[int]:
    return [
        (a << 32) | b
        for a, b in zip(rows["ledger_sequence"].to_pylist(), rows["event_index"].to_pylist(), strict=True)
    ]


async def control(ws: ClientConnection, kind: str, timeout: float = 10) -> dict[str, Any]:
    """Next text message of type ``kind`` (status messages are skipped)."""
    while True:
        message = orjson.loads(await asyncio.wait_for(ws.recv(), timeout))
        if message["type"] == kind:
            return message
        assert message["type"] in ("status", "ping"), message


async def collect(ws: ClientConnection, until_id: int, decode: Callable[[Any], list[int]]) -> list[int]:
    """Event ids from events frames until ``until_id`` has been received."""
    got: list[int] = []
    while not got or got[-1] < until_id:
        frame = await asyncio.wait_for(ws.recv(), 20)
        if isinstance(frame, str) and orjson.loads(frame)["type"] != "events":
            continue
        got.extend(decode(frame))
    return got


def json_ids(frame: str | bytes) -> list[int]:
    return [int(r["id"]) for r in orjson.loads(frame)["data"]]


@functools.cache
def _busy_account() -> str:
    """The account receiving most events in ledgers FIRST+2..FIRST+6."""
    receivers = whole("token_transfers", FIRST + 2, FIRST + 6)["to"].drop_null()
    counts = pc.value_counts(receivers).to_pylist()
    return str(max(counts, key=lambda c: c["counts"])["values"])


LIVE_FILTERS = [
    (
        {"event_types": ["transfer", "mint"], "assets": ["native"]},
        lambda r: r["event_type"] in ("transfer", "mint") and r["asset"] == "native",
    ),
    (
        {"accounts": [_busy_account()], "min_amount": "0.01"},
        lambda r: _busy_account() in (r["from"], r["to"]) and int(r["amount_raw"]) >= 100_000,
    ),
]


@pytest.mark.parametrize(("filters", "predicate"), LIVE_FILTERS)
def test_live_subscription_with_filters(
    make_api: Callable[..., Running], filters: dict[str, Any], predicate: Callable[[dict[str, Any]], bool]
) -> None:
    running = make_api(committed=2, live=0)
    records = whole("token_transfers", FIRST + 2, FIRST + 6).to_pylist()
    want = [(r["ledger_sequence"] << 32) | r["event_index"] for r in records if predicate(r)]
    assert want

    async def scenario() -> list[int]:
        async with connect(running.ws_url, compression=None) as ws:
            await ws.send(orjson.dumps({"type": "subscribe", "filters": filters}).decode())
            assert (await control(ws, "subscribed"))["format"] == "json"
            writer = threading.Thread(target=lambda: [running.write_ledger(i) for i in range(2, 7)])
            writer.start()
            got = await collect(ws, want[-1], json_ids)
            writer.join()
            return got

    assert asyncio.run(scenario()) == want


@pytest.mark.parametrize("filters", [None, {"event_types": ["transfer", "burn"]}])
def test_resume_from_a_ledger_cursor_has_no_gap(make_api: Callable[..., Running], filters: Any) -> None:
    running = make_api()  # 10 committed + 5 live ledgers; 5 more are written during the replay
    cursor = FIRST + 4
    rows = whole("token_transfers", cursor + 1, FIRST + ALL - 1)
    if filters:
        rows = rows.filter(pa.array([t in filters["event_types"] for t in rows["event_type"].to_pylist()]))
    want = event_ids(rows)

    async def scenario() -> tuple[list[int], dict[str, Any]]:
        async with connect(running.ws_url, compression=None, max_size=None) as ws:
            message: dict[str, Any] = {"type": "subscribe", "cursor": cursor}
            if filters:
                message["filters"] = filters
            await ws.send(orjson.dumps(message).decode())
            writer = threading.Thread(
                target=lambda: [running.write_ledger(i) for i in range(COMMITTED + LIVE, ALL)]
            )
            writer.start()
            got: list[int] = []
            done: dict[str, Any] = {}
            while not done or not got or got[-1] < want[-1]:
                frame = orjson.loads(await asyncio.wait_for(ws.recv(), 20))
                if frame["type"] == "events":
                    got.extend(int(r["id"]) for r in frame["data"])
                elif frame["type"] == "replay_done":
                    done = frame
            writer.join()
            return got, done

    got, done = asyncio.run(scenario())
    assert got == want  # every event after the cursor, in order, exactly once
    assert done["cursor"] >= FIRST + COMMITTED + LIVE - 1


@pytest.mark.parametrize(("fmt", "compression"), [("arrow", "none"), ("arrow", "zstd"), ("json", "zstd")])
def test_binary_formats(make_api: Callable[..., Running], fmt: str, compression: str) -> None:
    running = make_api(committed=1, live=0)
    rows = whole("token_transfers", FIRST + 1, FIRST + 2)
    rows = rows.filter(pa.array([t == "fee" for t in rows["event_type"].to_pylist()]))

    def decode(frame: bytes) -> list[int]:
        assert isinstance(frame, bytes)
        if fmt == "arrow":
            table = pa.ipc.open_stream(frame).read_all()
            assert table.schema.field("amount").type == pa.decimal128(38, 7)
            return [int(i) for i in table["id"].to_pylist()]
        return json_ids(zstandard.ZstdDecompressor().decompressobj().decompress(frame))

    async def scenario() -> list[int]:
        async with connect(running.ws_url, compression=None) as ws:
            sub = {
                "type": "subscribe",
                "format": fmt,
                "compression": compression,
                "filters": {"event_types": ["fee"]},
            }
            await ws.send(orjson.dumps(sub).decode())
            await control(ws, "subscribed")
            running.write_ledger(1)
            running.write_ledger(2)
            return await collect(ws, event_ids(rows)[-1], decode)

    assert asyncio.run(scenario()) == event_ids(rows)


def test_malformed_messages_get_errors_and_the_connection_survives(make_api: Callable[..., Running]) -> None:
    running = make_api(committed=1, live=0)
    bad = [
        ("not json", "message"),
        ('{"type": "subscribe", "filters": {"colour": ["red"]}}', "filters.colour"),
        ('{"type": "subscribe", "filters": {"accounts": ["GNOTANACCOUNT"]}}', "filters.accounts"),
        ('{"type": "subscribe", "filters": {"event_types": ["swap"]}}', "filters.event_types"),
        ('{"type": "subscribe", "format": "xml"}', "format"),
        ('{"type": "subscribe", "cursor": "yesterday"}', "cursor"),
        ('{"type": "subscribe", "filters": {"min_amount": "0.123456789"}}', "filters.min_amount"),
        ('{"type": "dance"}', "type"),
    ]

    async def scenario() -> list[tuple[str, str]]:
        fields = []
        async with connect(running.ws_url, compression=None) as ws:
            for text, _ in bad:
                await ws.send(text)
                error = await control(ws, "error")
                fields.append((error["field"], error["message"]))
            await ws.send('{"type": "ping"}')
            await control(ws, "pong")
        return fields

    got = asyncio.run(scenario())
    assert [f for f, _ in got] == [f for _, f in bad]
    assert all(message for _, message in got)


async def _close_reason(ws: ClientConnection) -> tuple[int | None, str | None]:
    try:
        while True:
            await asyncio.wait_for(ws.recv(), 20)
    except ConnectionClosed as exc:
        return (exc.rcvd.code, exc.rcvd.reason) if exc.rcvd else (None, None)


def test_connection_caps(make_api: Callable[..., Running]) -> None:
    running = make_api(ApiSettings(api_port=0, ws_max_connections=3, ws_max_connections_per_ip=2), 1, 0)

    async def scenario() -> tuple[tuple[int | None, str | None], str]:
        async with connect(running.ws_url) as a, connect(running.ws_url) as b:
            await a.send('{"type": "ping"}')
            await b.send('{"type": "ping"}')
            await control(a, "pong")
            await control(b, "pong")
            async with connect(running.ws_url) as c:
                refused = await _close_reason(c)
        metrics = running.http.get("/metrics").text
        return refused, metrics

    (code, reason), metrics = asyncio.run(scenario())
    assert code == 1013 and reason is not None and "too many connections from 127.0.0.1" in reason
    assert 'ws_connections_rejected_total{reason="per_ip"} 1.0' in metrics


def test_message_rate_limit_and_idle_timeout(make_api: Callable[..., Running]) -> None:
    options = ApiSettings(
        api_port=0, ws_message_rate=5, ws_message_burst=5, ws_idle_timeout_s=0.8, ws_ping_timeout_s=0.8
    )
    running = make_api(options, 1, 0)

    async def scenario() -> list[tuple[int | None, str | None]]:
        out = []
        async with connect(running.ws_url) as ws:
            for _ in range(30):
                await ws.send('{"type": "ping"}')
            out.append(await _close_reason(ws))
        async with connect(running.ws_url) as ws:
            # answering the server's ping keeps the connection open past the idle timeout
            for _ in range(3):
                await control(ws, "ping", timeout=5)
                await ws.send('{"type": "pong"}')
            out.append(await _close_reason(ws))  # now stay silent
        return out

    (rate_code, rate_reason), (idle_code, idle_reason) = asyncio.run(scenario())
    assert rate_code == 1008 and rate_reason is not None and "message rate exceeded" in rate_reason
    assert idle_code == 1001 and idle_reason is not None and "idle timeout" in idle_reason


def test_slow_client_is_evicted_and_others_get_everything(make_api: Callable[..., Running]) -> None:
    running = make_api(ApiSettings(api_port=0, ws_queue_messages=4), committed=0, live=0)
    want = event_ids(whole("token_transfers"))

    async def scenario() -> tuple[list[int], tuple[int | None, str | None]]:
        tiny = socket.socket()
        tiny.setsockopt(
            socket.SOL_SOCKET, socket.SO_RCVBUF, 4096
        )  # a client that reads nothing, fills up fast
        tiny.connect(("127.0.0.1", running.server.port))
        async with (
            connect(running.ws_url, sock=tiny, max_queue=1, compression=None) as slow,
            connect(running.ws_url, compression=None, max_size=None) as fast,
        ):
            for ws in (slow, fast):
                await ws.send('{"type": "subscribe"}')
                await control(ws, "subscribed")

            def write_all() -> None:
                for index in range(ALL):
                    running.write_ledger(index)
                    time.sleep(0.05)

            writer = threading.Thread(target=write_all)
            writer.start()
            got = await collect(fast, want[-1], json_ids)
            writer.join()
            deadline = time.monotonic() + 10
            while 'ws_clients_evicted_total{reason="slow"} 1.0' not in running.http.get("/metrics").text:
                assert time.monotonic() < deadline, "slow client was not evicted"
                await asyncio.sleep(0.05)
            return got, await _close_reason(slow)

    got, (code, reason) = asyncio.run(scenario())
    assert got == want
    assert code == 1013 and reason is not None and reason.startswith("slow consumer")


def test_global_connection_cap(make_api: Callable[..., Running]) -> None:
    running = make_api(ApiSettings(api_port=0, ws_max_connections=1, ws_max_connections_per_ip=10), 1, 0)

    async def scenario() -> tuple[int | None, str | None]:
        async with connect(running.ws_url) as first:
            await first.send('{"type": "ping"}')
            await control(first, "pong")
            async with connect(running.ws_url) as second:
                return await _close_reason(second)

    code, reason = asyncio.run(scenario())
    assert code == 1013 and reason == "server full: 1 connections"
    assert 'ws_connections_rejected_total{reason="global"} 1.0' in running.http.get("/metrics").text
