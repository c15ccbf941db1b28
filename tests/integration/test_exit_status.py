"""One exit status convention for all commands: 0 ok, 1 data, 2 usage/settings, 3 unavailable, 130 Ctrl-C."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.errors import (
    ConfigError,
    ExitStatus,
    HashChainError,
    LedgerNotYetAvailableError,
    RequestError,
    RpcTransientError,
    SinkError,
    StorageError,
    SupervisorError,
    TicketError,
    UpstreamUnavailableError,
    XdrDecodeError,
    exit_status,
)
from stellar_arrow.source.rpc_replay import ReplayLake
from stellar_arrow.source.rpc_server import RpcReplayServer
from tests.conftest import CORPUS, DATA

pytestmark = pytest.mark.integration

LAKE = DATA / "lakes" / "pubnet-p26"
FIRST = 63092982
SCRIPT = str(Path(sys.executable).parent / "stellar-arrow")


def _cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.output


def test_every_error_class_has_its_status() -> None:
    assert exit_status(ConfigError("x")) == exit_status(RequestError("x", field="f")) == ExitStatus.USAGE
    assert exit_status(TicketError("x", field="f")) == ExitStatus.USAGE
    for transient in (
        StorageError("x"),
        RpcTransientError("x"),
        UpstreamUnavailableError("x"),
        LedgerNotYetAvailableError("x"),
        SupervisorError("x"),
    ):
        assert exit_status(transient) == ExitStatus.UNAVAILABLE, transient
    for data in (XdrDecodeError("x"), HashChainError("x"), SinkError("x")):
        assert exit_status(data) == ExitStatus.DATA_FAILURE
    assert exit_status(KeyboardInterrupt()) == ExitStatus.INTERRUPTED == 130


@pytest.mark.parametrize(
    "args",
    [
        ["run", "--config", "missing.yaml"],
        ["serve", "validator"],
        ["serve", "source", "--config", "missing.yaml"],
        ["api", "--port", "70000"],
        ["api", "--config", "missing.yaml"],
        ["rpc-replay", "--lake", "/nonexistent/lake"],
        ["rpc-replay", "--port", "-1"],
        ["rpc-replay", "--ledger-interval", "0"],
        ["verify", "--source", str(LAKE), "--start", str(FIRST), "--mode", "sideways"],
        ["verify", "--source", str(LAKE)],
        ["export", "--source", str(LAKE), "--start", str(FIRST), "--out", "o", "--chunk-size", "0"],
        ["export", "--source", str(LAKE), "--start", str(FIRST)],  # no --out
        ["validate", "--config", "missing.yaml"],
    ],
)
def test_usage_and_settings_errors_exit_two_with_one_line(args: list[str]) -> None:
    code, output = _cli(*args)
    assert code == ExitStatus.USAGE, output
    assert output.startswith("error: ConfigError: ") and len(output.strip().splitlines()) == 1, output


def test_settings_file_keys_are_checked_for_every_command(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("api:\n  health_port: 8088\n", encoding="utf-8")  # a key that no longer exists
    for command in (
        ["run"],
        ["serve", "sink"],
        ["api"],
        ["rpc-replay"],
        ["verify"],
        ["export"],
        ["validate"],
    ):
        code, output = _cli(*command, "--config", str(config))
        assert code == ExitStatus.USAGE and "api.health_port" in output, (command, output)


def test_data_failures_exit_one(tmp_path: Path) -> None:
    code, output = _cli(
        "export", "--no-progress", "--source", str(LAKE), "--start", "63093001", "--end", "63093002",
        "--out", str(tmp_path),
    )  # fmt: skip
    assert code == ExitStatus.DATA_FAILURE and "63093002" in output
    garbage = tmp_path / "garbage.xdr"
    garbage.write_bytes(b"\x00\x00\x00\x01" + b"\xff" * 64)
    code, output = _cli("verify", "--source", str(garbage), "--network", "pubnet")
    assert code == ExitStatus.DATA_FAILURE and "LedgerObjectError" in output, output


def test_ok_is_zero() -> None:
    code, output = _cli("verify", "--source", str(CORPUS / "pubnet-0057500008.xdr.gz"))
    assert code == ExitStatus.OK, output


def test_an_unreachable_store_exits_three(tmp_path: Path) -> None:
    """A lake over HTTP on a closed port: the store's retries give up (a few seconds), status 3."""
    code, output = _cli(
        "export", "--no-progress", "--source", "lake+http://127.0.0.1:9/lake", "--start", str(FIRST),
        "--end", str(FIRST), "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == ExitStatus.UNAVAILABLE, output
    # the store's own error, or the breaker it opened (naming that error): both mean "upstream unavailable"
    assert output.startswith(("error: StorageError: ", "error: CircuitOpenError: ")), output
    assert "127.0.0.1:9" in output


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


def _wait_idle(proc: subprocess.Popen[str], timeout_s: float = 60.0) -> None:
    """Wait until ``proc`` has started and sits idle (polling the RPC), not still importing."""
    deadline = time.monotonic() + timeout_s
    before = -1
    while time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.5)
        now = _cpu_ticks(proc.pid)
        if now > 50 and now - before <= 2:  # started (0.5 s of CPU) and quiet for 0.5 s
            return
        before = now
    pytest.fail(f"export did not settle: {proc.poll()}")


def test_ctrl_c_exits_130(tmp_path: Path) -> None:
    """An export waiting for ledgers past the RPC's tip is interrupted: status 130, one line."""
    with RpcReplayServer(ReplayLake(str(LAKE), start_at=FIRST, ledger_interval=600)) as server:
        cmd = [
            SCRIPT, "export", "--no-progress", "--source", server.url, "--start", str(FIRST),
            "--end", str(FIRST + 5), "--out", str(tmp_path / "o"), "--network", "pubnet",
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        try:
            _wait_idle(proc)  # the export starts, writes nothing and polls for ledger FIRST + 1
            proc.send_signal(signal.SIGINT)
            _, err = proc.communicate(timeout=30)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    assert proc.returncode == ExitStatus.INTERRUPTED, err
    assert err.strip() == "interrupted"


def test_a_service_refusing_its_settings_makes_run_exit_two(tmp_path: Path) -> None:
    """The sink's API port is taken: the child exits 2 before it is ready, and so does ``run``."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        config = tmp_path / "run.yaml"
        config.write_text(
            f"source:\n  flight_port: 0\n  datalake_uri: {LAKE}\n"
            f"  start_ledger: {FIRST}\n  end_ledger: {FIRST}\n"
            f"processor:\n  flight_port: 0\nsink:\n  flight_port: 0\n  output_dir: {tmp_path / 'out'}\n"
            f"api:\n  api_port: {taken.getsockname()[1]}\n",
            encoding="utf-8",
        )
        proc = subprocess.run(
            [SCRIPT, "run", "--config", str(config), "--exit-when-done"],
            capture_output=True,
            text=True,
            timeout=240,
            check=False,
        )
    assert proc.returncode == ExitStatus.USAGE, proc.stdout + proc.stderr
    assert "cannot listen" in proc.stderr and "Traceback" not in proc.stderr
