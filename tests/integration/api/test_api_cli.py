"""``stellar-arrow api DIR`` in its own process over a sink output and an export output; a missing DIR."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import SinkSettings
from stellar_arrow.sink import DatasetSink
from tests.conftest import DATA
from tests.unit.sink.realdata import FIRST, ledger_tables, schemas, whole

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


COMMAND = [sys.executable, "-c", "from stellar_arrow.cli import main; main()", "api"]


def _check_served(folder: Path, last: int) -> None:
    """Start ``stellar-arrow api folder`` and check its answers for ledgers FIRST..last."""
    port = _free_port()
    proc = subprocess.Popen(
        [*COMMAND, str(folder), "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "api command did not come up"
            time.sleep(0.1)
        summary = httpx.get(f"{base}/api/v1/stats/summary").json()
        assert summary["events"] == whole("token_transfers", FIRST, last).num_rows
        assert summary["last_ledger"] == last
        ledger = httpx.get(f"{base}/api/v1/ledgers/{FIRST + 1}").json()
        assert ledger["ledger"]["ledger_hash"] == ledger_tables()[1][1]["ledgers"]["ledger_hash"][0].as_py()
    finally:
        proc.terminate()
        proc.wait(15)


def test_api_command_serves_a_directory(tmp_path: Path) -> None:
    with DatasetSink(tmp_path, schemas(), SinkSettings(partition_by=("date",))) as sink:
        for seq, per in ledger_tables()[:3]:
            for table, rows in per.items():
                sink.write_batch(table, rows)
            sink.advance(seq)
    _check_served(tmp_path, FIRST + 2)


def test_api_command_serves_an_export_output(tmp_path: Path) -> None:
    out = tmp_path / "export"
    args = ["export", "--no-progress", "--source", str(DATA / "lakes" / "pubnet-p26"), "--start", str(FIRST)]
    args += ["--end", str(FIRST + 3), "--chunk-size", "2", "--tables", "ledgers,token_transfers"]
    result = CliRunner().invoke(app, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    _check_served(out, FIRST + 3)


def test_api_command_refuses_a_missing_folder_in_one_line(tmp_path: Path) -> None:
    done = subprocess.run(
        [*COMMAND, str(tmp_path / "missing"), "--port", "0"], capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 2 and done.stdout == ""
    assert done.stderr.count("\n") == 1 and done.stderr.startswith("error: ConfigError: ")
    assert f"{tmp_path / 'missing'} does not exist" in done.stderr
