"""``stellar-arrow rpc-replay`` as a user runs it: a subprocess serving the sample lake, releasing ledgers."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from stellar_arrow.source.rpc import RpcLedgerSource

from .conftest import LAKES, PUBNET, REPO

pytestmark = pytest.mark.integration


def test_cli_serves_a_lake_and_releases_ledgers_gradually() -> None:
    command = [
        str(Path(sys.executable).parent / "stellar-arrow"),
        "rpc-replay",
        "--lake",
        str(LAKES / "pubnet-p26"),
        "--port",
        "0",
        "--start-at",
        "63092999",
        "--ledger-interval",
        "1.0",  # the client must see the tip before two releases, also on a busy host
    ]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        command, cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
    )
    try:
        assert process.stdout is not None
        url = ""
        deadline = time.monotonic() + 30
        while not url and time.monotonic() < deadline:
            line = process.stdout.readline()
            if "listening on " in line:
                url = line.split("listening on ", 1)[1].strip()
        assert url.startswith("http://127.0.0.1:")
        with RpcLedgerSource(url, network_passphrase=PUBNET, poll_interval=0.05) as source:
            first_latest = source.latest_ledger()
            assert first_latest < 63093001
            got = []
            for seq, _ in source.ledgers(63092998):
                got.append(seq)
                if seq == 63093001:
                    source.stop()
        assert got == [63092998, 63092999, 63093000, 63093001]
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if process.stdout:
            process.stdout.close()
        if process.stderr:
            process.stderr.close()
