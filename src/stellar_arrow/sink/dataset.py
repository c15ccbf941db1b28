"""The file sink: buffers the pipeline's tables, writes partitioned files and commits them exactly once.

Commit protocol (see :mod:`stellar_arrow.sink.manifest` for the layout):

1. every buffered row with ledger <= the checkpoint is split by partition and written, per format, to
   ``part-<commit>-<uuid>.<ext>.pending`` (fsynced), and its manifest (rows, ledger range, sha256, schema
   fingerprint) is computed;
2. the commit record (all manifests + checkpoint) is written under a temporary name and renamed into
   ``_manifests/`` -- this rename is the commit;
3. the ``.pending`` files are renamed to their final names.

On open, :meth:`DatasetSink.recover` finishes step 3 for committed files and deletes every data file that no
commit record names, so a crash at any point leaves either the old or the new state. Rows for ledgers at or
below the last checkpoint are dropped on arrival, so a pipeline that replays from its checkpoint after a
restart writes each row exactly once.
"""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.config import SinkSettings
from stellar_arrow.errors import SinkError
from stellar_arrow.sink.base import LiveListener, TableView, ledger_column
from stellar_arrow.sink.manifest import (
    PENDING_SUFFIX,
    Checkpoint,
    CommitRecord,
    FileManifest,
    file_sha256,
    read_commits,
    schema_fingerprint,
    write_commit,
)
from stellar_arrow.sink.parquet import ParquetOptions, write_parquet
from stellar_arrow.sink.partition import TablePartitioning
from stellar_arrow.sink.textfiles import write_csv, write_jsonl

__all__ = ["FILE_FORMATS", "DatasetSink", "SinkStats"]

FILE_FORMATS: Final = ("parquet", "jsonl", "csv")
_EXTENSIONS: Final = {"parquet": ".parquet", "jsonl": ".jsonl", "csv": ".csv"}


@dataclass(frozen=True, slots=True)
class SinkStats:
    """Counters for metrics and ``/stats``."""

    rows_received: Mapping[str, int]
    rows_dropped_replayed: int
    rows_buffered: int
    rows_written: Mapping[str, int]
    files_written: Mapping[str, int]
    commits: int
    checkpoint: int | None


@dataclass(slots=True)
class _TableState:
    schema: pa.Schema
    partitioning: TablePartitioning
    ledger_column: str | None
    batches: list[pa.RecordBatch] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    last_ledger: int | None = None


