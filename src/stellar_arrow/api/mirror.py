"""Committed Parquet files loaded once into DuckDB tables, so queries do not reopen many small files.

A sink that commits every few ledgers leaves one file per partition and commit; reading hundreds of them per
request costs tens of milliseconds. The mirror appends each newly committed file to a native DuckDB table
(compressed, with zone maps) the first time a view names it, and tags its rows with the file's ordinal, so a
query can see exactly the files of its own view (``_file < n``) even while newer files are being loaded.
Memory: DuckDB's compressed columnar copy of the committed rows (turn it off with ``mirror=False`` for data
sets larger than memory; queries then read the files directly).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import duckdb

__all__ = ["ParquetMirror", "parquet_sql"]

_FILE_COLUMN: Final = "_file"


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parquet_sql(files: tuple[Path, ...]) -> str:
    listed = ", ".join(_sql_str(str(p)) for p in files)
    return f"read_parquet([{listed}], hive_partitioning = false)"


@dataclass(slots=True)
class _Loaded:
    name: str
    files: list[Path] = field(default_factory=list)
    created: bool = False


class ParquetMirror:
    """One DuckDB table per pipeline table, grown file by file."""

    def __init__(self, db: duckdb.DuckDBPyConnection) -> None:
        self._db = db
        self._lock = threading.Lock()
        self._tables: dict[str, _Loaded] = {}

    def _load(self, loaded: _Loaded, files: tuple[Path, ...]) -> None:
        start = len(loaded.files)
        new = files[start:]
        mapping = ", ".join(f"({_sql_str(str(p))}, {start + i})" for i, p in enumerate(new))
        select = (
            f"SELECT p.* EXCLUDE (filename), f.ordinal AS {_FILE_COLUMN} "
            f"FROM read_parquet([{', '.join(_sql_str(str(p)) for p in new)}], hive_partitioning = false, "
            f"filename = true) p JOIN (VALUES {mapping}) f(name, ordinal) ON p.filename = f.name"
        )
        cur = self._db.cursor()
        try:
            if not loaded.created:
                cur.execute(f"CREATE OR REPLACE TABLE {loaded.name} AS {select}")
                loaded.created = True
            else:
                cur.execute(f"INSERT INTO {loaded.name} {select}")
        finally:
            cur.close()
        loaded.files.extend(new)

    def source_sql(self, table: str, files: tuple[Path, ...]) -> str:
        """SQL for exactly the rows of ``files`` (a view's committed files, oldest first)."""
        with self._lock:
            loaded = self._tables.get(table)
            if loaded is None or loaded.files != list(files[: len(loaded.files)]):
                loaded = _Loaded(f"mirror_{table}_{len(self._tables)}")
                self._tables[table] = loaded  # a recovery changed the file list: start over
            if len(files) > len(loaded.files):
                self._load(loaded, files)
            name = loaded.name
        return f"(SELECT * EXCLUDE ({_FILE_COLUMN}) FROM {name} WHERE {_FILE_COLUMN} < {len(files)})"
