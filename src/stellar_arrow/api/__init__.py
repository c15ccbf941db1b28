"""The sink's HTTP side: REST queries, the live WebSocket stream and the dashboard, on one FastAPI app."""

from __future__ import annotations

from stellar_arrow.api.app import create_app
from stellar_arrow.api.hub import HubLimits
from stellar_arrow.api.outputs import CommitLogReader, ExportReader, open_output_dir
from stellar_arrow.api.progress import LedgerProgress
from stellar_arrow.api.serve import start_api
from stellar_arrow.api.server import ApiServer
from stellar_arrow.api.store import TransferStore

__all__ = [
    "ApiServer",
    "CommitLogReader",
    "ExportReader",
    "HubLimits",
    "LedgerProgress",
    "TransferStore",
    "create_app",
    "open_output_dir",
    "start_api",
]
