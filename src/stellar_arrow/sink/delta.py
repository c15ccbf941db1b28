"""Delta Lake tables: one per pipeline table at ``DIR/delta/<table>/``, appended exactly once per ledger.

Written with the ``deltalake`` package (delta-rs). Each append carries an idempotent transaction identifier
(``txn`` action: application id + version) in the same atomic Delta commit as its files; the version is
the last ledger the append covers. A writer reads its application's version when it opens a table and
drops every row of a ledger at or below it, so a restarted, replaying or SIGKILLed writer never appends a
ledger twice, whatever the boundaries of its next commits.

Layout and types (the project's one Arrow schema per table, :mod:`stellar_arrow.schema`, adapted where
Delta has no such type; :func:`from_delta_rows` turns rows back into the project's schema):

* ``uint32`` (ledger sequences, indexes) -> ``long`` (int64): Delta has no unsigned integers and delta-rs
  would narrow ``uint32`` to a signed ``integer``;
* ``uint64`` (``to_muxed_id``) -> ``decimal(20,0)``, exact for the whole 64-bit range;
* ``timestamp[us, UTC]`` -> ``timestamp``; ``decimal(38,7)`` amounts stay decimals; ``amount_raw`` (i128)
  stays the exact integer string the Parquet layout stores; binary, strings, int8/32/64, bool unchanged;
* partition keys as in the Parquet layout: ``asset_code`` and ``event_type`` are columns already; ``date``
  (``date``, UTC day of ``closed_at``) and ``hour`` (``integer`` 0-23) are added as columns, because a
  Delta partition must be a column;
* decimal columns are left out of the Delta log's file statistics (``delta.dataSkippingStatsColumns``):
  delta-rs writes decimal statistics as JSON floats, which round, and readers that skip files by those
  statistics would then miss rows (an exact amount filter answering nothing).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, NoReturn
from urllib.parse import unquote

import orjson
import pyarrow as pa
import pyarrow.compute as pc
from deltalake import CommitProperties, DeltaTable, Transaction, WriterProperties, write_deltalake
from deltalake.exceptions import DeltaError

from stellar_arrow.errors import ConfigError, SinkError
from stellar_arrow.schema import ledger_column
from stellar_arrow.sink.durable import fsync_dir, fsync_files
from stellar_arrow.sink.partition import PartitionKey, TablePartitioning

__all__ = [
    "DELTA_DIR",
    "EXPORT_APP_ID",
    "SINK_APP_ID",
    "DeltaLayout",
    "DeltaTableWriter",
    "delta_problems",
    "delta_table_path",
    "delta_tables",
    "from_delta_rows",
    "open_writers",
    "read_delta_table",
    "to_delta_rows",
]

DELTA_DIR: Final = "delta"
SINK_APP_ID: Final = "stellar-arrow-sink"
EXPORT_APP_ID: Final = "stellar-arrow-export"
_DERIVED: Final[dict[str, pa.DataType]] = {"date": pa.date32(), "hour": pa.int32()}
_TIME_COLUMN: Final = "closed_at"
_Codec = Literal["UNCOMPRESSED", "SNAPPY", "GZIP", "BROTLI", "LZ4", "ZSTD", "LZ4_RAW"]
_CODECS: Final[dict[str, _Codec]] = {
    "zstd": "ZSTD",
    "snappy": "SNAPPY",
    "gzip": "GZIP",
    "lz4": "LZ4_RAW",
    "brotli": "BROTLI",
    "none": "UNCOMPRESSED",
}


def delta_table_path(root: Path, table: str) -> Path:
    """``root/delta/<table>``: where the Delta table of ``table`` lives in an output directory."""
    return Path(root) / DELTA_DIR / table


def delta_tables(root: Path) -> dict[str, Path]:
    """``{table: path}`` of every Delta table under ``root/delta/`` (folders holding a ``_delta_log``)."""
    folder = Path(root) / DELTA_DIR
    if not folder.is_dir():
        return {}
    return {p.name: p for p in sorted(folder.iterdir()) if (p / "_delta_log").is_dir()}


def _delta_type(kind: pa.DataType) -> pa.DataType:
    if kind in (pa.uint8(), pa.uint16()):
        return pa.int32()
    if kind == pa.uint32():
        return pa.int64()
    if kind == pa.uint64():
        return pa.decimal128(20, 0)
    return kind


@dataclass(frozen=True, slots=True)
class DeltaLayout:
    """How one table's rows are stored in its Delta table: the Delta schema and its partition columns."""

    table: str
    schema: pa.Schema  # the project's Arrow schema
    delta_schema: pa.Schema
    partition_columns: tuple[str, ...]

    @classmethod
    def of(cls, table: str, schema: pa.Schema, partition_by: Sequence[PartitionKey]) -> DeltaLayout:
        keys = TablePartitioning.for_schema(schema, partition_by).keys
        fields = [pa.field(f.name, _delta_type(f.type), f.nullable) for f in schema]
        for key in keys:
            if key in _DERIVED:
                if key in schema.names:
                    msg = f"table {table} has a column {key!r}: it cannot also be the Delta partition {key!r}"
                    raise ConfigError(msg, key="sink.partition_by")
                fields.append(pa.field(key, _DERIVED[key], nullable=False))
        return cls(table, schema, pa.schema(fields), tuple(keys))

    @property
    def stats_columns(self) -> str:
        """Columns whose statistics the Delta log keeps: all but decimals, binaries and partitions."""
        keep = [
            f.name
            for f in self.delta_schema
            if f.name not in self.partition_columns
            and not pa.types.is_decimal(f.type)
            and not pa.types.is_binary(f.type)
        ]
        return ",".join(f"`{name}`" for name in keep)


