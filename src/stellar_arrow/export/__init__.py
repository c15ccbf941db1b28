"""``stellar-arrow export``: the I/O shell that turns a ledger source into chunked table files."""

from __future__ import annotations

from stellar_arrow.export.chunks import Chunk, plan_chunks
from stellar_arrow.export.job import ExportSummary, run_export
from stellar_arrow.export.workers import LedgerProcessor, LedgerTables, build_ledger_tables
from stellar_arrow.export.writer import write_table_atomically

__all__ = [
    "Chunk",
    "ExportSummary",
    "LedgerProcessor",
    "LedgerTables",
    "build_ledger_tables",
    "plan_chunks",
    "run_export",
    "write_table_atomically",
]
