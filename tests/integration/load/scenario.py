"""The load check of issue #11: a real sink process under 50 Flight streams and 50 WebSocket replays.

Used by ``tests/integration/load/test_load.py`` (bounded in time, with assertions) and
``bench/bench_load.py`` (prints the figures of ``docs/performance.md``). The sink runs in its own process
(``stellar-arrow serve sink``, so its RSS is its own) over the real tables of the 20 sample ledgers
63092982-63093001, committed by the sink's own writer five ledgers at a time (what a run over the sample
lake commits); its upstreams are absent, its loop finds the range already committed. Every Flight stream
asks for the whole range of ``token_transfers``, every WebSocket client subscribes from cursor 0; each must
get exactly the expected rows or a clear busy refusal. Meanwhile one client times REST queries. The sink's
peak RSS is ``VmHWM`` of ``/proc/PID/status``.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pyarrow.flight as fl
from websockets.asyncio.client import connect

from stellar_arrow.config import SinkSettings
from stellar_arrow.sink import Checkpoint, DatasetSink
from tests.unit.sink.realdata import FIRST, LAST, ledger_tables, schemas, whole

__all__ = ["LoadResult", "SinkProcess", "build_output", "run_load"]

REPO = Path(__file__).resolve().parents[3]
CLI = [sys.executable, "-c", "from stellar_arrow.cli import main; main()"]
REST_QUERIES = (
    {"limit": "10"},
    {"limit": "50", "event_type": "transfer", "asset": "native"},
    {"limit": "20", "from_ledger": str(FIRST + 5), "to_ledger": str(FIRST + 9), "min_amount": "1"},
    {"limit": "200", "order": "desc"},
)


def build_output(root: Path) -> Path:
    """The sink's output of the sample range: all four tables, date partitions, a commit every 5 ledgers."""
    with DatasetSink(root, schemas(), SinkSettings(flush_interval_s=3600)) as sink:
        for seq, per in ledger_tables():
            for table, rows in per.items():
                sink.write_batch(table, rows)
            sink.advance(seq)
            if (seq - FIRST) % 5 == 4:
                sink.commit(Checkpoint(seq))
    return root


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rss_kib(pid: int) -> dict[str, int]:
    found: dict[str, int] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            found[key] = int(value.split()[0])
    return found


