"""Upstream faults through ``stellar-arrow run --exit-when-done`` (three real service processes).

* A faulty RPC in front of rpc-replay: 5xx bursts (plain text and JSON), 429 with ``Retry-After``,
  truncated bodies, a reply later than the read timeout, and connection resets. The run retries and
  commits exactly the tables of a fault-free run (the tables built straight from the lake). A reply
  that is not JSON is terminal: the run stops with one line naming it, exit status 1.
* The lake in a moto S3 server that is stopped after the first commit and restarted 2 s later, and
  behind a proxy whose first connections stall (accepted, never answered) before it recovers: the run
  completes with identical tables.

The fault tests keep the run live (no ``--exit-when-done``) until every ledger is committed, read the
source service's ``/metrics`` on the health port it published in ``_run/source.ready.json``, then stop
the run with SIGTERM: the retries and breaker transitions the faults caused are in the metrics.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import orjson
import pyarrow as pa
import pytest
from prometheus_client.parser import text_string_to_metric_families
from starlette.responses import Response

from stellar_arrow.sink import read_commits
from stellar_arrow.source.rpc_replay import ReplayLake
from tests.integration.resilience.moto_s3 import REGION, RestartableMoto, upload_folder
from tests.integration.resilience.tcp_faults import FaultyTcpProxy
from tests.integration.source.conftest import AppServer, RpcProxy

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("supervisor")]
CLI = [sys.executable, "-c", "from stellar_arrow.cli import main; main()"]
# separate processes (pipeline.processes): the assertions are about what the source service process met
PORTS = {
    "processor": {"flight_port": 0, "health_port": 0},
    "api": {"api_port": 0},
    "pipeline": {"processes": "separate"},
}


def _sink(out: Path) -> dict[str, Any]:
    return {
        "flight_port": 0,
        "health_port": 0,
        "output_dir": str(out),
        "batch_rows": 1,
        "flush_interval_s": 0.05,
    }


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("STELLAR_ARROW_", "AWS_"))}
    env["GRPC_VERBOSITY"] = "ERROR"
    return env | extra


def _logs(out: Path) -> str:
    return "\n".join(p.read_text(encoding="utf-8", errors="replace") for p in (out / "_run").glob("*.log"))


@dataclass(frozen=True, slots=True)
class LiveRun:
    """A finished live run: exit status, output, and the services' metrics (summed) once all was committed."""

    returncode: int
    stdout: str
    stderr: str
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float]

    def value(self, metric: str, /, **labels: str) -> float:
        """Sum of the samples ``metric`` whose labels include ``labels`` (0 when there is none)."""
        wanted = set(labels.items())
        return sum(v for (n, lbl), v in self.metrics.items() if n == metric and wanted <= lbl)

    def labelled(self, metric: str, label: str) -> dict[str, float]:
        """Samples of ``metric`` by the value of ``label``."""
        return {dict(lbl)[label]: v for (n, lbl), v in self.metrics.items() if n == metric}


def _live_run(
    config: Path,
    out: Path,
    env: dict[str, str],
    *,
    budget_s: float,
    during: Callable[[subprocess.Popen[bytes]], None] | None = None,
) -> LiveRun:
    """``run`` without ``--exit-when-done``: ``during`` the run, then once all is committed (the summary is
    printed), scrape every service's ``/metrics`` and stop the run with SIGTERM."""
    stdout_path, stderr_path = out.parent / "run.stdout", out.parent / "run.stderr"
    with stdout_path.open("wb") as so, stderr_path.open("wb") as se:
        run = subprocess.Popen(
            [*CLI, "run", "--config", str(config)], stdout=so, stderr=se, env=env | {"PYTHONUNBUFFERED": "1"}
        )
        try:
            deadline = time.monotonic() + budget_s
            if during is not None:
                during(run)
            while "serving until interrupted" not in stdout_path.read_text(encoding="utf-8"):
                assert run.poll() is None, stderr_path.read_text(encoding="utf-8")[-3000:]
                assert time.monotonic() < deadline, stdout_path.read_text(encoding="utf-8")[-3000:]
                time.sleep(0.05)
            replies = []
            for role in ("source", "processor", "sink"):
                ready = orjson.loads((out / "_run" / f"{role}.ready.json").read_bytes())
                reply = httpx.get(f"{ready['health_url']}/metrics", timeout=10)
                reply.raise_for_status()
                replies.append(reply.text)
            run.send_signal(signal.SIGTERM)
            run.wait(timeout=30)
        finally:
            if run.poll() is None:
                run.kill()
                run.wait(10)
    metrics: dict[tuple[str, frozenset[tuple[str, str]]], float] = {}
    for text in replies:  # summed over the services: whichever one met the faults counts them
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                key = (sample.name, frozenset(sample.labels.items()))
                metrics[key] = metrics.get(key, 0.0) + sample.value
    return LiveRun(
        run.returncode,
        stdout_path.read_text(encoding="utf-8"),
        stderr_path.read_text(encoding="utf-8"),
        metrics,
    )


