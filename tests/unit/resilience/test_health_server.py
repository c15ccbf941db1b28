"""The health port: live/ready/health/metrics answers from the watcher's last verdict; taken ports."""

from __future__ import annotations

import json
import socket
import time
import urllib.error
import urllib.request
from typing import Any

import pytest

from stellar_arrow.errors import ConfigError
from stellar_arrow.observability.health import HealthServer, ReadinessWatcher


def _get(url: str) -> tuple[int, Any]:
    try:
        with urllib.request.urlopen(url, timeout=5) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


def _wait_checked(watcher: ReadinessWatcher) -> None:
    deadline = time.monotonic() + 5
    while watcher.state.checked_at == 0 and time.monotonic() < deadline:
        time.sleep(0.01)


def test_ready_follows_the_check() -> None:
    verdict: list[tuple[str | None, dict[str, Any]]] = [
        ("upstream unreachable: grpc://x", {"current_ledger": 7})
    ]
    watcher = ReadinessWatcher(lambda: verdict[0], interval_s=0.05)
    server = HealthServer("processor", watcher, host="127.0.0.1", port=0).start()
    try:
        _wait_checked(watcher)
        code, body = _get(f"{server.url}/health/ready")
        assert code == 503
        assert json.loads(body) == {
            "component": "processor",
            "ready": False,
            "reason": "upstream unreachable: grpc://x",
        }
        code, body = _get(f"{server.url}/health")
        assert code == 503 and json.loads(body)["current_ledger"] == 7
        assert _get(f"{server.url}/health/live")[0] == 200
        verdict[0] = (None, {"current_ledger": 8, "lag_ledgers": 0})
        time.sleep(0.2)
        assert _get(f"{server.url}/health/ready")[0] == 200
        code, body = _get(f"{server.url}/health")
        assert code == 200 and json.loads(body)["status"] == "healthy"
        code, body = _get(f"{server.url}/metrics")
        assert code == 200 and b"# TYPE retry_attempts_total counter" in body
    finally:
        server.stop()


def test_a_failing_check_is_not_ready_and_the_watcher_survives() -> None:
    calls = []

    def check() -> tuple[str | None, dict[str, Any]]:
        calls.append(1)
        raise RuntimeError("boom")

    watcher = ReadinessWatcher(check, interval_s=0.05)
    server = HealthServer("source", watcher, host="127.0.0.1", port=0).start()
    try:
        time.sleep(0.3)
        code, body = _get(f"{server.url}/health/ready")
        assert code == 503 and "readiness check failed: RuntimeError: boom" in json.loads(body)["reason"]
        assert len(calls) >= 2
    finally:
        server.stop()


def test_a_taken_port_is_an_error_or_a_free_port() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        watcher = ReadinessWatcher(lambda: (None, {}))
        with pytest.raises(
            ConfigError, match=rf"sink's health server cannot listen on 127.0.0.1:{port}"
        ) as info:
            HealthServer("sink", watcher, host="127.0.0.1", port=port)
        assert info.value.key == "sink.health_port"
        server = HealthServer("sink", watcher, host="127.0.0.1", port=port, fallback=True)
        assert server.port not in (0, port)
        server._server.server_close()