class SinkProcess:
    """``stellar-arrow serve sink`` over ``output`` on free loopback ports, in its own process.

    ``python``: the interpreter (and so the installed stellar-arrow) to run it with, e.g. another checkout's.
    """

    def __init__(
        self,
        output: Path,
        work: Path,
        extra: dict[str, dict[str, Any]] | None = None,
        environment: dict[str, str] | None = None,
        python: str = sys.executable,
    ) -> None:
        dead = f"grpc://127.0.0.1:{_closed_port()}"
        config = {
            "source": {
                "datalake_uri": str(REPO / "data" / "lakes" / "pubnet-p26"),
                "network_passphrase": "pubnet",
                "start_ledger": FIRST,
                "end_ledger": LAST,
            },
            "sink": {
                "output_dir": str(output),
                "processor_endpoint": dead,
                "source_endpoint": dead,
                "flight_port": 0,
                "health_port": 0,
            },
            "api": {"api_port": 0},
        }
        for section, keys in (extra or {}).items():
            config.setdefault(section, {}).update(keys)
        self.config = work / "sink.yaml"
        self.config.write_text(json.dumps(config), encoding="utf-8")  # JSON is YAML
        self.ready = work / "sink.ready.json"
        self.ready.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
        env["GRPC_VERBOSITY"] = "ERROR"
        env.update(environment or {})
        self.log = (work / "sink.log").open("w")
        command = [python, *CLI[1:], "serve", "sink", "--config", str(self.config)]
        self.process = subprocess.Popen(
            [*command, "--ready-file", str(self.ready)],
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 90
        while not self.ready.exists():
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                msg = f"the sink did not start: {(work / 'sink.log').read_text()[-2000:]}"
                raise RuntimeError(msg)
            time.sleep(0.1)
        body = json.loads(self.ready.read_text())
        self.pid: int = body["pid"]
        self.flight_uri: str = body["uri"]
        self.api_url: str = body["api_url"]
        self.ws_url = self.api_url.replace("http://", "ws://") + "/ws"

    def rss_kib(self) -> dict[str, int]:
        """``VmRSS`` (now) and ``VmHWM`` (peak) of the sink process, in KiB."""
        return _rss_kib(self.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(10)
        self.log.close()


@dataclass
class LoadResult:
    flight: Counter[str] = field(default_factory=Counter)  # ok / busy / wrong / error: ...
    websocket: Counter[str] = field(default_factory=Counter)
    rest_ms: list[float] = field(default_factory=list)
    rest_status: Counter[int] = field(default_factory=Counter)
    rss_before_kib: dict[str, int] = field(default_factory=dict)
    rss_after_kib: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def rest_percentile(self, q: float) -> float:
        ordered = sorted(self.rest_ms)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")

    def summary(self) -> str:
        before, after = self.rss_before_kib, self.rss_after_kib
        rest = f"REST {len(self.rest_ms)} requests {dict(self.rest_status)}"
        p50, p95 = self.rest_percentile(0.5), self.rest_percentile(0.95)
        mib = {f"{when}_{key}": kib[key] / 1024 for when, kib in (("b", before), ("a", after)) for key in kib}
        return (
            f"flight {dict(self.flight)}; websocket {dict(self.websocket)}; {rest}, p50 {p50:.1f} ms, "
            f"p95 {p95:.1f} ms; sink RSS {mib.get('b_VmRSS', 0):.0f} MiB before "
            f"(peak {mib.get('b_VmHWM', 0):.0f}), peak under load {mib.get('a_VmHWM', 0):.0f} MiB, "
            f"{mib.get('a_VmRSS', 0):.0f} MiB after; {self.seconds:.1f} s"
        )


def _ids(rows: pa.Table) -> list[int]:
    ledgers, indexes = rows["ledger_sequence"].to_pylist(), rows["event_index"].to_pylist()
    return [(a << 32) | b for a, b in zip(ledgers, indexes, strict=True)]


def _expected() -> tuple[list[int], list[int]]:
    ids = _ids(whole("token_transfers"))
    return ids, sorted(ids)


def _flight_stream(
    uri: str, ticket: bytes, want_sorted: list[int], result: LoadResult, lock: threading.Lock
) -> None:
    outcome: str
    try:
        with fl.FlightClient(uri) as client:
            reader = client.do_get(fl.Ticket(ticket), options=fl.FlightCallOptions(timeout=120))
            got = _ids(reader.read_all())
        outcome = "ok" if sorted(got) == want_sorted else f"wrong: {len(got)} rows"
    except fl.FlightUnavailableError as exc:
        busy = json.loads(exc.extra_info or b"{}").get("code") == "busy"
        outcome = "busy" if busy else f"error: {type(exc).__name__}: {str(exc)[:120]}"
    except Exception as exc:
        outcome = f"error: {type(exc).__name__}: {str(exc)[:120]}"
    with lock:
        result.flight[outcome] += 1


async def _replay(url: str, want: list[int]) -> str:
    try:
        async with connect(url, compression=None, max_size=None, open_timeout=60) as ws:
            await ws.send('{"type": "subscribe", "cursor": 0}')
            got: list[int] = []
            while True:
                frame = orjson.loads(await asyncio.wait_for(ws.recv(), 120))
                if frame["type"] == "events":
                    got.extend(int(r["id"]) for r in frame["data"])
                elif frame["type"] == "error":
                    busy = frame["message"].startswith("busy")
                    return "busy" if busy else f"error: {frame['message'][:120]}"
                elif frame["type"] == "replay_done":
                    return "ok" if got == want else f"wrong: {len(got)} events"
    except Exception as exc:
        return f"error: {type(exc).__name__}: {str(exc)[:120]}"


def _replays(url: str, count: int, want: list[int], result: LoadResult) -> None:
    async def all_of_them() -> list[str]:
        return await asyncio.gather(*(_replay(url, want) for _ in range(count)))

    result.websocket.update(asyncio.run(all_of_them()))


def _rest(base: str, stop: threading.Event, result: LoadResult) -> None:
    with httpx.Client(base_url=base, timeout=30) as http:
        turn = 0
        while not stop.is_set():
            started = time.perf_counter()
            try:
                query = REST_QUERIES[turn % len(REST_QUERIES)]
                status = http.get("/api/v1/transfers", params=query).status_code
            except httpx.HTTPError:
                status = 0
            result.rest_ms.append((time.perf_counter() - started) * 1000)
            result.rest_status[status] += 1
            turn += 1
            stop.wait(0.02)


def run_load(sink: SinkProcess, *, streams: int = 50, replays: int = 50) -> LoadResult:
    """Warm the sink up, then run ``streams`` Flight reads and ``replays`` WebSocket replays at once while
    timing REST queries; returns the outcomes, REST latencies and the sink's RSS before and after."""
    want, want_sorted = _expected()
    request = {"v": 1, "stream": "token_transfers", "start_ledger": FIRST, "end_ledger": LAST}
    ticket = json.dumps(request).encode()
    result = LoadResult()
    lock = threading.Lock()
    warm = LoadResult()
    _flight_stream(sink.flight_uri, ticket, want_sorted, warm, lock)
    _replays(sink.ws_url, 1, want, warm)
    if warm.flight["ok"] != 1 or warm.websocket["ok"] != 1:
        msg = f"warm-up failed: {warm.summary()}"
        raise RuntimeError(msg)
    httpx.get(f"{sink.api_url}/api/v1/transfers", params={"limit": 10}, timeout=30).raise_for_status()
    result.rss_before_kib = sink.rss_kib()
    stop = threading.Event()
    rest = threading.Thread(target=_rest, args=(sink.api_url, stop, result))
    started = time.monotonic()
    rest.start()
    workers = [
        threading.Thread(target=_flight_stream, args=(sink.flight_uri, ticket, want_sorted, result, lock))
        for _ in range(streams)
    ]
    workers.append(threading.Thread(target=_replays, args=(sink.ws_url, replays, want, result)))
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(300)
    result.seconds = time.monotonic() - started
    stop.set()
    rest.join(60)
    result.rss_after_kib = sink.rss_kib()
    return result
