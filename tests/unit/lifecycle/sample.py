"""Sink outputs for lifecycle tests: real pubnet tables (``data/corpus`` = ``data/lakes/pubnet-p26``)
committed one ledger per commit by the real :class:`~stellar_arrow.sink.DatasetSink`, so every
partition holds many small files; plus helpers to read every row back (live tier and archive) with DuckDB."""

from __future__ import annotations

import hashlib
import io
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import zstandard

from stellar_arrow.config import LifecycleSettings, SinkSettings
from stellar_arrow.lifecycle import ArchiveStore, Lifecycle, fixed_clock
from stellar_arrow.sink import DatasetSink, read_commits
from stellar_arrow.sink.manifest import live_files
from tests.unit.sink.realdata import ledger_tables, schemas

TABLES = ("ledgers", "transactions", "operations", "token_transfers")


def newest_close() -> datetime:
    """Close time of the newest sample ledger written by :func:`make_output` (all ledgers: same day)."""
    closes = [pc.max(per["ledgers"]["closed_at"]).as_py() for _, per in ledger_tables()]
    return max(closes)


def days_after(days: float) -> datetime:
    return newest_close() + timedelta(days=days)


def make_output(root: Path, ledgers: int = 6, formats: tuple[str, ...] = ("parquet",)) -> Path:
    options = SinkSettings(output_formats=formats, partition_by=("date",), batch_rows=1)
    with DatasetSink(root, schemas(), options) as sink:
        for seq, per in ledger_tables()[:ledgers]:
            for table, rows in per.items():
                sink.write_batch(table, rows)
            sink.advance(seq)
    return root


def lifecycle(root: Path, at: datetime, **settings: object) -> Lifecycle:
    return Lifecycle(root, LifecycleSettings(**settings), clock=fixed_clock(at))  # type: ignore[arg-type]


def live_parquet(root: Path, table: str) -> list[Path]:
    live = live_files(read_commits(root))
    return [root / m.path for m in live.values() if m.table == table and m.format == "parquet"]


def rows_sql(files: list[Path], table: str) -> pa.Table:
    """Every row of ``files`` through DuckDB, in a total order (the table's key columns)."""
    if not files:
        return pa.table({})
    listed = ", ".join(f"'{p}'" for p in files)
    sql = f"SELECT * FROM read_parquet([{listed}], hive_partitioning = false) ORDER BY ALL"
    return duckdb.sql(sql).to_arrow_table()


def archived_parquet_rows(archive: Path, table: str) -> list[pa.Table]:
    store = ArchiveStore(str(archive))
    out = []
    for item in store.files().values():
        if item.manifest.table == table and item.manifest.format == "parquet":
            out.append(pq.read_table(archive / item.archived_path))
    return out


def text_of(path: Path) -> bytes:
    """The original bytes of a (possibly zstd-compressed) archived text file."""
    raw = path.read_bytes()
    if path.suffix == ".zst":
        return zstandard.ZstdDecompressor().stream_reader(io.BytesIO(raw)).read()
    return raw


def tree_digest(*roots: Path) -> dict[str, str]:
    """``{path: sha256}`` of every file under ``roots`` (to prove that nothing changed)."""
    out: dict[str, str] = {}
    for root in roots:
        if root.exists():
            for path in sorted(root.rglob("*")):
                if path.is_file():
                    out[str(path)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return out
