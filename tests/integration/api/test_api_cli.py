"""``stellar-arrow api DIR`` in its own process over a committed sink directory."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from stellar_arrow.config import SinkSettings
from stellar_arrow.sink import DatasetSink
from tests.unit.sink.realdata import FIRST, ledger_tables, schemas, whole

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_api_command_serves_a_directory(tmp_path: Path) -> None:
    with DatasetSink(tmp_path, schemas(), SinkSettings(partition_by=("date",))) as sink:
        for seq, per in ledger_tables()[:3]:
            for table, rows in per.items():
                sink.write_batch(table, rows)
            sink.advance(seq)
    port = _free_port()
    command = [sys.executable, "-c", "from stellar_arrow.cli import main; main()", "api", str(tmp_path)]
    proc = subprocess.Popen([*command, "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
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
        assert summary["events"] == whole("token_transfers", FIRST, FIRST + 2).num_rows
        ledger = httpx.get(f"{base}/api/v1/ledgers/{FIRST + 1}").json()
        assert ledger["ledger"]["ledger_hash"] == ledger_tables()[1][1]["ledgers"]["ledger_hash"][0].as_py()
    finally:
        proc.terminate()
        proc.wait(15)