def _reply(status: int, body: bytes, **headers: str) -> Any:
    return lambda method, request, reply: Response(body, status_code=status, headers=headers or None)


def _late(method: str, request: dict[str, Any], reply: dict[str, Any]) -> Response:
    time.sleep(2.5)  # past the client's 1 s read timeout (the whole server stalls meanwhile)
    return Response(orjson.dumps(reply), media_type="application/json")


def _truncated(method: str, request: dict[str, Any], reply: dict[str, Any]) -> Response:
    body = orjson.dumps(reply)
    return Response(body[: len(body) // 2], headers={"content-length": str(len(body))})


def test_run_over_a_faulty_rpc_commits_the_fault_free_tables(
    tmp_path: Path, kit: Any, expected_tables: dict[str, pa.Table]
) -> None:
    rpc = RpcProxy(ReplayLake(str(kit.sample_lake)))
    rpc.faults = [
        _reply(500, b"Internal Server Error"),
        None,
        _reply(500, orjson.dumps({"error": "core is catching up"})),
        None,
        _reply(429, b"too many requests", **{"retry-after": "1"}),
        None,
        _truncated,
        None,
        _reply(503, b""),
        _truncated,
        None,
        _reply(502, b"<html>bad gateway</html>"),
        None,
        _late,
    ]
    rpc.fault_methods = frozenset({"getLedgers"})  # inside the range, not in the tip probes (getHealth)
    out = tmp_path / "out"
    with AppServer(rpc.app()) as server:
        host, port = server.url.removeprefix("http://").rstrip("/").split(":")
        with FaultyTcpProxy((host, int(port)), fault="reset", count=2) as resets:
            source = {
                "source_type": "rpc",
                "rpc_endpoint": resets.url,
                "start_ledger": kit.first,
                "end_ledger": kit.last,
                "batch_size": 2,  # ten getLedgers pages: more calls than faults
                "read_timeout_s": 1,
                "breaker_failures": 2,  # two failures in a row (the resets, 503 + truncated) open it
                "breaker_reset_s": 0.2,
                "flight_port": 0,
                "health_port": 0,
            }
            sink = {"flight_port": 0, "health_port": 0, "output_dir": str(out)}
            config = kit.write_config(tmp_path / "run.yaml", {"source": source, "sink": sink, **PORTS})
            started = time.monotonic()
            run = _live_run(config, out, _env(), budget_s=180)
            elapsed = time.monotonic() - started
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"ledgers {kit.first}..{kit.last} committed" in run.stdout
    assert rpc.faults == []  # every fault was served, and survived
    assert resets.connections > 2
    kit.assert_same_tables(kit.in_row_order(kit.read_output(out)), kit.in_row_order(expected_tables))
    assert '"retrying"' in _logs(out) or "retrying" in run.stderr
    assert elapsed >= 1.0  # Retry-After: 1 was honoured by whoever got the 429
    retries = run.labelled("retry_attempts_total", "operation")
    assert retries.get("rpc_getLedgers", 0) >= 8, retries  # one retry at least per fault of getLedgers
    breaker = f"rpc:{resets.url.rstrip('/')}"
    transitions = {
        state: run.value("circuit_breaker_transitions_total", name=breaker, state=state)
        for state in ("open", "half-open", "closed")
    }
    assert transitions["open"] >= 1 and transitions["closed"] >= 1, transitions  # opened, then recovered
    assert run.value("circuit_breaker_state", name=breaker) == 0  # closed at the end


def test_run_over_an_rpc_answering_html_stops_with_one_line(tmp_path: Path, kit: Any) -> None:
    rpc = RpcProxy(ReplayLake(str(kit.sample_lake)))
    rpc.faults = [None, None, None, None] + [_reply(200, b"<html>maintenance</html>")] * 50
    out = tmp_path / "out"
    with AppServer(rpc.app()) as server:
        source = {
            "source_type": "rpc",
            "rpc_endpoint": server.url,
            "start_ledger": kit.first,
            "end_ledger": kit.last,
            "flight_port": 0,
            "health_port": 0,
        }
        sink = {"flight_port": 0, "health_port": 0, "output_dir": str(out)}
        config = kit.write_config(tmp_path / "run.yaml", {"source": source, "sink": sink, **PORTS})
        started = time.monotonic()
        done = subprocess.run(
            [*CLI, "run", "--config", str(config), "--exit-when-done"],
            capture_output=True,
            text=True,
            env=_env(),
            timeout=120,
            check=False,
        )
        elapsed = time.monotonic() - started
    assert done.returncode == 1, done.stderr[-3000:]
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1, done.stderr[-3000:]
    assert errors[0].startswith("error: SinkError: sink failed (nothing committed yet): ")
    assert "refused stream" in errors[0]  # terminal at every stage: not retried
    assert f"at {server.url}: HTTP 200 with a reply that is not JSON: '<html>maintenance</html>'" in errors[0]
    assert "Traceback" not in done.stderr
    assert elapsed < 90  # at once, not after the reconnect budget of every stage


@pytest.fixture
def moto_lake(kit: Any) -> Iterator[RestartableMoto]:
    server = RestartableMoto().start()
    client: Any = server.client()
    client.create_bucket(Bucket="run-lake")
    upload_folder(client, "run-lake", kit.sample_lake, "pubnet")
    yield server
    server.stop()


def _s3_source(endpoint: str, kit: Any, **overrides: object) -> dict[str, Any]:
    return {
        "datalake_uri": "s3://run-lake/pubnet",
        "storage_options": {"endpoint_url": endpoint},
        "start_ledger": kit.first,
        "end_ledger": kit.last,
        "flight_port": 0,
        "health_port": 0,
        "table_workers": 0,
        "buffer_size": 1,
        "concurrent_readers": 1,
        "connect_timeout_s": 1,
        "read_timeout_s": 2,
        "call_timeout_s": 5,
        "retry_attempts": 20,
        "retry_budget_s": 25,
        "breaker_failures": 1,
        "breaker_reset_s": 0.5,
    } | overrides


def _s3_env() -> dict[str, str]:
    return _env(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION=REGION)


def _assert_lake_faults_in_metrics(run: LiveRun) -> None:
    """The source retried lake reads, and its bucket's breaker opened and closed again."""
    retries = run.labelled("retry_attempts_total", "operation")
    assert sum(v for op, v in retries.items() if op.startswith("lake_")) >= 1, retries
    transitions = {
        state: run.value("circuit_breaker_transitions_total", name="lake:s3://run-lake", state=state)
        for state in ("open", "half-open", "closed")
    }
    assert transitions["open"] >= 1 and transitions["closed"] >= 1, transitions
    assert run.value("circuit_breaker_state", name="lake:s3://run-lake") == 0  # closed at the end


def test_run_survives_the_lakes_s3_server_stopping_and_restarting(
    tmp_path: Path, kit: Any, expected_tables: dict[str, pa.Table], moto_lake: RestartableMoto
) -> None:
    out = tmp_path / "out"
    source = _s3_source(moto_lake.endpoint, kit)
    config = kit.write_config(tmp_path / "run.yaml", {"source": source, "sink": _sink(out), **PORTS})
    restarts: list[threading.Timer] = []

    def outage(run: subprocess.Popen[bytes]) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and run.poll() is None:
            if any(r.checkpoint.ledger_sequence >= kit.first for r in read_commits(out)):
                break
            time.sleep(0.02)
        committed = max((r.checkpoint.ledger_sequence for r in read_commits(out)), default=None)
        assert committed is not None and committed < kit.last - 5, committed  # mid-run
        moto_lake.stop()
        restarts.append(threading.Timer(2.0, moto_lake.start))
        restarts[0].start()

    try:
        run = _live_run(config, out, _s3_env(), budget_s=120, during=outage)
    finally:
        for timer in restarts:
            timer.join(10)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"ledgers {kit.first}..{kit.last} committed" in run.stdout
    kit.assert_same_tables(kit.in_row_order(kit.read_output(out)), kit.in_row_order(expected_tables))
    source_log = (out / "_run" / "source.log").read_text(encoding="utf-8", errors="replace")
    assert '"retrying"' in source_log and "lake_read" in source_log
    assert '"circuit breaker state change"' in source_log and "lake:s3://run-lake" in source_log
    _assert_lake_faults_in_metrics(run)
    assert run.labelled("retry_attempts_total", "operation").get("lake_read", 0) >= 1


def test_run_over_an_s3_that_stalls_then_recovers_commits_the_fault_free_tables(
    tmp_path: Path, kit: Any, expected_tables: dict[str, pa.Table], moto_lake: RestartableMoto
) -> None:
    out = tmp_path / "out"
    with FaultyTcpProxy(("127.0.0.1", moto_lake.port), fault="stall", count=3) as stalls:
        # the first three connections are accepted and never answered: each read times out (0.5 s)
        # the network is given: the run's own process reads nothing, the source service meets the stalls
        source = _s3_source(
            stalls.url.rstrip("/"),
            kit,
            read_timeout_s=0.5,
            call_timeout_s=2,
            network_passphrase=kit.passphrase,
        )
        config = kit.write_config(tmp_path / "run.yaml", {"source": source, "sink": _sink(out), **PORTS})
        run = _live_run(config, out, _s3_env(), budget_s=120)
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"ledgers {kit.first}..{kit.last} committed" in run.stdout
    assert stalls.connections > 3  # it stalled, then served
    kit.assert_same_tables(kit.in_row_order(kit.read_output(out)), kit.in_row_order(expected_tables))
    _assert_lake_faults_in_metrics(run)
