"""Running one service in this process: ``stellar-arrow serve source|processor|sink``.

The service binds, writes a ready file (JSON: role, uri, port, pid; for the sink also ``api_url``) when
one is asked for, installs SIGTERM/SIGINT handlers that stop its streams and the server cleanly, and
serves until stopped. The sink also serves its HTTP API (REST, WebSocket, dashboard) on ``api.api_port``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from stellar_arrow.config import Settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.flight.service import LedgerFlightServer, install_signal_handlers
from stellar_arrow.flight.sink_service import SinkService
from stellar_arrow.observability.logs import configure_logging, get_logger
from stellar_arrow.pipeline.components import build_processor, build_sink, build_source
from stellar_arrow.pipeline.health import start_health_server
from stellar_arrow.source.open import settle_source_network

if TYPE_CHECKING:
    from stellar_arrow.pipeline.sink_api import SinkApi

__all__ = ["Role", "build_service", "serve", "serve_role", "settle_settings_network", "write_ready_file"]

Role = Literal["source", "processor", "sink"]

log = get_logger(__name__)


def settle_settings_network(settings: Settings) -> Settings:
    """``settings`` with ``source.network_passphrase`` set: configured, declared by the source or detected."""
    return settings.model_copy(update={"source": settle_source_network(settings.source)})


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


def serve(role: Role, settings: Settings, *, ready_file: Path | None = None) -> None:
    """Build the ``role`` service from ``settings`` and serve until SIGTERM/SIGINT."""
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
    install_signal_handlers(server, on_stop=server.loop.stop if isinstance(server, SinkService) else None)
    api: SinkApi | None = None
    if isinstance(server, SinkService):
        from stellar_arrow.pipeline.sink_api import start_sink_api  # FastAPI/DuckDB: only the sink needs them

        try:
            api = start_sink_api(
                server,
                settings.api,
                source_endpoint=settings.sink.source_endpoint,
                security=settings.security,
            )
        except BaseException:
            server.shutdown()
            raise
        server.start()
        log.info("sink API (dashboard /, REST /api/v1, WebSocket /ws)", url=api.base_url)
    if ready_file is not None:
        api_url = api.base_url if api is not None else None
        write_ready_file(ready_file, role, server, api_url=api_url, health_url=health.url)
    log.info("serving", role=role, uri=server.uri, health=health.url)
    server.serve_until_stopped()
    health.stop()
    if api is not None:
        api.stop()
    if isinstance(server, SinkService):
        server.close()


def serve_role(role: str, settings: Settings, ready_file: Path | None) -> None:
    """``stellar-arrow serve ROLE --config FILE``: validate, log to stderr, serve."""
    if role not in ("source", "processor", "sink"):
        msg = f"unknown service {role!r}: choose source, processor or sink"
        raise ConfigError(msg, key="role")
    obs = settings.observability
    configure_logging(role, level=obs.log_level, log_format=obs.log_format)
    settings = settle_settings_network(settings)
    serve(role, settings, ready_file=ready_file)  # type: ignore[arg-type]
