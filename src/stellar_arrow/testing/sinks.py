"""An in-memory :class:`~stellar_arrow.sink.base.Sink` that collects committed tables, and its reader.

:class:`MemorySink` keeps the contract of the file sink without files: rows are buffered by ``write_batch``,
a commit moves every row of the complete ledgers (``advance``) into :meth:`MemorySink.committed`, rows at
or below the last commit are dropped on arrival, and :meth:`MemorySink.snapshot` is the next ledger to write.
``resume_from`` starts it as if a run had committed everything before that ledger; :meth:`MemorySink.restart`
simulates a crash and restart (buffered rows are lost, committed rows stay, resume at the snapshot).
:meth:`MemorySink.reader` serves the committed and buffered rows to the API (as the live part of each view).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.errors import ConfigError, SinkError
from stellar_arrow.sink.base import LiveListener, SinkStats, TableView, Unsubscribe
from stellar_arrow.sink.buffer import TableBuffer
from stellar_arrow.sink.manifest import Checkpoint, CommitRecord

__all__ = ["MemoryReader", "MemorySink"]


@dataclass(slots=True)
class _Committed:
    """What survives a restart: committed rows per table and the commit records."""

    tables: dict[str, list[pa.Table]]
    records: list[CommitRecord]


class MemorySink:
    """A :class:`~stellar_arrow.sink.base.ReadableSink` in memory (see the module docstring).

    ``commit_every``: commit after that many complete ledgers (``advance``); ``flush_if_due`` commits the
    complete ledgers at once.
    """

    location = "memory"

    def __init__(
        self,
        schemas: Mapping[str, pa.Schema],
        *,
        resume_from: int | None = None,
        commit_every: int = 1,
        flush_interval_s: float = 0.05,
    ) -> None:
        if commit_every < 1 or flush_interval_s <= 0:
            msg = f"commit_every ({commit_every}) must be >= 1 and flush_interval_s ({flush_interval_s}) > 0"
            raise ConfigError(msg, key="commit_every")
        if resume_from is not None and resume_from < 1:
            msg = f"resume_from must be a ledger sequence >= 1, got {resume_from}"
            raise ConfigError(msg, key="resume_from")
        self.schemas = dict(schemas)
        self._commit_every = commit_every
        self._flush_interval_s = flush_interval_s
        self._buffer = TableBuffer(self.schemas, ())
        self._state = _Committed({name: [] for name in self.schemas}, [])
        self._through = None if resume_from is None else resume_from - 1
        self._complete: int | None = None
        self._uncommitted_ledgers = 0
        self._received: dict[str, int] = dict.fromkeys(self.schemas, 0)
        self._dropped = 0
        self.closed = False

    @property
    def flush_interval_s(self) -> float:
        return self._flush_interval_s

    def write_batch(self, table: str, batch: pa.RecordBatch | pa.Table) -> None:
        if self.closed:
            msg = f"memory sink is closed; cannot write table {table!r}"
            raise SinkError(msg)
        rows = self._buffer.conform(table, batch)
        with self._buffer.lock:
            kept = self._buffer.accept(table, rows, after=self._through)
            self._dropped += rows.num_rows - kept.num_rows
            self._received[table] += kept.num_rows
        if kept.num_rows:
            self._buffer.publish(table, kept)

    def advance(self, ledger_sequence: int) -> CommitRecord | None:
        with self._buffer.lock:
            self._complete = ledger_sequence
            self._uncommitted_ledgers += 1
            due = self._uncommitted_ledgers >= self._commit_every
        return self.commit() if due else None

    def flush_if_due(self) -> CommitRecord | None:
        return None if self.closed else self.commit()

    def commit(self) -> CommitRecord | None:
        with self._buffer.lock:
            through = self._complete
            if through is None or (self._through is not None and through <= self._through):
                self._uncommitted_ledgers = 0  # replayed ledgers: nothing new to commit
                return None
            rows = self._buffer.complete(through)
            ledgers = [
                pc.min_max(table[state.ledger_column]).values()
                for (name, table), state in zip(rows.items(), self._buffer.tables.values(), strict=True)
                if state.ledger_column is not None and table.num_rows
            ]
            record = CommitRecord(
                commit=len(self._state.records) + 1,
                checkpoint=Checkpoint(through),
                first_ledger=min((int(lo.as_py()) for lo, _ in ledgers), default=None),
                last_ledger=max((int(hi.as_py()) for _, hi in ledgers), default=None),
            )
            for name, table in rows.items():
                if table.num_rows:
                    self._state.tables[name].append(table)
            self._buffer.swap(through, {})
            self._state.records.append(record)
            self._through = through
            self._uncommitted_ledgers = 0
            return record

    def snapshot(self) -> int | None:
        """The next ledger to write (``None`` when nothing was committed and no ``resume_from`` given)."""
        with self._buffer.lock:
            return None if self._through is None else self._through + 1

    def close(self) -> None:
        if not self.closed:
            self.commit()
            self.closed = True

    # -- what tests look at --------------------------------------------------------------------------------

    def committed(self, table: str) -> pa.Table:
        """Every committed row of ``table``, in commit order."""
        state = self._buffer.state(table)  # SinkError naming the known tables for an unknown one
        with self._buffer.lock:
            return pa.concat_tables([state.schema.empty_table(), *self._state.tables[table]])

    @property
    def commits(self) -> tuple[CommitRecord, ...]:
        with self._buffer.lock:
            return tuple(self._state.records)

    def restart(self) -> MemorySink:
        """A new sink as after a crash: committed rows kept, buffered rows lost, resuming at the snapshot."""
        with self._buffer.lock:
            self.closed = True
            nxt = None if self._through is None else self._through + 1
            again = MemorySink(
                self.schemas,
                resume_from=nxt,
                commit_every=self._commit_every,
                flush_interval_s=self._flush_interval_s,
            )
            again._state = self._state
            return again

    def stats(self) -> SinkStats:
        with self._buffer.lock:
            return SinkStats(
                rows_received=dict(self._received),
                rows_dropped_replayed=self._dropped,
                rows_buffered=self._buffer.buffered_rows(),
                rows_written={"memory": sum(t.num_rows for ts in self._state.tables.values() for t in ts)},
                files_written={},
                commits=len(self._state.records),
                checkpoint=self._through,
            )

    def reader(self) -> MemoryReader:
        return MemoryReader(self)


class MemoryReader:
    """The :class:`~stellar_arrow.sink.base.TableReader` of a :class:`MemorySink`: no files; each view's live
    part holds the committed rows followed by the buffered ones, taken under one lock."""

    def __init__(self, sink: MemorySink) -> None:
        self._sink = sink

    def tables(self) -> Sequence[str]:
        return tuple(self._sink.schemas)

    def view(self, table: str) -> TableView:
        sink = self._sink
        with sink._buffer.lock:
            buffered = sink._buffer.view(table)
            parts = [*sink._state.tables[table], buffered.live]
        live = pa.concat_tables(parts)
        return TableView(table, buffered.schema, (), live, buffered.last_ledger)

    def subscribe(self, listener: LiveListener) -> Unsubscribe:
        return self._sink._buffer.subscribe(listener)

    def stats(self) -> SinkStats:
        return self._sink.stats()
