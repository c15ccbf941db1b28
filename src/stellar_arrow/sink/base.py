"""The two seams of a sink: the :class:`Sink` the pipeline writes to, the :class:`TableReader` readers use.

Writer side (what :class:`~stellar_arrow.flight.sink_service.SinkLoop` calls, in bytewax style)::

    sink.write_batch(table, rows)      # rows of ledgers not yet complete; buffered
    sink.advance(ledger_sequence)      # every row of that ledger was written: commit when due
    sink.flush_if_due()                # timer: commit complete ledgers once flush_interval_s passed
    sink.commit()                      # commit every complete ledger now
    sink.snapshot()                    # resume state: the next ledger to write (None: nothing committed)
    sink.close()                       # commit what is complete, refuse further writes

Reader side (the REST API, the WebSocket hub and the sink's Flight ``do_get``): :meth:`TableReader.view`
returns one consistent :class:`TableView` (committed files plus the rows not committed yet),
:meth:`TableReader.subscribe` delivers rows as they are accepted, :meth:`TableReader.stats` the counters.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, runtime_checkable

import pyarrow as pa

from stellar_arrow.schema import ledger_column
from stellar_arrow.sink.manifest import CommitRecord

__all__ = [
    "LiveListener",
    "ReadableSink",
    "Sink",
    "SinkStats",
    "TableReader",
    "TableView",
    "Unsubscribe",
    "ledger_column",
]

LiveListener = Callable[[str, pa.Table], None]
"""Called with ``(table name, rows)`` right after rows are accepted (before they are committed)."""

Unsubscribe = Callable[[], None]
"""Returned by :meth:`TableReader.subscribe`; call it to stop the deliveries."""


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


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Counters for metrics and ``/status``."""

    rows_received: Mapping[str, int]
    rows_dropped_replayed: int
    rows_buffered: int
    rows_written: Mapping[str, int]
    files_written: Mapping[str, int]
    commits: int
    checkpoint: int | None


@runtime_checkable
class Sink(Protocol):
    """Where the pipeline's tables go: rows are buffered by ``write_batch`` and made durable by commits.

    Contract: rows of a ledger at or below the last commit are dropped on arrival (a replay after a
    restart writes each row once); :meth:`snapshot` is the ledger *after* the last one committed.
    """

    @property
    def flush_interval_s(self) -> float:
        """The longest a complete ledger waits in the buffer (the loop's timer calls :meth:`flush_if_due`)."""
        ...

    def write_batch(self, table: str, batch: pa.RecordBatch | pa.Table) -> None:
        """Accept rows of ``table`` (must match the table's schema)."""
        ...

    def advance(self, ledger_sequence: int) -> CommitRecord | None:
        """Every row up to ``ledger_sequence`` was written; commit if due. Returns the commit made, if any."""
        ...

    def flush_if_due(self) -> CommitRecord | None:
        """Commit the complete ledgers if the buffer is due (rows or time)."""
        ...

    def commit(self) -> CommitRecord | None:
        """Commit every ledger reported complete through :meth:`advance`; ``None`` when nothing is new."""
        ...

    def snapshot(self) -> int | None:
        """The next ledger to write (resume the upstream there); ``None`` before the first commit."""
        ...

    def close(self) -> None:
        """Commit what is complete and refuse further writes."""
        ...


@runtime_checkable
class TableReader(Protocol):
    """What readers of a sink's tables need: the tables, consistent views, live rows and counters."""

    def tables(self) -> Sequence[str]:
        """Names of the tables this reader serves."""
        ...

    def view(self, table: str) -> TableView:
        """Committed files and uncommitted rows of ``table``, taken atomically."""
        ...

    def subscribe(self, listener: LiveListener) -> Unsubscribe:
        """Call ``listener`` with rows as they are accepted (never, for a finished directory)."""
        ...

    def stats(self) -> SinkStats | None:
        """The sink's counters, or ``None`` when nothing is writing (a finished directory)."""
        ...


@runtime_checkable
class ReadableSink(Sink, Protocol):
    """A :class:`Sink` with a read side: what the sink service runs its loop on and serves."""

    @property
    def location(self) -> str:
        """Where the rows go (an output directory, ``memory``), for status reports."""
        ...

    def reader(self) -> TableReader:
        """The read side over the same rows (views, live rows, counters)."""
        ...
