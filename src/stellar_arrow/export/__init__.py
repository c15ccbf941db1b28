"""``stellar-arrow export``: the I/O shell that turns a ledger source into chunked table files."""

from __future__ import annotations

from stellar_arrow.export.chunks import Chunk, plan_chunks
from stellar_arrow.export.job import ExportRequest, ExportSummary, run_export
from stellar_arrow.export.sources import FileLedgerSource, open_source
from stellar_arrow.export.workers import LedgerProcessor, LedgerTables, build_ledger_tables
from stellar_arrow.export.writer import write_table_atomically

__all__ = [
    "Chunk",
    "ExportRequest",
    "ExportSummary",
    "FileLedgerSource",
    "LedgerProcessor",
    "LedgerTables",
    "build_ledger_tables",
    "open_source",
    "plan_chunks",
    "run_export",
    "write_table_atomically",
]
