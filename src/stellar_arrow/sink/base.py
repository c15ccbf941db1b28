"""The Sink protocol the pipeline writes to, and the consistent read view the API queries."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import pyarrow as pa

from stellar_arrow.schema import ledger_column
from stellar_arrow.sink.manifest import Checkpoint, CommitRecord

__all__ = ["LiveListener", "Sink", "TableView", "ledger_column"]

LiveListener = Callable[[str, pa.Table], None]
"""Called with ``(table name, rows)`` right after rows are accepted (before they are committed)."""


@dataclass(frozen=True, slots=True)
class TableView:
    """A consistent picture of one table: committed Parquet files plus the rows not yet committed.

    The two parts never overlap and never miss a row: a commit swaps rows from ``live`` into ``files`` under
    the same lock that takes this view.
    """

    table: str
    schema: pa.Schema
    files: tuple[Path, ...]
    live: pa.Table
    last_ledger: int | None


@runtime_checkable
class Sink(Protocol):
    """Where the pipeline's tables go. Rows are buffered by ``write_batch`` and made durable by ``commit``."""

    def write_batch(self, table: str, batch: pa.RecordBatch | pa.Table) -> None:
        """Accept rows of ``table`` (must match the table's schema)."""

    def commit(self, checkpoint: Checkpoint) -> CommitRecord | None:
        """Durably write buffered rows with ledger <= ``checkpoint.ledger_sequence`` and the checkpoint."""

    def snapshot(self, table: str) -> TableView:
        """Committed files and uncommitted rows of ``table``, taken atomically."""

    def close(self) -> None:
        """Commit what is complete and release resources."""
