"""The file sink: buffers the pipeline's tables, writes partitioned files and commits them exactly once.

:class:`DatasetSink` is the writer (the :class:`~stellar_arrow.sink.base.Sink` the pipeline's loop calls):
it buffers rows in a :class:`~stellar_arrow.sink.buffer.TableBuffer`, decides when to commit (``batch_rows``
or ``flush_interval_s``, first wins) and commits through a :class:`~stellar_arrow.sink.commit.CommitWriter`
(protocol in :mod:`stellar_arrow.sink.commit`). On open it recovers the directory: interrupted commits are
finished, uncommitted files deleted. Rows for ledgers at or below the last checkpoint are dropped on arrival,
so a pipeline that replays from its checkpoint after a restart writes each row exactly once.

:meth:`DatasetSink.reader` returns the :class:`DatasetReader`, the
:class:`~stellar_arrow.sink.base.TableReader` the API and the Flight service read through.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import pyarrow as pa

from stellar_arrow.config import SinkSettings
from stellar_arrow.errors import SinkError
from stellar_arrow.observability.metrics import EXPORT_DURATION, EXPORT_ERRORS, FILES_WRITTEN
from stellar_arrow.sink.base import LiveListener, SinkStats, TableView, Unsubscribe
from stellar_arrow.sink.buffer import TableBuffer
from stellar_arrow.sink.commit import CommitWriter, commit_replace, recover
from stellar_arrow.sink.delta import SINK_APP_ID, open_writers
from stellar_arrow.sink.manifest import Checkpoint, CommitRecord, FileManifest
from stellar_arrow.sink.parquet import ParquetOptions
from stellar_arrow.sink.writer_lock import WriterLock

__all__ = ["DatasetReader", "DatasetSink"]

log = logging.getLogger(__name__)


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
        self._buffer = TableBuffer(schemas, self.options.partition_by)
        parquet = ParquetOptions(compression=self.options.parquet_compression)
        delta = None
        if "delta" in self.options.output_formats:
            delta = open_writers(
                self.root,
                schemas,
                self.options.partition_by,
                app_id=SINK_APP_ID,
                compression=self.options.parquet_compression,
            )
        self._writer = CommitWriter(self.root, self.options.output_formats, parquet, delta)
        self._commit_lock = threading.Lock()
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
        self._lock = WriterLock(self.root)
        self._lock.acquire(holder="the sink")
        try:
            self.recover()
        except BaseException:
            self._lock.release()
            raise
        self._note_delta_gap()

    def _note_delta_gap(self) -> None:
        """Warn when a Delta table starts after the commit log (``delta`` added to an existing directory)."""
        if self._checkpoint is None:
            return
        through = self._checkpoint.ledger_sequence
        for name, writer in self._writer.delta.items():
            if writer.committed_through is None or writer.committed_through < through:
                log.warning(
                    "the Delta table %s holds ledgers through %s, the commit log through %s: the ledgers in "
                    "between are in the file layout only",
                    writer.path,
                    writer.committed_through,
                    through,
                    extra={"table": name},
                )

    @property
    def location(self) -> str:
        return str(self.root)

    @property
    def closed(self) -> bool:
        """True once :meth:`close` ran (no more writes or commits)."""
        return self._closed

    @property
    def flush_interval_s(self) -> float:
        return self.options.flush_interval_s

    def recover(self) -> None:
        """Finish interrupted commits and delete every file no commit names (:func:`~.commit.recover`)."""
        with self._buffer.lock:
            found = recover(self.root, self._buffer.tables)
            if found.checkpoint is not None:
                self._checkpoint = found.checkpoint
                self._next_commit = found.next_commit
            self._buffer.restore(found.files, found.last_ledgers)

    @property
    def checkpoint(self) -> Checkpoint | None:
        """The last committed checkpoint (resume the pipeline at ``ledger_sequence + 1``)."""
        return self._checkpoint

    def snapshot(self) -> int | None:
        """The next ledger to write: one after the last committed checkpoint (``None`` before any commit)."""
        checkpoint = self._checkpoint
        return None if checkpoint is None else checkpoint.ledger_sequence + 1

    def reader(self) -> DatasetReader:
        """The read side of this sink (committed files + buffered rows, live rows, counters)."""
        return DatasetReader(self)

    # -- writing -------------------------------------------------------------------------------------------

    def write_batch(self, table: str, batch: pa.RecordBatch | pa.Table) -> None:
        if self._closed:
            msg = f"sink at {self.root} is closed; cannot write table {table!r}"
            raise SinkError(msg)
        rows = self._buffer.conform(table, batch)
        with self._buffer.lock:
            after = None if self._checkpoint is None else self._checkpoint.ledger_sequence
            kept = self._buffer.accept(table, rows, after=after)
            self._dropped += rows.num_rows - kept.num_rows
            self._received[table] += kept.num_rows
            if kept.num_rows == 0:
                return
            if self._buffered_since is None:
                self._buffered_since = self._clock()
        self._buffer.publish(table, kept)

    def buffered_rows(self) -> int:
        return self._buffer.buffered_rows()

    def due(self) -> bool:
        """True when the buffer holds ``batch_rows`` rows or its oldest row waited ``flush_interval_s``."""
        with self._buffer.lock:
            if self._buffered_since is None:
                return False
            waited = self._clock() - self._buffered_since
            return waited >= self.options.flush_interval_s or self.buffered_rows() >= self.options.batch_rows

    def advance(self, ledger_sequence: int) -> CommitRecord | None:
        """Note that every row up to ``ledger_sequence`` was written; commit if :meth:`due`."""
        with self._buffer.lock:
            self._complete_through = ledger_sequence
        if self.due():
            return self.commit(Checkpoint(ledger_sequence))
        return None

    def flush_if_due(self) -> CommitRecord | None:
        """Commit every ledger reported complete through :meth:`advance` if :meth:`due`.

        Called on a timer, so that rows buffered at a quiet live tip (no next ledger to trigger
        :meth:`advance`) are committed within ``flush_interval_s``.
        """
        with self._buffer.lock:
            through = self._complete_through
        if through is None or self._closed or not self.due():
            return None
        return self.commit(Checkpoint(through))

    def commit(self, checkpoint: Checkpoint | None = None) -> CommitRecord | None:
        """Write and commit every buffered row with ledger <= the checkpoint (see :mod:`~.commit`).

        Without ``checkpoint``: through the last ledger reported complete by :meth:`advance`. Returns the
        record, or ``None`` when the checkpoint does not move forward.
        """
        if checkpoint is None:
            with self._buffer.lock:
                through_complete = self._complete_through
            if through_complete is None:
                return None
            checkpoint = Checkpoint(through_complete)
        with self._commit_lock:
            through = checkpoint.ledger_sequence
            with self._buffer.lock:
                if self._checkpoint is not None and through <= self._checkpoint.ledger_sequence:
                    return None
                number = self._next_commit
                complete = self._buffer.complete(through)
            parts = {name: (self._buffer.tables[name], rows) for name, rows in complete.items()}
            started = time.monotonic()
            try:
                record = self._writer.write(number, checkpoint, parts)
            except SinkError as exc:
                for fmt in self.options.output_formats:
                    EXPORT_ERRORS.labels(fmt, type(exc.__cause__ or exc).__name__).inc()
                raise
            with self._buffer.lock:
                committed = self._writer.publish(record)
                if self._writer.delta:
                    self._written["delta"] += self._writer.delta_rows
                for manifest in record.files:
                    self._written[manifest.format] += manifest.rows
                    self._files_written[manifest.format] += 1
                    FILES_WRITTEN.labels(manifest.format).inc()
                for fmt in {m.format for m in record.files}:
                    EXPORT_DURATION.labels(fmt).observe(time.monotonic() - started)
                self._buffer.swap(through, committed)
                self._checkpoint = checkpoint
                self._next_commit = number + 1
                self._buffered_since = self._clock() if self.buffered_rows() else None
            return record

    def replace(
        self, removed: Sequence[str], added: Sequence[FileManifest], *, action: str, committed_at: str
    ) -> CommitRecord:
        """A replace commit (lifecycle: compaction, archival, deletion) made while this sink runs.

        ``added`` are fsynced ``.pending`` files; readers' views switch from ``removed`` to ``added`` in
        one step (see :func:`~.commit.commit_replace`). Raises ``SinkError`` before any commit.
        """
        with self._commit_lock:
            if self._closed:
                msg = f"sink at {self.root} is closed; cannot commit lifecycle action {action}"
                raise SinkError(msg)
            if self._checkpoint is None:
                msg = f"sink at {self.root} has no commit yet: nothing to replace"
                raise SinkError(msg)
            number = self._next_commit
            try:
                record = commit_replace(
                    self.root,
                    number,
                    self._checkpoint,
                    removed=removed,
                    added=added,
                    action=action,
                    committed_at=committed_at,
                )
            except OSError as exc:
                msg = f"replace commit {number} ({action}) failed in {self.root}: {exc}"
                raise SinkError(msg) from exc
            gone = {self.root / path for path in removed}
            with self._buffer.lock:
                for name, state in self._buffer.tables.items():
                    state.files = [p for p in state.files if p not in gone]
                    state.files.extend(
                        self.root / m.path for m in added if m.table == name and m.format == "parquet"
                    )
                self._next_commit = number + 1
            return record

    def stats(self) -> SinkStats:
        with self._buffer.lock:
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
        try:
            self.commit()
        finally:
            self._closed = True
            self._lock.release()

    def __enter__(self) -> DatasetSink:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class DatasetReader:
    """The :class:`~stellar_arrow.sink.base.TableReader` of a live :class:`DatasetSink`."""

    def __init__(self, sink: DatasetSink) -> None:
        self._sink = sink
        self._buffer = sink._buffer

    @property
    def root(self) -> Path:
        return self._sink.root

    def tables(self) -> Sequence[str]:
        return tuple(self._buffer.tables)

    def view(self, table: str) -> TableView:
        return self._buffer.view(table)

    def subscribe(self, listener: LiveListener) -> Unsubscribe:
        return self._buffer.subscribe(listener)

    def stats(self) -> SinkStats:
        return self._sink.stats()
