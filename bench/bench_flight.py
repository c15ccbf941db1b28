"""Flight benchmarks: token_transfers do_get throughput, and end-to-end latency of the live pipeline.

    .venv/bin/python bench/bench_flight.py [--repeat 30] [--rounds 10] [--interval 0.3]

Data: the 20 real pubnet ledgers 63092982-63093001 of ``data/lakes/pubnet-p26`` (12,864 token transfer
events). No ledger is fabricated or renumbered; latency rounds replay the same 20 real ledgers, each round
with freshly started services, so nothing is cached between rounds.

1. throughput: an in-process processor (port 0) whose per-ledger result cache (every table of a ledger
   from one decode) is warm, read by a client on loopback: do_get of the whole ``token_transfers`` stream
   (20 messages, one per ledger), median of ``--repeat`` passes; rows/s and MB/s of Arrow buffers
   received. The cold first pass (decoding included) is reported separately.
2. latency, lake: source and processor run as ``stellar-arrow serve`` processes over an initially empty lake
   directory; the bench publishes the real objects one by one every ``--interval`` s (atomic rename, as an
   upload appears) and a live ``token_transfers`` client records when each ledger's complete watermark
   arrives. Latency = arrival - publication (both clocks in this process).
3. latency, RPC: the same with ``rpc-replay`` (in this process) releasing one ledger every ``--interval`` s
   and a source with ``source_type: rpc``; availability time = the replay's release schedule.
"""

from __future__ import annotations

import argparse
import functools
import shutil
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow.flight as fl

from stellar_arrow.config import load_settings
from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.stream import decode_watermark
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.pipeline.components import table_builder
from stellar_arrow.pipeline.supervisor import Supervisor
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.source.rpc_replay import ReplayLake
from stellar_arrow.source.rpc_server import RpcReplayServer
from stellar_arrow.vocabulary import TABLES

REPO = Path(__file__).resolve().parent.parent
LAKE = REPO / "data" / "lakes" / "pubnet-p26"
FIRST, LAST = 63092982, 63093001


def _read_all(uri: str, request: StreamRequest) -> tuple[int, int, float]:
    client = fl.connect(uri)
    started = time.perf_counter()
    rows = nbytes = 0
    for chunk in client.do_get(fl.Ticket(encode_request(request))):
        rows += chunk.data.num_rows
        nbytes += chunk.data.nbytes
    elapsed = time.perf_counter() - started
    client.close()
    return rows, nbytes, elapsed


def bench_throughput(repeat: int) -> None:
    source = SourceService(functools.partial(DataLakeLedgerSource, str(LAKE)), first_ledger=FIRST)
    processor = ProcessorService(source.uri, table_builder(load_settings(), TABLES))
    request = StreamRequest("token_transfers", start_ledger=FIRST, end_ledger=LAST)
    try:
        rows, nbytes, cold = _read_all(processor.uri, request)
        runs = [_read_all(processor.uri, request)[2] for _ in range(repeat)]
    finally:
        processor.stop()
        source.stop()
    warm = statistics.median(runs)
    print(f"token_transfers do_get, 20 ledgers, {rows} rows, {nbytes / 1e6:.2f} MB of Arrow buffers")
    print(f"  cold (read, decode, all tables, transfer): {cold * 1000:.0f} ms, {rows / cold:,.0f} rows/s")
    print(
        f"  warm (results cached, transfer only), median of {repeat}: {warm * 1000:.1f} ms, "
        f"{rows / warm:,.0f} rows/s, {nbytes / 1e6 / warm:.0f} MB/s (min {min(runs) * 1000:.1f} ms)"
    )


def _live_client(uri: str, arrivals: dict[int, float], done: threading.Event, ready: threading.Event) -> None:
    client = fl.connect(uri)
    reader = client.do_get(fl.Ticket(encode_request(StreamRequest("token_transfers", FIRST, live=True))))
    ready.set()
    try:
        for chunk in reader:
            mark = decode_watermark(chunk.app_metadata.to_pybytes())
            if mark is not None and mark.complete:
                arrivals[mark.ledger_sequence] = time.monotonic()
                if mark.ledger_sequence >= LAST:
                    break
    finally:
        reader.cancel()
        done.set()


def _services(work: Path, source: dict[str, Any]) -> Supervisor:
    settings = load_settings(
        source={"flight_port": 0, "start_ledger": FIRST, "live": True, "poll_interval_s": 0.02, **source},
        processor={"flight_port": 0, "workers": 0},
        sink={"tables": ["token_transfers"]},  # the processor builds what a sink would write: events only
    )
    supervisor = Supervisor(settings, work / "_run")
    supervisor.start(("source", "processor"))
    return supervisor


