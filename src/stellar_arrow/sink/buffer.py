"""The state a file sink shares between its writer and its readers: buffered rows and committed files.

:class:`TableBuffer` holds, per table, the rows accepted but not committed and the committed Parquet files,
behind one lock. The writer (:class:`~stellar_arrow.sink.dataset.DatasetSink`) adds rows with :meth:`accept`
and swaps committed rows into files with :meth:`swap`; readers take :meth:`view`, which sees both parts of a
table at one instant, so a row is never missing or seen twice while a commit runs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.errors import SinkError
from stellar_arrow.sink.base import LiveListener, TableView, Unsubscribe, ledger_column
from stellar_arrow.sink.partition import PartitionKey, TablePartitioning

__all__ = ["TableBuffer", "TableState"]


@dataclass(slots=True)
class TableState:
    """One table: its schema and partitioning, buffered batches, committed Parquet files, newest ledger."""

    schema: pa.Schema
    partitioning: TablePartitioning
    ledger_column: str | None
    batches: list[pa.RecordBatch] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)
    last_ledger: int | None = None

    def split(self, through: int) -> tuple[pa.Table, pa.Table]:
        """Buffered rows with ledger <= ``through`` and the rest (no ledger column: all rows, none)."""
        rows = pa.Table.from_batches(self.batches, schema=self.schema)
        if self.ledger_column is None or rows.num_rows == 0:
            return rows, rows.slice(0, 0)
        ledgers = rows[self.ledger_column]
        if ledgers.null_count == 0:  # the usual cases without copying: every row on one side
            low, high = pc.min_max(ledgers).values()
            if high.as_py() <= through:
                return rows, rows.slice(0, 0)
            if low.as_py() > through:
                return rows.slice(0, 0), rows
        done = pc.less_equal(ledgers, through)
        return rows.filter(done), rows.filter(pc.invert(done))


class TableBuffer:
    """Per-table buffered rows and committed files behind one lock, with live listeners."""

    def __init__(self, schemas: Mapping[str, pa.Schema], partition_by: Sequence[PartitionKey]) -> None:
        self.lock = threading.RLock()
        self.tables = {
            name: TableState(
                schema, TablePartitioning.for_schema(schema, partition_by), ledger_column(schema)
            )
            for name, schema in schemas.items()
        }
        self._listeners: list[LiveListener] = []

    def state(self, table: str) -> TableState:
        state = self.tables.get(table)
        if state is None:
            msg = f"table {table!r} is not configured in this sink (known: {', '.join(sorted(self.tables))})"
            raise SinkError(msg)
        return state

    def conform(self, table: str, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        """``batch`` as a table of ``table``'s schema; ``SinkError`` when names or types differ."""
        state = self.state(table)
        rows = batch if isinstance(batch, pa.Table) else pa.Table.from_batches([batch])
        got = [(f.name, f.type) for f in rows.schema]
        if got != [(f.name, f.type) for f in state.schema]:  # nullability and metadata may differ in transit
            msg = f"rows for table {table!r} do not match its schema:\n{rows.schema}\nwanted\n{state.schema}"
            raise SinkError(msg)
        return rows.cast(state.schema) if rows.schema != state.schema else rows

    def accept(self, table: str, rows: pa.Table, *, after: int | None) -> pa.Table:
        """Buffer the rows of ``table`` with ledger > ``after`` (all when ``None``); returns the rows kept."""
        state = self.state(table)
        with self.lock:
            if state.ledger_column is not None and after is not None and rows.num_rows:
                rows = rows.filter(pc.greater(rows[state.ledger_column], after))
            if rows.num_rows == 0:
                return rows
            state.batches.extend(rows.to_batches())
            if state.ledger_column is not None:
                top = pc.max(rows[state.ledger_column]).as_py()
                state.last_ledger = max(state.last_ledger or 0, top)
        return rows

    def publish(self, table: str, rows: pa.Table) -> None:
        """Hand accepted rows to every listener (outside the lock: a listener may take its time)."""
        with self.lock:
            listeners = list(self._listeners)
        for listener in listeners:
            listener(table, rows)

    def subscribe(self, listener: LiveListener) -> Unsubscribe:
        with self.lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self.lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def buffered_rows(self) -> int:
        with self.lock:
            return sum(b.num_rows for s in self.tables.values() for b in s.batches)

    def complete(self, through: int) -> dict[str, pa.Table]:
        """Per table, the buffered rows with ledger <= ``through`` (left in the buffer until :meth:`swap`)."""
        with self.lock:
            return {name: state.split(through)[0] for name, state in self.tables.items()}

    def swap(self, through: int, files: Mapping[str, Sequence[Path]]) -> None:
        """Make ``files`` the committed home of every buffered row with ledger <= ``through``, atomically."""
        with self.lock:
            for name, paths in files.items():
                self.tables[name].files.extend(paths)
            for state in self.tables.values():
                if state.batches:
                    state.batches = state.split(through)[1].to_batches()

    def restore(self, files: Mapping[str, Sequence[Path]], last_ledgers: Mapping[str, int]) -> None:
        """Committed files and newest ledgers found by recovery (replaces what was known)."""
        with self.lock:
            for name, state in self.tables.items():
                state.files = list(files.get(name, ()))
                if name in last_ledgers:
                    state.last_ledger = max(state.last_ledger or 0, last_ledgers[name])

    def view(self, table: str) -> TableView:
        state = self.state(table)
        with self.lock:
            live = pa.Table.from_batches(state.batches, schema=state.schema)
            return TableView(table, state.schema, tuple(state.files), live, state.last_ledger)
