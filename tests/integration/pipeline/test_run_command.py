"""``stellar-arrow run`` and ``stellar-arrow serve`` as real processes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.flight as fl
import pytest

from stellar_arrow.flight.stream import decode_watermark
from stellar_arrow.flight.tickets import StreamRequest, encode_request

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-c", "from stellar_arrow.cli import main; main()"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
    env["GRPC_VERBOSITY"] = "ERROR"
    return env


@pytest.mark.parametrize("processes", ["one", "separate"])
def test_run_exit_when_done_writes_every_table(
    tmp_path: Path, repo_root: Path, expected_tables: dict[str, pa.Table], kit: Any, processes: str
) -> None:
    out = tmp_path / "out"
    proc = subprocess.run(
        [*CLI, "run", "--exit-when-done", "--out", str(out)],
        cwd=repo_root,
        env=_env() | {"STELLAR_ARROW_PIPELINE__PROCESSES": processes},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    assert f"ledgers {kit.first}..{kit.last} committed" in proc.stdout
    for table, rows in expected_tables.items():
        assert f"{table}" in proc.stdout and f"{rows.num_rows} rows" in proc.stdout
        assert (out / table).is_dir()
    assert "import duckdb" in proc.stdout
    kit.assert_same_tables(kit.read_output(out), expected_tables)
    # the services were stopped: nothing listens at the printed addresses any more
    ready = json.loads((out / "_run" / "sink.ready.json").read_text())
    assert (ready["pid"] == _source_pid(proc.stdout)) == (processes == "one")
    with pytest.raises(ProcessLookupError):
        os.kill(ready["pid"], 0)


def test_run_rejects_bad_config_naming_the_key(tmp_path: Path, repo_root: Path, kit: Any) -> None:
    config = kit.write_config(tmp_path / "bad.yaml", {"sink": {"parquet_compression": "xz"}})
    proc = subprocess.run(
        [*CLI, "run", "--config", str(config), "--exit-when-done"],
        cwd=repo_root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "sink.parquet_compression" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_serve_source_stops_cleanly_on_sigterm(tmp_path: Path, repo_root: Path, kit: Any) -> None:
    config = kit.write_config(
        tmp_path / "pipeline.yaml",
        {
            "source": {
                "flight_port": 0,
                "health_port": 0,
                "datalake_uri": str(repo_root / "data/lakes/pubnet-p26"),
            }
        },
    )
    ready = tmp_path / "source.ready.json"
    proc = subprocess.Popen(
        [*CLI, "serve", "source", "--config", str(config), "--ready-file", str(ready)],
        env=_env(),
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        uri = json.loads(ready.read_text())["uri"]
        client = fl.connect(uri)
        request = StreamRequest("ledger_close_meta", start_ledger=kit.last, live=True)
        reader = client.do_get(fl.Ticket(encode_request(request)))
        mark = decode_watermark(reader.read_chunk().app_metadata.to_pybytes())
        assert mark is not None and mark.ledger_sequence == kit.last  # now waiting at the tip
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
        assert time.monotonic() - started < 5
        with pytest.raises(fl.FlightError):
            reader.read_chunk()
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_run_keeps_serving_until_interrupted(
    tmp_path: Path, repo_root: Path, expected_tables: dict[str, pa.Table], kit: Any
) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [*CLI, "run", "--out", str(out)],
        cwd=repo_root,
        env=_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            assert line, f"run exited early: {''.join(lines)} {proc.stderr.read() if proc.stderr else ''}"
            lines.append(line)
            if "serving until interrupted" in line:
                break
        # still serving: the committed tables come back from the sink over Flight
        sink = json.loads((out / "_run" / "sink.ready.json").read_text())
        request = StreamRequest("token_transfers", start_ledger=kit.first, end_ledger=kit.last)
        table = fl.connect(sink["uri"]).do_get(fl.Ticket(encode_request(request))).read_all()
        assert table.num_rows == sum(1 for _ in range(table.num_rows)) > 0
        assert table.column("ledger_sequence").to_pylist() == sorted(
            table.column("ledger_sequence").to_pylist()
        )
        # the sink serves the dashboard and the REST API at the URL the summary prints
        api_url = sink["api_url"]
        assert f"dashboard at {api_url}/" in "".join(lines)
        assert f"REST       {api_url}/api/v1/transfers" in "".join(lines)
        assert "<title>stellar-arrow" in httpx.get(api_url + "/", timeout=10).text
        body = httpx.get(api_url + "/api/v1/transfers?limit=200", timeout=10).json()
        rest_ids = [int(r["id"]) for r in body["_embedded"]["records"]]
        flight_ids = [
            (a << 32) | b
            for a, b in zip(
                table.column("ledger_sequence").to_pylist()[:200],
                table.column("event_index").to_pylist()[:200],
                strict=True,
            )
        ]
        assert rest_ids == flight_ids
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 0
        with pytest.raises(ProcessLookupError):
            os.kill(sink["pid"], 0)
        with pytest.raises(httpx.ConnectError):
            httpx.get(api_url + "/health", timeout=2)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def _source_pid(summary: str) -> int:
    """The pid the summary prints for the source service."""
    line = next(line for line in summary.splitlines() if line.startswith("source    started at"))
    return int(line.split("(pid ", 1)[1].split(",", 1)[0].rstrip(")"))


def _children(pid: int) -> list[int]:
    """Pids whose parent is ``pid`` (from /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def test_killed_source_leaves_no_orphan_worker(tmp_path: Path, repo_root: Path, kit: Any) -> None:
    config = kit.write_config(
        tmp_path / "pipeline.yaml",
        {
            "source": {
                "flight_port": 0,
                "health_port": 0,
                "table_workers": 1,
                "datalake_uri": str(kit.sample_lake),
            }
        },
    )
    ready = tmp_path / "source.ready.json"
    proc = subprocess.Popen(
        [*CLI, "serve", "source", "--config", str(config), "--ready-file", str(ready)], env=_env()
    )
    try:
        deadline = time.monotonic() + 60
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline
            time.sleep(0.02)
        client = fl.connect(json.loads(ready.read_text())["uri"])
        ledgers = StreamRequest("ledgers", start_ledger=kit.first, end_ledger=kit.first + 1)
        assert client.do_get(fl.Ticket(encode_request(ledgers))).read_all().num_rows == 2  # built in the pool
        workers = _children(proc.pid)
        assert workers, "the table builders did not run in a worker process"
        proc.kill()
        proc.wait()
        deadline = time.monotonic() + 5
        while any(Path(f"/proc/{w}").exists() for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not [w for w in workers if Path(f"/proc/{w}").exists()], "worker outlived its service"
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()


def test_a_missing_ledger_fails_the_run_naming_it(tmp_path: Path, repo_root: Path, kit: Any) -> None:
    """A data error at the source crosses processor and sink and ends the run with the ledger's name."""
    config = kit.write_config(
        tmp_path / "pipeline.yaml",
        {
            "source": {
                "flight_port": 0,
                "health_port": 0,
                "datalake_uri": str(kit.sample_lake),
                "start_ledger": kit.last - 2,
                "end_ledger": kit.last + 3,
            },
            "processor": {"flight_port": 0, "health_port": 0},
            "sink": {
                "flight_port": 0,
                "health_port": 0,
                "output_dir": str(tmp_path / "out"),
                "tables": ["token_transfers"],
            },
            "api": {"api_port": 0},  # 8081 may be taken on a shared machine
        },
    )
    proc = subprocess.run(
        [*CLI, "run", "--config", str(config), "--exit-when-done"],
        cwd=repo_root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    # a ledger missing from a bounded range is a data failure (exit 1, docs/configuration.md)
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert f"ledger {kit.last + 1}" in proc.stderr
    assert "Traceback" not in proc.stderr
