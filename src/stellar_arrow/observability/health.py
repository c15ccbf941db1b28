"""The health port of a service: ``/health``, ``/health/live``, ``/health/ready`` and ``/metrics``.

:class:`HealthServer` is a small threaded HTTP server (standard library; it must stay up when the
service's own HTTP stack is busy). Readiness is never computed inside a request: a
:class:`ReadinessWatcher` thread runs the component's check every ``interval_s`` (the check bounds its
own network calls) and the endpoints answer from its last result.

* ``/health/live``: 200 while the process serves requests.
* ``/health/ready``: 200 ``{"ready": true}``, or 503 with ``reason`` (upstream unreachable, too far
  behind the tip, stopped after an error).
* ``/health``: 200 (ready) or 503 with the component's details (current ledger, tip, lag).
* ``/metrics``: the Prometheus exposition of :data:`~stellar_arrow.observability.metrics.REGISTRY`.
"""

from __future__ import annotations

import errno
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from stellar_arrow.errors import ConfigError
from stellar_arrow.observability.logs import get_logger
from stellar_arrow.observability.metrics import exposition

__all__ = ["HealthServer", "Readiness", "ReadinessWatcher"]

log = get_logger(__name__)


@dataclass(slots=True)
class Readiness:
    """The last readiness verdict: ``reason`` is None when ready; ``details`` go into ``/health``."""

    reason: str | None = "not checked yet"
    details: dict[str, Any] = field(default_factory=dict)
    checked_at: float = 0.0


class ReadinessWatcher:
    """Runs ``check() -> (reason | None, details)`` every ``interval_s`` on a daemon thread."""

    def __init__(
        self, check: Callable[[], tuple[str | None, dict[str, Any]]], *, interval_s: float = 1.0
    ) -> None:
        self._check = check
        self._interval_s = interval_s
        self.state = Readiness()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="readiness", daemon=True)

    def start(self) -> ReadinessWatcher:
        self._thread.start()
        return self

    def _run(self) -> None:
        while True:
            try:
                reason, details = self._check()
            except Exception as exc:  # a check must never kill the watcher: report it as not ready
                reason, details = f"readiness check failed: {type(exc).__name__}: {exc}", {}
            self.state = Readiness(reason, details, time.time())
            if self._stop.wait(self._interval_s):
                return

    def stop(self) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=5)


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 5  # seconds a client may take to send its request

    def do_GET(self) -> None:
        path = self.path.split("?", 1)[0].rstrip("/") or "/"
        state = self.server.watcher.state
        body: bytes
        if path == "/metrics":
            body, content_type = exposition()
            self._send(200, body, content_type)
            return
        if path == "/health/live":
            self._json(200, {"component": self.server.component, "live": True})
        elif path == "/health/ready":
            ready = state.reason is None
            answer: dict[str, Any] = {"component": self.server.component, "ready": ready}
            if not ready:
                answer["reason"] = state.reason
            self._json(200 if ready else 503, answer)
        elif path in ("/health", "/"):
            status = "healthy" if state.reason is None else "unhealthy"
            answer = {
                "component": self.server.component,
                "status": status,
                "reason": state.reason,
                "checked_at": state.checked_at,
                **state.details,
            }
            self._json(200 if state.reason is None else 503, answer)
        else:
            self._json(
                404, {"error": f"no such path {path!r}: use /health, /health/live, /health/ready, /metrics"}
            )

    def _json(self, status: int, answer: dict[str, Any]) -> None:
        self._send(status, json.dumps(answer, default=str).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        return  # scrapes every few seconds would flood the service log


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], component: str, watcher: ReadinessWatcher) -> None:
        self.component = component
        self.watcher = watcher
        super().__init__(address, _Handler)


class HealthServer:
    """Serves the health endpoints of ``component`` on ``host:port`` (``fallback``: a free port if taken)."""

    def __init__(
        self, component: str, watcher: ReadinessWatcher, *, host: str, port: int, fallback: bool = False
    ) -> None:
        self.component = component
        self.watcher = watcher
        self._server = _bind(component, watcher, host, port, fallback)
        self.host = host
        self.port: int = self._server.server_address[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.2}, name="health", daemon=True
        )

    @property
    def url(self) -> str:
        shown = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{shown}:{self.port}"

    def start(self) -> HealthServer:
        self.watcher.start()
        self._thread.start()
        return self

    def stop(self) -> None:
        self.watcher.stop()
        self._server.shutdown()
        self._server.server_close()


def _bind(component: str, watcher: ReadinessWatcher, host: str, port: int, fallback: bool) -> _Server:
    _Server.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in (port, 0) if fallback and port != 0 else (port,):
        try:
            return _Server((host, candidate), component, watcher)
        except OSError as exc:
            if exc.errno == errno.EADDRINUSE and candidate != 0 and fallback:
                log.warning("health port taken; using a free port", component=component, port=port)
                continue
            msg = f"the {component}'s health server cannot listen on {host}:{candidate} (port in use?): {exc}"
            raise ConfigError(msg, key=f"{component}.health_port") from None
    msg = f"the {component}'s health server found no free port on {host}"
    raise ConfigError(msg, key=f"{component}.health_port")