class DatasetSink:
    """A :class:`~stellar_arrow.sink.base.Sink` writing each table to ``root/<table>/`` with a commit log."""

    def __init__(
        self,
        root: Path,
        schemas: Mapping[str, pa.Schema],
        options: SinkSettings | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.root = Path(root)
        self.options = options or SinkSettings()
        self._clock = clock
        self._lock = threading.RLock()
        self._commit_lock = threading.Lock()
        self._tables = {
            name: _TableState(
                schema, TablePartitioning.for_schema(schema, self.options.partition_by), ledger_column(schema)
            )
            for name, schema in schemas.items()
        }
        self._listeners: list[LiveListener] = []
        self._checkpoint: Checkpoint | None = None
        self._next_commit = 1
        self._buffered_since: float | None = None
        self._complete_through: int | None = None
        self._received: dict[str, int] = dict.fromkeys(schemas, 0)
        self._dropped = 0
        self._written: dict[str, int] = dict.fromkeys(self.options.output_formats, 0)
        self._files_written: dict[str, int] = dict.fromkeys(self.options.output_formats, 0)
        self._closed = False
        self.root.mkdir(parents=True, exist_ok=True)
        self.recover()

    # -- recovery ------------------------------------------------------------------------------------------

    def recover(self) -> None:
        """Finish interrupted commits and delete every file no commit names (see module docstring)."""
        committed: set[str] = set()
        with self._lock:
            for state in self._tables.values():
                state.files.clear()
            for record in read_commits(self.root):
                self._checkpoint = record.checkpoint
                self._next_commit = record.commit + 1
                for manifest in record.files:
                    committed.add(manifest.path)
                    final = self.root / manifest.path
                    pending = final.with_name(final.name + PENDING_SUFFIX)
                    if not final.exists() and pending.exists():
                        os.replace(pending, final)
                    owner = self._tables.get(manifest.table)
                    if owner is not None and manifest.format == "parquet":
                        owner.files.append(final)
                        owner.last_ledger = max(owner.last_ledger or 0, manifest.last_ledger)
            for table in self._tables:
                self._remove_uncommitted(self.root / table, committed)

    def _remove_uncommitted(self, folder: Path, committed: set[str]) -> None:
        if not folder.is_dir():
            return
        for path in folder.rglob("*"):
            if not path.is_file():
                continue
            rel = path.relative_to(self.root).as_posix()
            if rel not in committed and path.name.startswith("part-"):  # only files this sink writes
                path.unlink()

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The last committed checkpoint (resume the pipeline at ``ledger_sequence + 1``)."""
        return self._checkpoint

    # -- writing -------------------------------------------------------------------------------------------

    def add_listener(self, listener: LiveListener) -> None:
        """Register a callback for accepted rows (used by the live WebSocket feed)."""
        with self._lock:
            self._listeners.append(listener)

    def remove_listener(self, listener: LiveListener) -> None:
        with self._lock:
            if listener in self._listeners:
                self._listeners.remove(listener)

    def _state(self, table: str) -> _TableState:
        state = self._tables.get(table)
        if state is None:
            msg = f"table {table!r} is not configured in this sink (known: {', '.join(sorted(self._tables))})"
            raise SinkError(msg)
        return state

    def write_batch(self, table: str, batch: pa.RecordBatch | pa.Table) -> None:
        if self._closed:
            msg = f"sink at {self.root} is closed; cannot write table {table!r}"
            raise SinkError(msg)
        state = self._state(table)
        rows = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        got = [(f.name, f.type) for f in rows.schema]
        if got != [(f.name, f.type) for f in state.schema]:  # nullability and metadata may differ in transit
            msg = f"rows for table {table!r} do not match its schema:\n{rows.schema}\nwanted\n{state.schema}"
            raise SinkError(msg)
        rows = rows.cast(state.schema) if rows.schema != state.schema else rows
        with self._lock:
            if state.ledger_column is not None and self._checkpoint is not None and rows.num_rows:
                keep = pc.greater(rows[state.ledger_column], self._checkpoint.ledger_sequence)
                before = rows.num_rows
                rows = rows.filter(keep)
                self._dropped += before - rows.num_rows
            self._received[table] += rows.num_rows
            if rows.num_rows == 0:
                return
            state.batches.extend(rows.to_batches())
            if state.ledger_column is not None:
                top = pc.max(rows[state.ledger_column]).as_py()
                state.last_ledger = max(state.last_ledger or 0, top)
            if self._buffered_since is None:
                self._buffered_since = self._clock()
            listeners = list(self._listeners)
        for listener in listeners:
            listener(table, rows)

    def buffered_rows(self) -> int:
        with self._lock:
            return sum(b.num_rows for s in self._tables.values() for b in s.batches)

    def due(self) -> bool:
        """True when the buffer holds ``batch_rows`` rows or its oldest row waited ``flush_interval_s``."""
        with self._lock:
            if self._buffered_since is None:
                return False
            waited = self._clock() - self._buffered_since
            return waited >= self.options.flush_interval_s or self.buffered_rows() >= self.options.batch_rows

    def advance(self, ledger_sequence: int) -> CommitRecord | None:
        """Note that every row up to ``ledger_sequence`` was written; commit if :meth:`due`."""
        with self._lock:
            self._complete_through = ledger_sequence
        if self.due():
            return self.commit(Checkpoint(ledger_sequence))
        return None

    def flush_if_due(self) -> CommitRecord | None:
        """Commit every ledger reported complete through :meth:`advance` if :meth:`due`.

        Called on a timer, so that rows buffered at a quiet live tip (no next ledger to trigger
        :meth:`advance`) are committed within ``flush_interval_s``.
        """
        with self._lock:
            through = self._complete_through
        if through is None or self._closed or not self.due():
            return None
        return self.commit(Checkpoint(through))

    # -- committing ----------------------------------------------------------------------------------------

    def _split_buffer(self, state: _TableState, through: int) -> tuple[pa.Table, pa.Table]:
        rows = pa.Table.from_batches(state.batches, schema=state.schema)
        if state.ledger_column is None:
            return rows, rows.slice(0, 0)
        done = pc.less_equal(rows[state.ledger_column], through)
        return rows.filter(done), rows.filter(pc.invert(done))

    def _write_files(self, commit: int, table: str, state: _TableState, rows: pa.Table) -> list[FileManifest]:
        manifests: list[FileManifest] = []
        fingerprint = schema_fingerprint(state.schema)
        for rel_dir, part in state.partitioning.split(rows):
            folder = self.root / table / rel_dir if rel_dir else self.root / table
            folder.mkdir(parents=True, exist_ok=True)
            if state.ledger_column is not None:
                first = int(pc.min(part[state.ledger_column]).as_py())
                last = int(pc.max(part[state.ledger_column]).as_py())
            else:
                first = last = 0
            stem = f"part-{commit:012d}-{uuid.uuid4().hex[:12]}"
            for fmt in self.options.output_formats:
                final = folder / f"{stem}{_EXTENSIONS[fmt]}"
                pending = final.with_name(final.name + PENDING_SUFFIX)
                if fmt == "parquet":
                    write_parquet(pending, part, ParquetOptions(compression=self.options.parquet_compression))
                elif fmt == "jsonl":
                    write_jsonl(pending, part)
                else:
                    write_csv(pending, part)
                manifests.append(
                    FileManifest(
                        table=table,
                        path=final.relative_to(self.root).as_posix(),
                        format=fmt,
                        rows=part.num_rows,
                        bytes=pending.stat().st_size,
                        sha256=file_sha256(pending),
                        schema_fingerprint=fingerprint,
                        first_ledger=first,
                        last_ledger=last,
                    )
                )
        return manifests

    def commit(self, checkpoint: Checkpoint) -> CommitRecord | None:
        """Write and commit every buffered row with ledger <= ``checkpoint.ledger_sequence`` (see module doc).

        Returns the record, or ``None`` when the checkpoint does not move forward.
        """
        with self._commit_lock:
            through = checkpoint.ledger_sequence
            with self._lock:
                if self._checkpoint is not None and through <= self._checkpoint.ledger_sequence:
                    return None
                number = self._next_commit
                parts = {name: self._split_buffer(s, through)[0] for name, s in self._tables.items()}
            manifests: list[FileManifest] = []
            try:
                for name, rows in parts.items():
                    if rows.num_rows:
                        manifests.extend(self._write_files(number, name, self._tables[name], rows))
                ranges = [(m.first_ledger, m.last_ledger) for m in manifests if m.last_ledger]
                record = CommitRecord(
                    commit=number,
                    checkpoint=checkpoint,
                    first_ledger=min((r[0] for r in ranges), default=None),
                    last_ledger=max((r[1] for r in ranges), default=None),
                    files=tuple(manifests),
                )
                write_commit(self.root, record)
            except OSError as exc:  # nothing committed: drop this attempt's files, keep the rows buffered
                for table in self._tables:
                    for stale in (self.root / table).rglob(f"part-{number:012d}-*{PENDING_SUFFIX}"):
                        stale.unlink(missing_ok=True)
                msg = f"commit {number} through ledger {through} failed in {self.root}: {exc}"
                raise SinkError(msg, ledger_sequence=through) from exc
            with self._lock:
                for manifest in manifests:
                    final = self.root / manifest.path
                    os.replace(final.with_name(final.name + PENDING_SUFFIX), final)
                    self._written[manifest.format] += manifest.rows
                    self._files_written[manifest.format] += 1
                    if manifest.format == "parquet":
                        self._tables[manifest.table].files.append(final)
                for state in self._tables.values():
                    if state.batches:
                        rest = self._split_buffer(state, through)[1]
                        state.batches = rest.to_batches()
                self._checkpoint = checkpoint
                self._next_commit = number + 1
                self._buffered_since = self._clock() if self.buffered_rows() else None
            return record

    # -- reading -------------------------------------------------------------------------------------------

    def tables(self) -> Sequence[str]:
        return tuple(self._tables)

    def snapshot(self, table: str) -> TableView:
        state = self._state(table)
        with self._lock:
            live = pa.Table.from_batches(state.batches, schema=state.schema)
            return TableView(table, state.schema, tuple(state.files), live, state.last_ledger)

    def stats(self) -> SinkStats:
        with self._lock:
            return SinkStats(
                rows_received=dict(self._received),
                rows_dropped_replayed=self._dropped,
                rows_buffered=self.buffered_rows(),
                rows_written=dict(self._written),
                files_written=dict(self._files_written),
                commits=self._next_commit - 1,
                checkpoint=None if self._checkpoint is None else self._checkpoint.ledger_sequence,
            )

    def close(self) -> None:
        """Commit the rows of every ledger reported complete through :meth:`advance`, then refuse writes."""
        if self._closed:
            return
        with self._lock:
            through = self._complete_through
        if through is not None:
            self.commit(Checkpoint(through))
        self._closed = True

    def __enter__(self) -> DatasetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
