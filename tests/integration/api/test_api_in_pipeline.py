"""The sink's HTTP API while ``stellar-arrow run`` runs: REST and WebSocket against the Parquet output."""

from __future__ import annotations

import asyncio
import socket
import time
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from websockets.asyncio.client import connect

from stellar_arrow.build import table_schema
from stellar_arrow.sink import read_commits
from tests.integration.api.live_pipeline import FIRST, LAST, LivePipeline, live_pipeline
from tests.unit.sink.realdata import whole

pytestmark = pytest.mark.integration

CURSOR = FIRST + 1  # the WebSocket client has everything up to here
AVAILABLE = FIRST + 4  # the source's tip until the test releases the later ledgers


def _committed(out: Path, table: str) -> pa.Table:
    schema = table_schema(table)
    paths = [out / m.path for r in read_commits(out) for m in r.files if m.table == table]
    return pa.concat_tables(pq.ParquetFile(p).read().select(schema.names).cast(schema) for p in paths)


def _key(row: dict[str, Any]) -> tuple[object, ...]:
    amount = row["amount"] if isinstance(row["amount"], Decimal) else Decimal(row["amount"])
    return (
        int(row["ledger_sequence"]),
        int(row["event_index"]),
        row["event_type"],
        row["from"],
        row["to"],
        row["asset"],
        row["amount_raw"],
        amount,
        row["transaction_hash"],
    )


def _page_all(http: httpx.Client, url: str) -> list[dict[str, Any]]:
    """Every record of a paged list, following ``next`` links until a short page."""
    records: list[dict[str, Any]] = []
    while True:
        body = http.get(url).raise_for_status().json()
        page = body["_embedded"]["records"]
        records.extend(page)
        if len(page) < 200:
            return records
        url = body["_links"]["next"]["href"]


async def _subscribe_and_collect(pipeline: LivePipeline, expected_events: int) -> tuple[list[int], int]:
    """Subscribe with a cursor, then release the later ledgers; collect ids until the last ledger's."""
    deadline = time.monotonic() + 30
    with httpx.Client(base_url=pipeline.api_url, timeout=10) as http:  # the sink holds the available ledgers
        while http.get("/api/v1/status").json()["progress"]["last_ledger"] != AVAILABLE:
            assert time.monotonic() < deadline, "the sink did not receive the first ledgers"
            await asyncio.sleep(0.1)
    async with connect(pipeline.ws_url, compression=None, max_size=None) as ws:
        await ws.send(orjson.dumps({"type": "subscribe", "cursor": CURSOR}).decode())
        pipeline.release()  # ledgers after AVAILABLE now appear one by one at the source
        got: list[int] = []
        replayed = -1
        deadline = time.monotonic() + 60
        while len(got) < expected_events or replayed < 0:
            assert time.monotonic() < deadline, f"got {len(got)} of {expected_events} events"
            frame = orjson.loads(await asyncio.wait_for(ws.recv(), 30))
            if frame["type"] == "events":
                got.extend(int(r["id"]) for r in frame["data"])
            elif frame["type"] == "replay_done":
                replayed = len(got)
        return got, replayed


def test_rest_and_websocket_while_the_pipeline_runs(tmp_path: Path) -> None:
    oracle = whole("token_transfers", CURSOR + 1, LAST)  # built from the corpus files, not by the pipeline
    oracle_ids = [
        (a << 32) | b
        for a, b in zip(*oracle.select(["ledger_sequence", "event_index"]).to_pydict().values(), strict=True)
    ]
    with live_pipeline(tmp_path, available=AVAILABLE, ledger_interval=0.3) as pipeline:
        http = httpx.Client(base_url=pipeline.api_url, timeout=10)
        assert http.get("/health").json()["status"] == "ok"
        got, replayed = asyncio.run(_subscribe_and_collect(pipeline, expected_events=len(oracle_ids)))

        deadline = time.monotonic() + 30
        while (http.get("/api/v1/status").json().get("sink", {}).get("checkpoint") or 0) < LAST:
            assert time.monotonic() < deadline, "the sink did not commit the last ledger"
            time.sleep(0.1)
        assert http.get("/ready").json() == {"status": "ready"}
        transfers = _committed(pipeline.out, "token_transfers")
        ledgers = _committed(pipeline.out, "ledgers")

        # WebSocket: every event after the cursor, in order, exactly once (replay, then live)
        want_ids = [
            (r["ledger_sequence"] << 32) | r["event_index"]
            for r in transfers.select(["ledger_sequence", "event_index"]).to_pylist()
            if r["ledger_sequence"] > CURSOR
        ]
        assert got == want_ids == oracle_ids
        assert 0 < replayed < len(got)  # CURSOR+1..AVAILABLE replayed from the store, the rest arrived live

        # REST: a ledger range paged through, and a filtered query over everything, equal Parquet
        lo, hi = FIRST + 5, FIRST + 7
        rows = _page_all(http, f"/api/v1/transfers?from_ledger={lo}&to_ledger={hi}&limit=200")
        window = [r for r in transfers.to_pylist() if lo <= r["ledger_sequence"] <= hi]
        assert [_key(r) for r in rows] == [_key(r) for r in window]
        assert [int(r["id"]) for r in rows] == [
            (r["ledger_sequence"] << 32) | r["event_index"] for r in window
        ]

        minted = _page_all(http, "/api/v1/transfers?event_type=mint,burn&order=desc&limit=200")
        want = [r for r in transfers.to_pylist() if r["event_type"] in ("mint", "burn")]
        assert want and [_key(r) for r in minted] == [_key(r) for r in reversed(want)]

        for seq in (FIRST, FIRST + 10, LAST):
            body = http.get(f"/api/v1/ledgers/{seq}").raise_for_status().json()
            (row,) = [r for r in ledgers.to_pylist() if r["sequence"] == seq]
            assert body["ledger"]["ledger_hash"] == row["ledger_hash"]
            assert body["ledger"]["transaction_count"] == row["transaction_count"]
            types = [r["event_type"] for r in transfers.to_pylist() if r["ledger_sequence"] == seq]
            assert body["transfers"]["count"] == len(types)
            assert body["transfers"]["by_event_type"] == {t: types.count(t) for t in set(types)}

        port = int(pipeline.api_url.rsplit(":", 1)[1])
        http.close()
        assert pipeline.stop() == 0
        with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
            pass  # the API stopped with the sink
