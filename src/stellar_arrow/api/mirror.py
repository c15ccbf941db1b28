"""Committed Parquet files read per query, with a bounded cache of decoded rows (LRU by bytes).

A sink that commits every few ledgers leaves one file per partition and commit; opening hundreds of them per
request costs far more than the query itself. :class:`FileCache` keeps, per table, the decoded Arrow rows of
a prefix of the view's committed files (oldest first) as one table of few chunks; all tables together hold at
most ``max_bytes`` (the least recently used table's rows are dropped first). :meth:`FileCache.sources`
splits a view's file list into those rows (scanned by DuckDB as Arrow, with projection and filter push-down)
and the files past the prefix (read by DuckDB straight from Parquet by explicit list, with its Parquet
metadata cache and push-down). A commit appends files, so the cached prefix is extended by the new files
only; a file list that no longer starts with the prefix (a recovery, a compaction) starts it over.

Memory: at most ``max_bytes`` of decoded rows plus what one query reads; nothing else is kept. ``max_bytes=0``
turns the cache off (every query reads the files).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
from cachetools import LRUCache

__all__ = ["FileCache", "FileSources", "parquet_sql"]


def _sql_str(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def parquet_sql(files: tuple[Path, ...]) -> str:
    """DuckDB ``read_parquet`` over exactly ``files`` (no globbing, no hive columns)."""
    listed = ", ".join(_sql_str(str(p)) for p in files)
    return f"read_parquet([{listed}], hive_partitioning = false)"


@dataclass(frozen=True, slots=True)
class FileSources:
    """A file list as ``cached`` rows (of its first files, or ``None``) plus the ``files`` left to read."""

    cached: pa.Table | None
    files: tuple[Path, ...]


@dataclass(frozen=True, slots=True)
class _Prefix:
    files: tuple[Path, ...]
    rows: pa.Table
    full: bool  # the next file did not fit: do not try again until the file list changes


_MAX_CHUNKS = 16


class FileCache:
    """Per table, the decoded rows of the oldest committed files that fit; at most ``max_bytes`` in all."""

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max(0, int(max_bytes))
        self._lock = threading.Lock()
        self._prefixes: LRUCache[str, _Prefix] = LRUCache(
            maxsize=max(self.max_bytes, 1), getsizeof=lambda p: max(p.rows.nbytes, 1)
        )
        self.files_cached = 0
        self.files_read = 0

    @property
    def bytes(self) -> int:
        """Decoded bytes held now."""
        with self._lock:
            return int(self._prefixes.currsize)

    def sources(self, table: str, files: tuple[Path, ...], schema: pa.Schema) -> FileSources:
        """Split ``files`` (a view's committed files, oldest first) into cached rows and files to read."""
        if self.max_bytes == 0 or not files:
            return FileSources(None, files)
        with self._lock:  # one reader extends a prefix at a time; the others wait for it and reuse it
            prefix = self._prefixes.get(table)
            if prefix is not None and files[: len(prefix.files)] != prefix.files:
                del self._prefixes[table]  # the list was rewritten (recovery, compaction): start over
                prefix = None
            if prefix is None or (len(files) > len(prefix.files) and not prefix.full):
                prefix = self._extend(table, prefix, files, schema)
            if prefix is None:
                return FileSources(None, files)
            self.files_cached += len(prefix.files)
            self.files_read += len(files) - len(prefix.files)
            return FileSources(prefix.rows, files[len(prefix.files) :])

    def _extend(
        self, table: str, prefix: _Prefix | None, files: tuple[Path, ...], schema: pa.Schema
    ) -> _Prefix | None:
        held = list(prefix.files) if prefix is not None else []
        parts = [prefix.rows] if prefix is not None else []
        size = prefix.rows.nbytes if prefix is not None else 0
        full = False
        for path in files[len(held) :]:
            try:
                rows = pq.read_table(path, use_threads=False, partitioning=None)
            except OSError:
                full = True  # the query reads it and reports the failure
                break
            rows = rows.replace_schema_metadata(schema.metadata)
            if size + rows.nbytes > self.max_bytes:
                full = True
                break
            held.append(path)
            parts.append(rows)
            size += rows.nbytes
        if not held:
            return None
        merged = pa.concat_tables(parts, promote_options="permissive")  # older files may lack new columns
        if merged.column(0).num_chunks > _MAX_CHUNKS:
            merged = merged.combine_chunks()
        grown = _Prefix(tuple(held), merged, full)
        self._prefixes[table] = grown  # may drop other tables' rows (least recently used first)
        return grown