def to_delta_rows(rows: pa.Table, layout: DeltaLayout) -> pa.Table:
    """Rows of the project's schema -> the Delta schema (casts and the derived partition columns)."""
    columns: list[pa.ChunkedArray | pa.Array] = [
        rows.column(f.name).cast(layout.delta_schema.field(f.name).type) for f in layout.schema
    ]
    for name in layout.partition_columns:
        if name == "date":
            columns.append(pc.cast(rows.column(_TIME_COLUMN), pa.date32()))
        elif name == "hour":
            columns.append(pc.cast(pc.hour(rows.column(_TIME_COLUMN)), pa.int32()))
    return pa.Table.from_arrays(columns, schema=layout.delta_schema)


def from_delta_rows(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """Rows read from a Delta table -> the project's schema (derived columns dropped, types cast back)."""
    return table.select(schema.names).cast(schema)


def read_delta_table(path: Path, schema: pa.Schema) -> pa.Table:
    """Every row of the Delta table at ``path`` in the project's ``schema`` (file order, not row order)."""
    try:
        rows = DeltaTable(str(path)).to_pyarrow_dataset().to_table()
    except DeltaError as exc:
        msg = f"cannot read the Delta table at {path}: {exc}"
        raise SinkError(msg) from exc
    return from_delta_rows(rows, schema)


def delta_problems(path: Path) -> tuple[list[tuple[str, str]], int]:
    """``([(file, problem)], rows)`` for the Delta table at ``path``: its log reads and every file it names
    exists with the size the log records (what ``stellar-arrow validate`` checks of a Delta table).
    """
    try:
        table = DeltaTable(str(path))
        actions = pa.table(table.get_add_actions(flatten=True))
    except (DeltaError, OSError, pa.ArrowException) as exc:
        return [(".", f"not a readable Delta table: {exc}")], 0
    problems: list[tuple[str, str]] = []
    for rel, size in zip(
        actions.column("path").to_pylist(), actions.column("size_bytes").to_pylist(), strict=True
    ):
        name = unquote(str(rel))
        file = path / name
        if not file.is_file():
            problems.append((name, "named by the Delta log but missing"))
        elif file.stat().st_size != size:
            problems.append((name, f"is {file.stat().st_size} bytes, the Delta log says {size}"))
    rows = actions.column("num_records").to_pylist() if "num_records" in actions.column_names else []
    return problems, sum(int(r or 0) for r in rows)


def _compatible(found: pa.Schema, wanted: pa.Schema) -> str | None:
    if found.names != wanted.names:
        missing = [n for n in wanted.names if n not in found.names]
        extra = [n for n in found.names if n not in wanted.names]
        return f"columns differ (missing {missing}, unexpected {extra}, or in another order)"
    for have, want in zip(found, wanted, strict=True):
        if have.type != want.type:
            return f"column {have.name!r} is {have.type}, expected {want.type}"
    return None


class DeltaTableWriter:
    """Appends one table's rows to its Delta table, each ledger exactly once, for application ``app_id``.

    Opening checks an existing table: a folder that is not a Delta table, another schema or partitioning,
    or a table without a transaction of ``app_id`` (another application's table) is a :class:`SinkError`,
    never a silent append.
    """

    def __init__(self, path: Path, layout: DeltaLayout, *, app_id: str, compression: str = "zstd") -> None:
        self.path = Path(path)
        self.layout = layout
        self.app_id = app_id
        codec = _CODECS.get(compression)
        self._properties = WriterProperties(compression=codec) if codec else WriterProperties()
        self._table: DeltaTable | None = None  # kept open: appends through it skip reloading the log
        self._through = self._open()

    @property
    def committed_through(self) -> int | None:
        """The last ledger this application committed to the table (its ``txn`` version)."""
        return self._through

    def _refuse(self, problem: str) -> NoReturn:
        msg = f"Delta table {self.path} ({self.layout.table}): {problem}; refusing to append"
        raise SinkError(msg)

    def _open(self) -> int | None:
        if not self.path.exists():
            return None
        if not self.path.is_dir():
            self._refuse("is a file, not a folder")
        if not DeltaTable.is_deltatable(str(self.path)):
            if any(self.path.iterdir()):
                self._refuse("the folder holds files but no Delta log (_delta_log/)")
            return None
        try:
            table = DeltaTable(str(self.path))
            found = pa.schema(table.schema().to_arrow())
            partitions = tuple(table.metadata().partition_columns)
            version = table.transaction_version(self.app_id)
            self._table = table
        except DeltaError as exc:
            msg = f"Delta table {self.path} ({self.layout.table}) cannot be read: {exc}"
            raise SinkError(msg) from exc
        if partitions != self.layout.partition_columns:
            self._refuse(f"partitioned by {list(partitions)}, expected {list(self.layout.partition_columns)}")
        problem = _compatible(found, self.layout.delta_schema)
        if problem is not None:
            self._refuse(f"foreign schema: {problem}")
        if version is None:
            self._refuse(f"it holds no transaction of application {self.app_id!r} (another writer's table)")
        return int(version)

    def append(self, rows: pa.Table, through: int, *, info: Mapping[str, str] | None = None) -> int:
        """Append the rows of the ledgers after :attr:`committed_through` up to ``through`` (txn ``through``).

        ``info`` goes into the commit info (``stellar_arrow.*`` keys, shown by ``DeltaTable.history()``).
        Returns the rows appended; nothing happens when ``through`` is already committed. ``rows`` may be
        empty: the commit then records only the transaction (one Delta version per call).
        """
        done = self._through
        if done is not None and through <= done:
            return 0
        if done is not None and rows.num_rows:
            key = ledger_column(self.layout.schema)
            if key is not None:
                rows = rows.filter(pc.greater(rows.column(key), done))
        metadata = {
            "stellar_arrow.table": self.layout.table,
            "stellar_arrow.through_ledger": str(through),
            **(info or {}),
        }
        try:
            write_deltalake(
                self._table if self._table is not None else str(self.path),
                to_delta_rows(rows, self.layout),
                mode="append",
                partition_by=list(self.layout.partition_columns) or None,
                name=self.layout.table,
                configuration={"delta.dataSkippingStatsColumns": self.layout.stats_columns},
                writer_properties=self._properties,
                commit_properties=CommitProperties(
                    custom_metadata=metadata,
                    app_transactions=[Transaction(app_id=self.app_id, version=through)],
                ),
            )
        except (DeltaError, OSError, pa.ArrowException) as exc:
            msg = f"append to Delta table {self.path} through ledger {through} failed: {exc}"
            raise SinkError(msg, ledger_sequence=through) from exc
        if self._table is None:
            self._table = DeltaTable(str(self.path))
        try:
            self._sync(self._table.version())
        except OSError as exc:
            msg = (
                f"Delta table {self.path}: version {self._table.version()} could not be synced to disk: {exc}"
            )
            raise SinkError(msg, ledger_sequence=through) from exc
        self._through = through
        return int(rows.num_rows)

    def _sync(self, version: int) -> None:
        """fsync the files a Delta version added, its log entry and their folders (delta-rs does not)."""
        entry = self.path / "_delta_log" / f"{version:020d}.json"
        added = [
            self.path / unquote(action["add"]["path"])
            for line in entry.read_bytes().splitlines()
            if line.strip() and "add" in (action := orjson.loads(line))
        ]
        fsync_files([*added, entry])
        for folder in sorted({p.parent for p in added} | {entry.parent, self.path}):
            fsync_dir(folder)


def open_writers(
    root: Path,
    schemas: Mapping[str, pa.Schema],
    partition_by: Sequence[PartitionKey],
    *,
    app_id: str,
    compression: str = "zstd",
) -> dict[str, DeltaTableWriter]:
    """One checked :class:`DeltaTableWriter` per table at ``root/delta/<table>``."""
    return {
        name: DeltaTableWriter(
            delta_table_path(root, name),
            DeltaLayout.of(name, schema, partition_by),
            app_id=app_id,
            compression=compression,
        )
        for name, schema in schemas.items()
    }
