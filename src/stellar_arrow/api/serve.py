"""Serving the API: over a live sink's reader (background thread) or over an output folder (foreground)."""

from __future__ import annotations

import socket
from pathlib import Path

import uvicorn

from stellar_arrow.api.app import Readiness, create_app
from stellar_arrow.api.outputs import open_output_dir
from stellar_arrow.api.progress import LedgerProgress
from stellar_arrow.api.server import ApiServer, uvicorn_config
from stellar_arrow.api.store import TransferStore
from stellar_arrow.config import ApiSettings, SecuritySettings
from stellar_arrow.security.policy import check_bind
from stellar_arrow.sink.base import TableReader

__all__ = ["directory_store", "serve_directory", "start_api"]


def directory_store(root: Path, settings: ApiSettings | None = None) -> TransferStore:
    """A store over a sink output or an export output (:func:`~stellar_arrow.api.outputs.open_output_dir`)."""
    cache = (settings or ApiSettings()).file_cache_bytes
    return TransferStore(open_output_dir(root), cache_bytes=cache)


def start_api(
    reader: TableReader,
    settings: ApiSettings,
    *,
    readiness: Readiness | None = None,
    progress: LedgerProgress | None = None,
    sock: socket.socket | None = None,
    security: SecuritySettings | None = None,
) -> ApiServer:
    """Serve REST/WS/dashboard over ``reader`` (a live sink's) in a background thread (the sink process).

    ``settings``: the ``api`` section (address, WebSocket limits, status interval).

    ``readiness`` reports why the service is not ready (e.g. upstream unreachable); ``progress`` lets the
    pipeline report the source tip (``progress.note_source_tip(seq)``) for the dashboard's lag figure.
    ``sock``: serve on this already bound socket instead of binding ``settings.host:settings.api_port``.
    ``security``: the ``security`` settings (authentication, TLS, browser hardening).
    """
    app = create_app(
        settings,
        TransferStore(reader, cache_bytes=settings.file_cache_bytes),
        readiness=readiness,
        progress=progress,
        security=security,
    )
    return ApiServer(app, settings.host, settings.api_port, sock=sock, security=security).start()


def serve_directory(root: Path, settings: ApiSettings, *, security: SecuritySettings | None = None) -> None:
    """Serve ``root`` in the foreground on ``settings.host:settings.api_port``; ``ConfigError`` (before
    binding) when it cannot be served (:func:`~stellar_arrow.api.outputs.open_output_dir` says why), or
    when a non-loopback host is asked for without ``security.auth_enabled`` (or ``allow_insecure``)."""
    security = security or SecuritySettings()
    check_bind(settings.host, security, what="the API", key="api.host")
    app = create_app(settings, directory_store(root, settings), security=security)
    uvicorn.Server(uvicorn_config(app, settings.host, settings.api_port, security)).run()
