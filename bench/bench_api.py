"""REST latency: filtered ``/api/v1/transfers`` queries over the sample data, server in its own process.

The server holds the 20 real pubnet ledgers 63092982-63093001 (12,864 token transfers) committed to Parquet
(date/asset_code partitions) plus the last 2 ledgers in the live buffer, so each query reads files and live
rows. The client sends keep-alive requests one at a time (latency) and then from N threads (throughput).

    .venv/bin/python bench/bench_api.py --requests 2000 --threads 4
    .venv/bin/python bench/bench_api.py --cache-bytes 0   # no file cache: each query reads the Parquet files
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow.compute as pc

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def serve(port_out: Any, stop: Any, cache_bytes: int | None = None) -> None:
    from stellar_arrow.api import ApiServer, TransferStore, create_app
    from stellar_arrow.config import ApiSettings, SinkSettings
    from stellar_arrow.sink import Checkpoint, DatasetSink
    from tests.unit.sink.realdata import ledger_tables, schemas

    root = Path(tempfile.mkdtemp(prefix="bench-api-"))
    sink = DatasetSink(
        root, schemas(), SinkSettings(partition_by=("date", "asset_code"), flush_interval_s=3600)
    )
    tables = ledger_tables()
    for index, (seq, per) in enumerate(tables):
        for table, rows in per.items():
            sink.write_batch(table, rows)
        if index == len(tables) - 3:
            sink.commit(Checkpoint(seq))
    store = (
        TransferStore(sink.reader())
        if cache_bytes is None
        else TransferStore(sink.reader(), cache_bytes=cache_bytes)
    )
    server = ApiServer(create_app(ApiSettings(api_port=0), store)).start()
    port_out.send(server.port)
    stop.recv()
    server.stop()


def queries() -> list[tuple[str, str]]:
    from tests.unit.sink.realdata import FIRST, whole

    rows = whole("token_transfers").to_pylist()
    usdc = next(r for r in rows if r["asset_code"] == "USDC")
    counts = pc.value_counts(whole("token_transfers")["to"].drop_null()).to_pylist()
    busy = max(counts, key=lambda c: c["counts"])["values"]
    mid = (FIRST << 32) | 500
    return [
        ("account", f"/api/v1/transfers?account={busy}&limit=50"),
        ("asset+type", f"/api/v1/transfers?asset=USDC:{usdc['asset_issuer']}&event_type=transfer&limit=100"),
        (
            "ledgers+amount",
            f"/api/v1/transfers?from_ledger={FIRST + 5}&to_ledger={FIRST + 12}&min_amount=100",
        ),
        ("cursor page", f"/api/v1/transfers?cursor={mid}&limit=200&event_type=transfer,mint,burn"),
        ("desc newest", "/api/v1/transfers?order=desc&limit=20&event_type=transfer"),
    ]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[int(q * (len(ordered) - 1))]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument(
        "--cache-bytes", type=int, default=None, help="the API's file cache (default: its default)"
    )
    args = parser.parse_args()
    ctx = mp.get_context("spawn")
    port_in, port_out = ctx.Pipe(duplex=False)
    stop_in, stop_out = ctx.Pipe()
    extra = () if args.cache_bytes is None else (args.cache_bytes,)
    proc = ctx.Process(target=serve, args=(port_out, stop_in, *extra))
    proc.start()
    base = f"http://127.0.0.1:{port_in.recv()}"
    cases = queries()
    result: dict[str, Any] = {"requests": args.requests}
    try:
        with httpx.Client(base_url=base, timeout=30) as client:
            for _, url in cases * 5:  # warm-up: parquet metadata cache, code paths
                client.get(url).raise_for_status()
            per: dict[str, list[float]] = {name: [] for name, _ in cases}
            for i in range(args.requests):
                name, url = cases[i % len(cases)]
                t0 = time.perf_counter()
                client.get(url).raise_for_status()
                per[name].append((time.perf_counter() - t0) * 1000)
        every = [v for values in per.values() for v in values]
        result["sequential"] = {
            "p50_ms": round(statistics.median(every), 2),
            "p95_ms": round(percentile(every, 0.95), 2),
            "p99_ms": round(percentile(every, 0.99), 2),
            "per_query_p95_ms": {name: round(percentile(v, 0.95), 2) for name, v in per.items()},
        }
        latencies: list[float] = []
        lock = threading.Lock()

        def worker(offset: int) -> None:
            mine: list[float] = []
            with httpx.Client(base_url=base, timeout=30) as client:
                for i in range(args.requests // args.threads):
                    _, url = cases[(i + offset) % len(cases)]
                    t0 = time.perf_counter()
                    client.get(url).raise_for_status()
                    mine.append((time.perf_counter() - t0) * 1000)
            with lock:
                latencies.extend(mine)

        t0 = time.perf_counter()
        threads = [threading.Thread(target=worker, args=(n,)) for n in range(args.threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        elapsed = time.perf_counter() - t0
        result[f"{args.threads}_threads"] = {
            "requests_per_s": round(len(latencies) / elapsed),
            "p50_ms": round(statistics.median(latencies), 2),
            "p95_ms": round(percentile(latencies, 0.95), 2),
        }
    finally:
        stop_out.send("stop")
        proc.join(30)
    print(orjson.dumps(result, option=orjson.OPT_INDENT_2).decode())


if __name__ == "__main__":
    main()
