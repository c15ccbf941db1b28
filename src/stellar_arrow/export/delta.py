"""``export --format delta``: each chunk appended to one Delta table per table at ``<out>/delta/<table>/``.

A chunk is one Delta commit per table whose transaction identifier (application ``stellar-arrow-export``)
is the chunk's last ledger, in the same atomic commit as its files (:mod:`stellar_arrow.sink.delta`). A
re-run asks each table for that version: chunks at or below it are committed and skipped; rows of a
ledger at or below it are never appended again, whatever the chunk bounds of the re-run. The tables are
partitioned by ``date`` (the sink's default partitioning, UTC day of ``closed_at``).

Exports append in ledger order from one process, so a range that starts before the ledgers a table
already holds (which the version alone would count as committed) is refused, and so are ``--overwrite``
and cluster exports (chunks finishing out of order).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from deltalake import DeltaTable
from deltalake.exceptions import DeltaError

from stellar_arrow.errors import ConfigError
from stellar_arrow.export.chunks import Chunk
from stellar_arrow.ledger.validation import ChainLink
from stellar_arrow.schema import ledger_column
from stellar_arrow.sink.delta import EXPORT_APP_ID, DeltaTableWriter, open_writers
from stellar_arrow.sink.partition import PartitionKey

__all__ = ["EXPORT_PARTITION_BY", "DeltaChunkWriter"]

EXPORT_PARTITION_BY: Final[tuple[PartitionKey, ...]] = ("date",)


class DeltaChunkWriter:
    """The Delta tables of one export output folder, checked when opened."""

    def __init__(self, out_dir: Path, schemas: Mapping[str, pa.Schema]) -> None:
        self.out_dir = out_dir
        self.writers: dict[str, DeltaTableWriter] = open_writers(
            out_dir, schemas, EXPORT_PARTITION_BY, app_id=EXPORT_APP_ID
        )

    def committed(self, chunk: Chunk) -> bool:
        """Every table's transaction version covers the chunk's last ledger."""
        return all(
            w.committed_through is not None and w.committed_through >= chunk.last_ledger
            for w in self.writers.values()
        )

    def check_start(self, first_ledger: int) -> None:
        """Refuse a range starting before the first ledger a table holds (it would count as committed)."""
        for name, writer in self.writers.items():
            if writer.committed_through is None or first_ledger > writer.committed_through:
                continue
            held = _first_ledger(writer)
            if held is not None and first_ledger < held:
                msg = (
                    f"the Delta table {writer.path} holds ledgers {held}-{writer.committed_through} of "
                    f"{name}; an export from {first_ledger} would append them out of order: use another --out"
                )
                raise ConfigError(msg, key="source.start_ledger")

    def write(self, chunk: Chunk, tables: Mapping[str, pa.Table]) -> dict[str, int]:
        """Append the chunk's rows to every table (txn = the chunk's last ledger); rows appended per table."""
        info = {"stellar_arrow.chunk": f"{chunk.first_ledger}-{chunk.last_ledger}"}
        return {
            name: writer.append(tables[name], chunk.last_ledger, info=info)
            for name, writer in self.writers.items()
        }

    def link(self, sequence: int) -> ChainLink | None:
        """The chain link of ledger ``sequence`` from the ``ledgers`` table (None when it is not there)."""
        writer = self.writers.get("ledgers")
        if writer is None or writer.committed_through is None or sequence > writer.committed_through:
            return None
        try:
            dataset = DeltaTable(str(writer.path)).to_pyarrow_dataset()
            rows = dataset.to_table(
                columns=["sequence", "ledger_hash", "previous_ledger_hash"],
                filter=ds.field("sequence") == sequence,
            ).to_pylist()
        except (DeltaError, OSError, pa.ArrowException):
            return None
        if len(rows) != 1:
            return None
        row = rows[0]
        return ChainLink(
            sequence, bytes.fromhex(row["ledger_hash"]), bytes.fromhex(row["previous_ledger_hash"])
        )


def _first_ledger(writer: DeltaTableWriter) -> int | None:
    """The lowest ledger of the table, from its files' statistics (None for a table without rows)."""
    try:
        actions = pa.table(DeltaTable(str(writer.path)).get_add_actions(flatten=True))
    except (DeltaError, OSError, pa.ArrowException):
        return None
    key = ledger_column(writer.layout.schema)
    column = f"min.{key}"
    if key is None or column not in actions.column_names or actions.num_rows == 0:
        return None
    low = pc.min(actions.column(column)).as_py()
    return None if low is None else int(low)
