"""``stellar-arrow run`` with ``pipeline.processes: one``: the three services in the run process."""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pyarrow as pa
import pyarrow.flight as fl
import pytest
import yaml

from stellar_arrow.config import load_settings
from stellar_arrow.errors import SinkError
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.pipeline.run import run_pipeline, run_settings
from stellar_arrow.pipeline.single import InProcessPipeline

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-c", "from stellar_arrow.cli import main; main()"]


def _config(kit: Any, path: Path, *, start: int, end: int, tables: list[str] | None = None) -> Path:
    sink: dict[str, Any] = {"flight_port": 0, "health_port": 0}
    if tables is not None:
        sink["tables"] = tables
    return kit.write_config(  # type: ignore[no-any-return]
        path,
        {
            "source": {
                "flight_port": 0,
                "health_port": 0,
                "datalake_uri": str(kit.sample_lake),
                "start_ledger": start,
                "end_ledger": end,
            },
            "processor": {"flight_port": 0, "health_port": 0},
            "sink": sink,
            "api": {"api_port": 0},
            "pipeline": {"processes": "one"},
        },
    )


def test_the_default_is_one_process() -> None:
    assert load_settings().pipeline.processes == "one"


def test_one_process_run_writes_every_table_from_the_run_process(
    tmp_path: Path, repo_root: Path, expected_tables: dict[str, pa.Table], kit: Any
) -> None:
    config = _config(kit, tmp_path / "pipeline.yaml", start=kit.first, end=kit.last)
    out = tmp_path / "out"
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
    env["GRPC_VERBOSITY"] = "ERROR"
    proc = subprocess.Popen(
        [*CLI, "run", "--config", str(config), "--out", str(out), "--exit-when-done"],
        cwd=repo_root,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    stdout, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 0, stderr
    assert f"ledgers {kit.first}..{kit.last} committed" in stdout
    kit.assert_same_tables(kit.read_output(out), expected_tables)
    # every service ran in the run process itself: one pid, one log, no child's ready file
    for role in ("source", "processor", "sink"):
        assert f"{role:<9} started at grpc://127.0.0.1:" in stdout
    assert stdout.count(f"(pid {proc.pid}") == 6, stdout  # started + summary line of each service
    for role in ("source", "processor", "sink"):  # the same ready files as supervised children write
        ready = json.loads((out / "_run" / f"{role}.ready.json").read_text())
        assert ready["pid"] == proc.pid and ready["uri"].startswith("grpc://127.0.0.1:")
    effective = yaml.safe_load((out / "_run" / "pipeline.yaml").read_text())
    assert effective["pipeline"]["processes"] == "one" and effective["sink"]["flight_port"] > 0
    log = (out / "_run" / "pipeline.log").read_text()
    for role in ("source", "processor", "sink"):
        assert f'"role": "{role}"' in log
    assert "Traceback" not in stderr


def test_one_process_serves_flight_health_and_api_while_running(tmp_path: Path, kit: Any) -> None:
    """Until stopped, the in-process services answer as the separate ones do; logging is restored after."""
    config = _config(kit, tmp_path / "pipeline.yaml", start=kit.first, end=kit.first + 2)
    settings = run_settings(config, tmp_path / "out")
    handlers = list(logging.getLogger().handlers)
    pipeline = InProcessPipeline(settings, tmp_path / "out" / "_run")
    pipeline.start()
    try:
        sink = pipeline.children["sink"]
        assert sink.uri is not None and sink.api_url is not None and sink.health_url is not None
        deadline = time.monotonic() + 60
        status = pipeline.sink_status()
        while not (status and status.get("done")) and time.monotonic() < deadline:
            time.sleep(0.1)
            status = pipeline.sink_status()
        assert status is not None and status["done"] and status["checkpoint"] == kit.first + 2
        client = fl.connect(sink.uri)
        ticket = encode_request(StreamRequest("ledgers", start_ledger=kit.first, end_ledger=kit.first + 2))
        assert client.do_get(fl.Ticket(ticket)).read_all().num_rows == 3
        client.close()
        assert httpx.get(f"{sink.health_url}/health/live", timeout=5).status_code == 200
        transfers = httpx.get(f"{sink.api_url}/api/v1/transfers?limit=5", timeout=10)
        assert transfers.status_code == 200 and transfers.json()
        processor = pipeline.children["processor"]
        assert processor.pid == os.getpid()
    finally:
        pipeline.stop()
    assert logging.getLogger().handlers == handlers
    # the whole command's path: a summary read back from the commit log, logging restored again
    lines: list[str] = []
    again = run_settings(config, tmp_path / "again")
    summary = run_pipeline(again, output_dir=tmp_path / "again", exit_when_done=True, echo=lines.append)
    assert summary.first_ledger == kit.first and summary.last_ledger == kit.first + 2
    assert any(line.startswith("done in ") for line in lines)
    assert logging.getLogger().handlers == handlers


def test_one_process_run_fails_naming_a_missing_ledger(tmp_path: Path, kit: Any) -> None:
    """A data error at the source crosses processor and sink in one process as it does between processes."""
    config = _config(
        kit, tmp_path / "pipeline.yaml", start=kit.last - 2, end=kit.last + 3, tables=["token_transfers"]
    )
    settings = run_settings(config, tmp_path / "out")
    with pytest.raises(SinkError, match=f"ledger {kit.last + 1}"):
        run_pipeline(
            settings, output_dir=tmp_path / "out", exit_when_done=True, echo=lambda _: None, timeout_s=60
        )