def _round(
    work: Path,
    source: dict[str, Any],
    release: Callable[[int], float],
    first_available: int | Callable[[dict[int, float]], int],
) -> list[float]:
    supervisor = _services(work, source)
    try:
        arrivals: dict[int, float] = {}
        done, ready = threading.Event(), threading.Event()
        uri = supervisor.children["processor"].uri
        assert uri is not None
        thread = threading.Thread(target=_live_client, args=(uri, arrivals, done, ready), daemon=True)
        thread.start()
        ready.wait(30)
        if callable(first_available):
            first_available = first_available(arrivals)
        available = {seq: release(seq) for seq in range(first_available, LAST + 1)}
        if not done.wait(60):
            msg = f"live stream stalled: got {sorted(arrivals)}"
            raise RuntimeError(msg)
        return [arrivals[seq] - available[seq] for seq in range(first_available, LAST + 1)]
    finally:
        supervisor.stop()


def bench_latency_lake(rounds: int, interval: float) -> list[float]:
    latencies: list[float] = []
    for _ in range(rounds):
        with tempfile.TemporaryDirectory() as tmp:
            lake = Path(tmp) / "lake"
            lake.mkdir()
            shutil.copy(LAKE / ".config.json", lake / ".config.json")
            objects = {int(p.name.split("--")[1].split(".")[0]): p for p in LAKE.rglob("*.xdr.zst")}
            first = objects.pop(FIRST)  # the source needs the first ledger to start the stream at
            (lake / first.parent.name).mkdir()
            shutil.copy(first, lake / first.parent.name / first.name)
            time.sleep(0.5)

            def publish(seq: int, lake: Path = lake, objects: dict[int, Path] = objects) -> float:
                time.sleep(interval)
                src = objects[seq]
                tmp_path = lake / src.parent.name / f".{src.name}.tmp"
                shutil.copy(src, tmp_path)
                tmp_path.replace(lake / src.parent.name / src.name)
                return time.monotonic()

            latencies += _round(Path(tmp), {"datalake_uri": str(lake)}, publish, FIRST + 1)
    return latencies


def bench_latency_rpc(rounds: int, interval: float) -> list[float]:
    latencies: list[float] = []
    for _ in range(rounds):
        t0: list[float] = []

        def clock(t0: list[float] = t0) -> float:
            now = time.monotonic()
            if not t0:
                t0.append(now)
            return now

        replay = ReplayLake(str(LAKE), start_at=FIRST, ledger_interval=interval, clock=clock)
        with RpcReplayServer(replay) as rpc, tempfile.TemporaryDirectory() as tmp:
            source = {"source_type": "rpc", "rpc_endpoint": rpc.url}

            def released(seq: int, t0: list[float] = t0) -> float:
                at = t0[0] + (seq - FIRST) * interval
                time.sleep(max(0.0, at - time.monotonic()))
                return at

            def caught_up(arrivals: dict[int, float], replay: ReplayLake = replay) -> int:
                """Ledgers released before the services were up form a backlog: measure after it."""
                deadline = time.monotonic() + 30
                while time.monotonic() < deadline:
                    tip = replay.latest_ledger
                    if tip in arrivals:
                        return tip + 1
                    time.sleep(0.01)
                msg = "the live client never caught up with rpc-replay"
                raise RuntimeError(msg)

            latencies += _round(Path(tmp), source, released, caught_up)
    return latencies


def _report(name: str, latencies: list[float]) -> None:
    ms = sorted(x * 1000 for x in latencies)
    if not ms:
        print(f"{name}: no ledger measured (the live client never caught up with the tip)")
        return
    p50 = statistics.median(ms)
    p95 = ms[min(len(ms) - 1, round(0.95 * (len(ms) - 1)))]
    print(f"{name}: {len(ms)} ledgers")
    print(f"  p50 {p50:.0f} ms, p95 {p95:.0f} ms, min {ms[0]:.0f} ms, max {ms[-1]:.0f} ms")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument(
        "--rounds", type=int, default=11, help="latency rounds (19 ledgers each for the lake)"
    )
    parser.add_argument("--rpc-rounds", type=int, default=10)
    parser.add_argument("--interval", type=float, default=0.3, help="seconds between released ledgers")
    parser.add_argument("--part", choices=["all", "throughput", "lake", "rpc"], default="all")
    args = parser.parse_args(argv)
    if args.part in ("all", "throughput"):
        bench_throughput(args.repeat)
    if args.part in ("all", "lake"):
        _report(
            f"end-to-end latency, lake (object published -> events at client, every {args.interval} s)",
            bench_latency_lake(args.rounds, args.interval),
        )
    if args.part in ("all", "rpc"):
        _report(
            f"end-to-end latency, rpc-replay (ledger released -> events at client, every {args.interval} s)",
            bench_latency_rpc(args.rpc_rounds, args.interval),
        )
    sys.stdout.flush()


if __name__ == "__main__":
    main()
