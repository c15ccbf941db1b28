"""WebSocket fan-out: N filtered subscribers on loopback, events/s delivered and added latency.

Server process: a DatasetSink + the API app (uvicorn, uvloop/httptools, deflate off) and a publisher thread
that writes real pubnet token transfers (ledgers 63092982-63093001, relabelled to fresh ledger numbers on
each pass) at a fixed ledger rate and records when each ledger was handed to the sink. Client process (this
one): N websockets connections, each with its own filter (event type, asset, account or min amount), one
asyncio loop. Latency = time a subscriber received a ledger's events - time that ledger was written.

    .venv/bin/python bench/bench_ws.py --clients 500 --rate 4 --ledgers 40
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing as mp
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _relabel(rows: pa.Table, offset: int) -> pa.Table:
    index = rows.schema.get_field_index("ledger_sequence")
    moved = pc.add(rows["ledger_sequence"], pa.scalar(offset, pa.uint32()))
    return rows.set_column(index, rows.schema.field(index), moved)


def serve(port_out: Any, control: Any, rate: float, ledgers: int) -> None:
    """Server process: API + publisher; sends (port) then, on request, the publish times."""
    from stellar_arrow.api import ApiServer, TransferStore, create_app
    from stellar_arrow.config import ApiSettings, SinkSettings
    from stellar_arrow.sink import DatasetSink
    from tests.unit.sink.realdata import ledger_tables

    base = ledger_tables()
    root = Path(tempfile.mkdtemp(prefix="bench-ws-"))
    schema = base[0][1]["token_transfers"].schema
    sink = DatasetSink(root, {"token_transfers": schema}, SinkSettings(flush_interval_s=3600))
    options = ApiSettings(
        api_port=0,
        ws_max_connections=5000,
        ws_max_connections_per_ip=5000,
        ws_queue_messages=1024,
        ws_idle_timeout_s=600,
        status_interval_s=3600,
    )
    server = ApiServer(create_app(options, TransferStore(sink.reader()))).start()
    port_out.send(server.port)
    control.recv()  # clients connected and subscribed
    cpu0 = time.process_time()
    published: dict[int, float] = {}
    first = base[0][0]
    for n in range(ledgers):
        _seq, per = base[n % len(base)]
        offset = (n // len(base)) * len(base)
        rows = _relabel(per["token_transfers"], offset) if offset else per["token_transfers"]
        published[first + n] = time.time()
        sink.write_batch("token_transfers", rows)
        time.sleep(max(0.0, 1.0 / rate - (time.time() - published[first + n])))
    time.sleep(2.0)
    metrics = __import__("httpx").get(f"{server.base_url}/metrics").text
    evicted = sum(
        float(line.split()[-1])
        for line in metrics.splitlines()
        if line.startswith("ws_clients_evicted_total")
    )
    control.send((published, evicted, time.process_time() - cpu0))
    control.recv()
    server.stop()


def filters_for(count: int) -> list[dict[str, Any]]:
    """Realistic subscriptions drawn from the real data: event types, assets, busy accounts, min amounts."""
    from tests.unit.sink.realdata import whole

    rows = whole("token_transfers")
    accounts = [a for a in pc.value_counts(rows["to"]).to_pylist() if a["values"]]
    accounts = [a["values"] for a in sorted(accounts, key=lambda a: -a["counts"])[:200]]
    assets = [a["values"] for a in pc.value_counts(rows["asset"]).to_pylist() if a["values"]][:20]
    out: list[dict[str, Any]] = []
    for i in range(count):
        kind = i % 4
        if kind == 0:
            out.append({"event_types": [["transfer"], ["mint", "burn"], ["fee"]][i % 3]})
        elif kind == 1:
            out.append({"assets": [assets[i % len(assets)]]})
        elif kind == 2:
            out.append({"accounts": [accounts[i % len(accounts)]]})
        else:
            out.append({"min_amount": ["100", "1000", "10"][i % 3], "event_types": ["transfer"]})
    return out


async def run_clients(port: int, filters: list[dict[str, Any]], control: Any, ledgers: int) -> dict[str, Any]:
    from websockets.asyncio.client import connect

    received: list[tuple[int, float]] = []  # (last ledger in the frame, receive time)
    events = 0
    frames = 0
    done = asyncio.Event()

    async def client(spec: dict[str, Any]) -> None:
        nonlocal events, frames
        async with connect(
            f"ws://127.0.0.1:{port}/ws", compression=None, max_size=None, open_timeout=60
        ) as ws:
            await ws.send(orjson.dumps({"type": "subscribe", "filters": spec}).decode())
            ready.append(1)
            while not done.is_set():
                try:
                    raw = await asyncio.wait_for(ws.recv(), 1.0)
                except TimeoutError:
                    continue
                now = time.time()
                # the server writes type, count and ledger_range before data: parse only that header
                cut = raw.find(',"data":')
                message = orjson.loads(raw[:cut] + "}" if cut > 0 else raw)
                if message["type"] == "events":
                    received.append((message["ledger_range"][1], now))
                    events += message["count"]
                    frames += 1

    ready: list[int] = []
    tasks = []
    for spec in filters:
        tasks.append(asyncio.create_task(client(spec)))
        if len(tasks) % 50 == 0:
            await asyncio.sleep(0.05)
    while len(ready) < len(filters):
        await asyncio.sleep(0.05)
    await asyncio.sleep(0.5)
    start = time.time()
    cpu0 = time.process_time()
    control.send("go")
    published, evicted, server_cpu = await asyncio.to_thread(control.recv)
    client_cpu = time.process_time() - cpu0
    elapsed = time.time() - start
    done.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    control.send("stop")
    latencies = sorted((t - published[ledger]) * 1000 for ledger, t in received if ledger in published)
    return {
        "clients": len(filters),
        "ledgers": ledgers,
        "frames": frames,
        "events_delivered": events,
        "seconds": round(elapsed, 2),
        "events_per_s": round(events / elapsed),
        "p50_ms": round(statistics.median(latencies), 1),
        "p95_ms": round(latencies[int(0.95 * (len(latencies) - 1))], 1),
        "max_ms": round(latencies[-1], 1),
        "evicted": evicted,
        "server_cpu_s": round(server_cpu, 2),
        "client_cpu_s": round(client_cpu, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--clients", type=int, default=500)
    parser.add_argument("--rate", type=float, default=4.0, help="ledgers written per second")
    parser.add_argument("--ledgers", type=int, default=40)
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    port_in, port_out = ctx.Pipe(duplex=False)
    mine, theirs = ctx.Pipe()
    proc = ctx.Process(target=serve, args=(port_out, theirs, args.rate, args.ledgers))
    proc.start()
    port = port_in.recv()
    try:
        import uvloop

        uvloop.install()
    except ImportError:  # pragma: no cover
        pass
    result = asyncio.run(run_clients(port, filters_for(args.clients), mine, args.ledgers))
    proc.join(30)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
