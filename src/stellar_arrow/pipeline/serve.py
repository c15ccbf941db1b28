"""Running one service in this process: ``stellar-arrow serve source|processor|sink``.

The service binds, writes a ready file (JSON: role, uri, port, pid; for the sink also ``api_url``) when
one is asked for, installs SIGTERM/SIGINT handlers that stop its streams and the server cleanly, and
serves until stopped. The sink also serves its HTTP API (REST, WebSocket, dashboard) on ``api.api_port``.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from stellar_arrow.config import Settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.flight.service import LedgerFlightServer, install_signal_handlers
from stellar_arrow.flight.sink_service import SinkService
from stellar_arrow.observability.health import HealthServer
from stellar_arrow.observability.logs import configure_logging, get_logger
from stellar_arrow.pipeline.components import build_processor, build_sink, build_source
from stellar_arrow.pipeline.health import start_health_server
from stellar_arrow.pipeline.roles import Role, settle_settings_network

if TYPE_CHECKING:
    from stellar_arrow.pipeline.sink_api import SinkApi

__all__ = [
    "Role",
    "RunningService",
    "build_service",
    "serve",
    "serve_role",
    "settle_settings_network",
    "start_service",
    "write_ready_file",
]

log = get_logger(__name__)


def build_service(role: Role, settings: Settings) -> LedgerFlightServer:
    if role == "source":
        return build_source(settings)
    if role == "processor":
        return build_processor(settings)
    return build_sink(settings)


def write_ready_file(
    path: Path,
    role: Role,
    server: LedgerFlightServer,
    *,
    api_url: str | None = None,
    health_url: str | None = None,
) -> None:
    """Atomically publish where ``server`` (its health port, the sink's HTTP API) listens."""
    body: dict[str, object] = {"role": role, "uri": server.uri, "port": server.port, "pid": os.getpid()}
    if api_url is not None:
        body["api_url"] = api_url
    if health_url is not None:
        body["health_url"] = health_url
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(body), encoding="utf-8")
    os.replace(tmp, path)


@dataclass(slots=True)
class RunningService:
    """One started service: its Flight server, health port and (the sink's) HTTP API."""

    role: Role
    server: LedgerFlightServer
    health: HealthServer
    api: SinkApi | None = None

    @property
    def api_url(self) -> str | None:
        return self.api.base_url if self.api is not None else None

    def close(self) -> None:
        """After the server stopped: stop the health port and the API, commit the sink's last rows."""
        self.health.stop()
        if self.api is not None:
            self.api.stop()
        if isinstance(self.server, SinkService):
            self.server.close()

    def stop(self) -> None:
        """From another thread: stop the server (its streams, workers; the sink commits), then the rest."""
        self.server.stop()  # a SinkService's stop also closes it
        self.health.stop()
        if self.api is not None:
            self.api.stop()


def start_service(
    role: Role,
    settings: Settings,
    *,
    before_start: Callable[[LedgerFlightServer], None] | None = None,
) -> RunningService:
    """Build the ``role`` service, serve its health port (and the sink's API), start the sink's loop.

    ``before_start(server)`` runs once the server is bound, before the sink's loop starts.
    """
    server = build_service(role, settings)
    section = getattr(settings, role)
    try:
        health = start_health_server(
            server,
            host=section.host,
            port=section.health_port,
            max_lag=settings.observability.ready_max_lag_ledgers,
            # a free port when the health port is taken, for ephemeral services (Flight port 0) and the demo
            fallback=settings.api.port_fallback or section.flight_port == 0,
            source_endpoint={
                "processor": settings.processor.source_endpoint,
                "sink": settings.sink.source_endpoint,
            }.get(role),
        )
    except BaseException:
        server.shutdown()
        raise
    if before_start is not None:
        before_start(server)
    running = RunningService(role, server, health)
    if isinstance(server, SinkService):
        from stellar_arrow.pipeline.sink_api import start_sink_api  # FastAPI/DuckDB: only the sink needs them

        try:
            running.api = start_sink_api(
                server,
                settings.api,
                source_endpoint=settings.sink.source_endpoint,
                security=settings.security,
            )
        except BaseException:
            health.stop()
            server.shutdown()
            raise
        server.start()
        log.info("sink API (dashboard /, REST /api/v1, WebSocket /ws)", url=running.api_url)
    return running


def serve(role: Role, settings: Settings, *, ready_file: Path | None = None) -> None:
    """Build the ``role`` service from ``settings`` and serve until SIGTERM/SIGINT."""

    def on_signals(server: LedgerFlightServer) -> None:
        install_signal_handlers(server, on_stop=server.loop.stop if isinstance(server, SinkService) else None)

    running = start_service(role, settings, before_start=on_signals)
    server = running.server
    if ready_file is not None:
        write_ready_file(ready_file, role, server, api_url=running.api_url, health_url=running.health.url)
    log.info("serving", role=role, uri=server.uri, health=running.health.url)
    server.serve_until_stopped()
    running.close()


def serve_role(role: str, settings: Settings, ready_file: Path | None) -> None:
    """``stellar-arrow serve ROLE --config FILE``: validate, log to stderr, serve."""
    if role not in ("source", "processor", "sink"):
        msg = f"unknown service {role!r}: choose source, processor or sink"
        raise ConfigError(msg, key="role")
    obs = settings.observability
    configure_logging(role, level=obs.log_level, log_format=obs.log_format)
    settings = settle_settings_network(settings)
    serve(role, settings, ready_file=ready_file)  # type: ignore[arg-type]
