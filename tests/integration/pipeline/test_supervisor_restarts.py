"""Supervisor restarts with real service processes: backoff, a limit, a clear stop, a taken port.

A killed service comes back after ``restart_backoff_initial_s``, then twice that, ...; one crash more
than ``restart_max`` stops the run with one line naming the service and how it died (``run`` exits 3).
A service whose pinned Flight port another process took comes back on a free port when its port was
chosen for it (its downstream services are restarted to reach it) and the tables are unchanged; a port
the user set is never moved: the run stops naming the port.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.errors import ConfigError, SupervisorError
from stellar_arrow.pipeline.serve import Role
from stellar_arrow.pipeline.supervisor import Supervisor, last_error

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("supervisor")]
CLI = [sys.executable, "-c", "from stellar_arrow.cli import main; main()"]


def _settings(out: Path, kit: Any, *, ports: dict[str, int] | None = None, **pipeline: Any) -> Any:
    ports = ports or {}
    return load_settings(
        source={
            "flight_port": ports.get("source", 0),
            "health_port": 0,
            "datalake_uri": str(kit.sample_lake),
            "table_workers": 0,
            "buffer_size": 1,
            "concurrent_readers": 1,
        },
        processor={"flight_port": ports.get("processor", 0), "health_port": 0, "workers": 0},
        sink={
            "flight_port": ports.get("sink", 0),
            "health_port": 0,
            "output_dir": str(out),
            "batch_rows": 1,
            "flush_interval_s": 0.05,
        },
        flight={"max_batch_rows": 1, "reconnect_timeout_s": 30.0},
        api={"api_port": 0},
        pipeline=pipeline,
    )


def _kill(supervisor: Supervisor, role: Role) -> None:
    child = supervisor.children[role]
    assert child.process is not None
    os.kill(child.process.pid, signal.SIGKILL)
    child.process.wait(10)


def _poll_until_restarted(supervisor: Supervisor, role: Role, timeout_s: float = 30) -> float:
    """Seconds until ``poll`` restarted ``role`` (the restart itself waits for the service to be ready)."""
    started = time.monotonic()
    while time.monotonic() - started < timeout_s:
        restarted = supervisor.poll()
        if restarted:
            assert restarted == [role]
            return time.monotonic() - started
        time.sleep(0.02)
    raise AssertionError(f"{role} was not restarted within {timeout_s} s")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_restarts_back_off_and_stop_after_the_limit(tmp_path: Path, kit: Any) -> None:
    out = tmp_path / "out"
    lines: list[str] = []
    settings = _settings(out, kit, restart_max=2, restart_backoff_initial_s=0.4, restart_reset_s=600)
    supervisor = Supervisor(settings, out / "_run", echo=lines.append)
    try:
        supervisor.start()
        _kill(supervisor, "processor")
        first = _poll_until_restarted(supervisor, "processor")
        _kill(supervisor, "processor")
        second = _poll_until_restarted(supervisor, "processor")
        _kill(supervisor, "processor")
        with pytest.raises(SupervisorError) as stopped:
            supervisor.poll()
    finally:
        supervisor.stop()
    assert first >= 0.4 and second >= 0.8  # 0.4 s, then doubled
    message = str(stopped.value)
    assert "\n" not in message
    assert message.startswith("processor service crashed 3 times in a row (pipeline.restart_max = 2)")
    assert "last error: killed by SIGKILL" in message
    assert lines[:2] == [
        "processor exited (killed by SIGKILL); restart 1 of 2 in 0.4 s",
        "processor exited (killed by SIGKILL); restart 2 of 2 in 0.8 s",
    ]
    assert supervisor.children["processor"].exits == [-9, -9, -9]
    assert supervisor.children["source"].starts == supervisor.children["sink"].starts == 1


def test_a_taken_port_chosen_for_the_service_moves_and_the_tables_are_unchanged(
    tmp_path: Path, kit: Any, expected_tables: dict[str, pa.Table]
) -> None:
    out = tmp_path / "out"
    lines: list[str] = []
    supervisor = Supervisor(_settings(out, kit, restart_backoff_initial_s=0), out / "_run", echo=lines.append)
    try:
        supervisor.start()
        old = supervisor.children["source"].port
        _kill(supervisor, "source")
        with socket.socket() as squatter:  # another process's server takes the port meanwhile
            # as servers do: the killed service's connections may hold the port in TIME_WAIT
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            squatter.bind(("127.0.0.1", old))
            squatter.listen(1)
            assert supervisor.poll() == ["source"]
            assert supervisor.children["source"].port != old
            deadline = time.monotonic() + 60
            status: dict[str, Any] = {}
            while time.monotonic() < deadline and not status.get("done"):
                assert supervisor.poll() == []
                status = supervisor.sink_status() or {}
                assert not status.get("failed"), status
                time.sleep(0.05)
    finally:
        supervisor.stop()
    assert status.get("done"), status
    assert f"source's Flight port 127.0.0.1:{old} is taken by another process; using a free port" in lines
    # its downstream services were restarted to reach it at the new address
    assert [supervisor.children[r].starts for r in ("source", "processor", "sink")] == [2, 2, 2]
    kit.assert_same_tables(kit.in_row_order(kit.read_output(out)), kit.in_row_order(expected_tables))


def test_a_taken_port_the_user_set_stops_the_run_naming_it(tmp_path: Path, kit: Any) -> None:
    out = tmp_path / "out"
    ports = {"source": _free_port(), "processor": _free_port(), "sink": _free_port()}
    settings = _settings(out, kit, ports=ports, restart_backoff_initial_s=0)
    supervisor = Supervisor(settings, out / "_run")
    try:
        supervisor.start()
        _kill(supervisor, "processor")
        with socket.socket() as squatter:
            squatter.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # the port may be in TIME_WAIT
            squatter.bind(("127.0.0.1", ports["processor"]))
            squatter.listen(1)
            with pytest.raises(ConfigError) as stopped:
                supervisor.poll()
    finally:
        supervisor.stop()
    assert str(stopped.value) == (
        f"processor service cannot restart: its Flight port 127.0.0.1:{ports['processor']} is taken by "
        "another process (free it, or set processor.flight_port: 0 to let the service move)"
    )
    assert stopped.value.key == "processor.flight_port"


def test_run_exit_when_done_stops_with_one_line_after_the_restart_limit(tmp_path: Path, kit: Any) -> None:
    """A live run (never done) whose processor keeps dying: exit 3 and one line naming it."""
    out = tmp_path / "out"
    config = kit.write_config(
        tmp_path / "run.yaml",
        {
            "source": {
                "flight_port": 0,
                "health_port": 0,
                "datalake_uri": str(kit.sample_lake),
                "start_ledger": kit.first,
                "live": True,
            },
            "processor": {"flight_port": 0, "health_port": 0},
            "sink": {"flight_port": 0, "health_port": 0},
            "api": {"api_port": 0},
            "pipeline": {"processes": "separate", "restart_max": 1, "restart_backoff_initial_s": 0.1},
        },
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
    run = subprocess.Popen(
        [*CLI, "run", "--config", str(config), "--out", str(out), "--exit-when-done"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    ready = out / "_run" / "processor.ready.json"
    try:
        for _ in range(2):  # the first kill is restarted, the second is one too many
            deadline = time.monotonic() + 60
            pid = None
            while time.monotonic() < deadline and run.poll() is None:
                if ready.exists() and (out / "_run" / "sink.ready.json").exists():
                    pid = json.loads(ready.read_text())["pid"]
                    break
                time.sleep(0.05)
            assert pid is not None, run.stderr.read() if run.stderr else ""
            ready.unlink()
            os.kill(pid, signal.SIGKILL)
        stdout, stderr = run.communicate(timeout=60)
    finally:
        if run.poll() is None:
            run.kill()
            run.communicate()
    assert run.returncode == 3, stderr
    errors = [line for line in stderr.splitlines() if line.startswith("error:")]
    # the second kill lands either after the supervisor saw the restarted processor ready or just before
    prefix = "error: SupervisorError: processor service crashed 2 times in a row (pipeline.restart_max = 1); "
    log = f"(log: {out / '_run' / 'processor.log'})"
    assert errors in (
        [f"{prefix}last error: killed by SIGKILL {log}"],
        [
            f"{prefix}last error: processor service exited with code -9 before it was ready: "
            f"killed by SIGKILL {log}"
        ],
    ), errors
    assert "Traceback" not in stderr
    assert "processor exited (killed by SIGKILL); restart 1 of 1 in 0.1 s" in stdout


def test_last_error_reads_the_one_line_of_this_start(tmp_path: Path) -> None:
    log = tmp_path / "svc.log"
    log.write_text("error: ConfigError: an older start's error\n", encoding="utf-8")
    since = log.stat().st_size
    with log.open("a", encoding="utf-8") as fh:
        fh.write(json.dumps({"event": "serving", "level": "info"}) + "\n")
        fh.write(
            json.dumps({"event": "stream failed", "level": "error", "error": "HashChainError: x"}) + "\n"
        )
    assert last_error(log, 1, since=since) == "stream failed HashChainError: x (exit code 1)"
    with log.open("a", encoding="utf-8") as fh:
        fh.write("error: UpstreamError: upstream grpc://127.0.0.1:1 refused stream\n")
    assert (
        last_error(log, 3, since=since)
        == "UpstreamError: upstream grpc://127.0.0.1:1 refused stream (exit code 3)"
    )
    assert last_error(log, -15, since=log.stat().st_size) == "killed by SIGTERM"
    assert last_error(tmp_path / "absent.log", 2) == "exit code 2"
