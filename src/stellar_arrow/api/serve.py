"""Foreground serving: the API over a finished (or growing) sink output directory."""

from __future__ import annotations

import socket
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import uvicorn

from stellar_arrow.api.app import Readiness, create_app
from stellar_arrow.api.progress import LedgerProgress
from stellar_arrow.api.server import ApiServer, uvicorn_config
from stellar_arrow.api.store import DirectorySource, TransferStore
from stellar_arrow.config import ApiSettings, SecuritySettings
from stellar_arrow.security.policy import check_bind
from stellar_arrow.sink.dataset import DatasetSink
from stellar_arrow.sink.manifest import read_commits
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA, TOKEN_TRANSFERS_TABLE

__all__ = ["directory_store", "serve_directory", "start_api"]


def directory_store(root: Path) -> TransferStore:
    """A store over every table that has committed files under ``root`` (token_transfers always)."""
    schemas: dict[str, pa.Schema] = {TOKEN_TRANSFERS_TABLE: TOKEN_TRANSFERS_SCHEMA}
    for record in read_commits(root):
        for m in record.files:
            if m.format == "parquet" and m.table not in schemas:
                schemas[m.table] = pq.read_schema(root / m.path)
    return TransferStore(DirectorySource(root, schemas))


def start_api(
    sink: DatasetSink,
    settings: ApiSettings,
    *,
    readiness: Readiness | None = None,
    progress: LedgerProgress | None = None,
    sock: socket.socket | None = None,
    security: SecuritySettings | None = None,
) -> ApiServer:
    """Serve REST/WS/dashboard over a live sink in a background thread (the pipeline's sink process).

    ``settings``: the ``api`` section (address, WebSocket limits, status interval).

    ``readiness`` reports why the service is not ready (e.g. upstream unreachable); ``progress`` lets the
    pipeline report the source tip (``progress.note_source_tip(seq)``) for the dashboard's lag figure.
    ``sock``: serve on this already bound socket instead of binding ``settings.host:settings.api_port``.
    ``security``: the ``security`` settings (authentication, TLS, browser hardening).
    """
    app = create_app(settings, TransferStore(sink), readiness=readiness, progress=progress, security=security)
    return ApiServer(app, settings.host, settings.api_port, sock=sock, security=security).start()


def serve_directory(root: Path, settings: ApiSettings, *, security: SecuritySettings | None = None) -> None:
    """Serve the API over ``root`` in the foreground on ``settings.host:settings.api_port``.

    A non-loopback host needs ``security.auth_enabled`` (or ``allow_insecure``).
    """
    security = security or SecuritySettings()
    check_bind(settings.host, security, what="the API", key="api.host")
    app = create_app(settings, directory_store(root), security=security)
    uvicorn.Server(uvicorn_config(app, settings.host, settings.api_port, security)).run()
