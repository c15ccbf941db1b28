"""Readers over output folders written earlier, for ``stellar-arrow api DIR``.

Two layouts are served, both read-only and both picking up files that appear while the API runs:

* a sink output (``stellar-arrow run``/``serve sink``): ``DIR/_manifests/`` names every committed file;
  :class:`CommitLogReader` serves exactly the committed Parquet files;
* an ``export`` output: ``DIR/<table>/<table>-<first>-<last>.parquet`` (with ``DIR/_manifests/chunk-*.json``);
  :class:`ExportReader` serves the chunk files (they only appear through an atomic rename: each is complete).

:func:`open_output_dir` tells them apart and refuses, with a :class:`~stellar_arrow.errors.ConfigError`
saying why, a folder that does not exist, an export in a text format (the API queries Parquet), an export
without ``token_transfers``, an export whose chunks overlap (rows would be counted twice) and a non-empty
folder that is neither. An empty folder is a sink that has not committed yet: it is served (empty until
the first commit).
"""

from __future__ import annotations

import itertools
import logging
import os
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.parquet as pq

from stellar_arrow.build import table_schema
from stellar_arrow.errors import ConfigError
from stellar_arrow.sink.base import LiveListener, SinkStats, TableView, Unsubscribe
from stellar_arrow.sink.delta import DELTA_DIR
from stellar_arrow.sink.manifest import MANIFEST_DIR, live_files, read_commits
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA, TOKEN_TRANSFERS_TABLE
from stellar_arrow.vocabulary import FILE_FORMATS, TABLES

__all__ = ["CommitLogReader", "ExportReader", "open_output_dir"]

log = logging.getLogger(__name__)

_CHUNK_NAME: Final = re.compile(r"^(?P<table>[a-z_]+)-(?P<first>\d+)-(?P<last>\d+)\.(?P<ext>[a-z]+)$")
_PIPELINE_STATE: Final = "_run"  # written next to the sink's output by `stellar-arrow run`


class CommitLogReader:
    """Read-only :class:`~stellar_arrow.sink.base.TableReader` over a sink output; rereads new commits."""

    def __init__(self, root: Path, schemas: dict[str, pa.Schema]) -> None:
        self.root = Path(root)
        self._schemas = schemas
        self._lock = threading.Lock()
        self._seen = -1
        self._files: dict[str, list[Path]] = {name: [] for name in schemas}
        self._last: dict[str, int | None] = dict.fromkeys(schemas)

    @classmethod
    def open(cls, root: Path) -> CommitLogReader:
        """Every table with committed Parquet files under ``root`` (``token_transfers`` always)."""
        schemas: dict[str, pa.Schema] = {TOKEN_TRANSFERS_TABLE: TOKEN_TRANSFERS_SCHEMA}
        for m in live_files(read_commits(root)).values():
            if m.format == "parquet" and m.table not in schemas:
                schemas[m.table] = pq.read_schema(root / m.path)
        return cls(root, schemas)

    def _refresh(self) -> None:
        folder = self.root / MANIFEST_DIR
        count = sum(1 for _ in folder.glob("[0-9]*.json")) if folder.is_dir() else 0
        if count == self._seen:
            return
        files: dict[str, list[Path]] = {name: [] for name in self._schemas}
        for m in live_files(read_commits(self.root)).values():  # a lifecycle replace commit removes files
            if m.format == "parquet" and m.table in files:
                files[m.table].append(self.root / m.path)
                self._last[m.table] = max(self._last[m.table] or 0, m.last_ledger)
        self._files, self._seen = files, count

    def tables(self) -> Sequence[str]:
        return tuple(self._schemas)

    def view(self, table: str) -> TableView:
        schema = self._schemas[table]
        with self._lock:
            self._refresh()
            return TableView(
                table, schema, tuple(self._files[table]), schema.empty_table(), self._last[table]
            )

    def subscribe(self, listener: LiveListener) -> Unsubscribe:
        """Files written earlier have no live rows: nothing is ever delivered."""
        return lambda: None

    def stats(self) -> SinkStats | None:
        return None


@dataclass(frozen=True, slots=True, order=True)
class _Chunk:
    first: int
    last: int
    path: Path = field(compare=False)


def _chunks(folder: Path, table: str, ext: str) -> list[_Chunk]:
    """The chunk files of one table in ledger order (hidden temporary files are not chunks)."""
    out: list[_Chunk] = []
    with os.scandir(folder) as entries:
        for entry in entries:
            match = _CHUNK_NAME.match(entry.name)
            if match and match["table"] == table and match["ext"] == ext and entry.is_file():
                out.append(_Chunk(int(match["first"]), int(match["last"]), Path(entry.path)))
    return sorted(out)


def _overlap(chunks: Sequence[_Chunk]) -> tuple[_Chunk, _Chunk] | None:
    for before, after in itertools.pairwise(chunks):
        if after.first <= before.last:
            return before, after
    return None


class ExportReader:
    """Read-only :class:`~stellar_arrow.sink.base.TableReader` over the Parquet chunks of an ``export``."""

    def __init__(self, root: Path, schemas: dict[str, pa.Schema]) -> None:
        self.root = Path(root)
        self._schemas = schemas
        self._lock = threading.Lock()
        self._listed: dict[str, tuple[int, tuple[_Chunk, ...]]] = {}

    def _current(self, table: str) -> tuple[_Chunk, ...]:
        folder = self.root / table
        stamp = folder.stat().st_mtime_ns if folder.is_dir() else -1
        known = self._listed.get(table)
        if known is not None and known[0] == stamp:
            return known[1]
        chunks = tuple(_chunks(folder, table, "parquet")) if stamp != -1 else ()
        clash = _overlap(chunks)
        if clash is not None:  # a new overlapping chunk appeared: keep serving the consistent list
            log.warning("%s: chunks %s and %s overlap; not reading the new files", folder, *clash)
            return known[1] if known is not None else ()
        self._listed[table] = (stamp, chunks)
        return chunks

    def tables(self) -> Sequence[str]:
        return tuple(self._schemas)

    def view(self, table: str) -> TableView:
        schema = self._schemas[table]
        with self._lock:
            chunks = self._current(table)
        last = chunks[-1].last if chunks else None
        return TableView(table, schema, tuple(c.path for c in chunks), schema.empty_table(), last)

    def subscribe(self, listener: LiveListener) -> Unsubscribe:
        """Files written earlier have no live rows: nothing is ever delivered."""
        return lambda: None

    def stats(self) -> SinkStats | None:
        return None


def _export_formats(root: Path) -> dict[str, dict[str, list[_Chunk]]]:
    """``{table: {extension: chunks}}`` of every export chunk file found under ``root``."""
    found: dict[str, dict[str, list[_Chunk]]] = {}
    for table in TABLES:
        folder = root / table
        if not folder.is_dir():
            continue
        for ext in FILE_FORMATS:
            chunks = _chunks(folder, table, ext)
            if chunks:
                found.setdefault(table, {})[ext] = chunks
    return found


def _open_export(root: Path, found: dict[str, dict[str, list[_Chunk]]]) -> ExportReader:
    parquet = {table: by_ext["parquet"] for table, by_ext in found.items() if "parquet" in by_ext}
    if not parquet:
        formats = sorted({ext for by_ext in found.values() for ext in by_ext})
        msg = (
            f"{root} is an export output in {'/'.join(formats)} format; the API queries Parquet only: "
            "export again with --format parquet"
        )
        raise ConfigError(msg, key="dir")
    if TOKEN_TRANSFERS_TABLE not in parquet:
        tables = ", ".join(sorted(parquet))
        msg = (
            f"{root} is an export output without {TOKEN_TRANSFERS_TABLE} (tables: {tables}); "
            f"the API serves token transfer events: export with --tables ...,{TOKEN_TRANSFERS_TABLE}"
        )
        raise ConfigError(msg, key="dir")
    for table, chunks in parquet.items():
        clash = _overlap(chunks)
        if clash is not None:
            a, b = clash
            msg = (
                f"{root / table}: export chunks {a.path.name} and {b.path.name} overlap (ledgers {b.first}-"
                f"{min(a.last, b.last)} twice); serving them would count rows twice: export into a new folder"
            )
            raise ConfigError(msg, key="dir")
    schemas = {table: _export_schema(table, chunks[0].path) for table, chunks in parquet.items()}
    return ExportReader(root, schemas)


def _export_schema(table: str, path: Path) -> pa.Schema:
    """The table's declared schema (with or without raw XDR columns) when the file has its columns.

    Parquet stores ``timestamp[s]`` as milliseconds; answers are cast back to the declared schema. A file
    with other columns (written by another version) is served with the schema read from it.
    """
    stored = pq.read_schema(path)
    for include_xdr in (False, True):
        declared = table_schema(table, include_xdr=include_xdr)
        if declared.names == stored.names:
            return declared
    return stored


def open_output_dir(root: Path) -> CommitLogReader | ExportReader:
    """The reader for ``root`` (a sink output or an export output); ``ConfigError`` says why not."""
    root = Path(root)
    if not root.exists():
        msg = f"{root} does not exist: give the output directory of `stellar-arrow run` or `export`"
        raise ConfigError(msg, key="dir")
    if not root.is_dir():
        msg = f"{root} is not a directory: give the output directory of `stellar-arrow run` or `export`"
        raise ConfigError(msg, key="dir")
    manifests = root / MANIFEST_DIR  # the sink's commit records, or export's chunk-<a>-<b>.json manifests
    if manifests.is_dir() and not any(manifests.glob("chunk-*.json")):
        return CommitLogReader.open(root)
    found = _export_formats(root)
    if found:
        return _open_export(root, found)
    ignored = {_PIPELINE_STATE, MANIFEST_DIR, *TABLES}  # e.g. a sink before its first commit
    others = sorted(p.name for p in root.iterdir() if p.name not in ignored and not p.name.startswith("."))
    if others == [DELTA_DIR]:
        msg = (
            f"{root} is an export output in delta format; the API queries Parquet only: export again with "
            "--format parquet (the Delta tables read with deltalake, DuckDB or polars: docs/delta.md)"
        )
        raise ConfigError(msg, key="dir")
    if others:
        msg = (
            f"{root} is neither a sink output (no {MANIFEST_DIR}/ commit log) nor an export output (no "
            f"<table>/<table>-<first>-<last>.parquet files); it holds {', '.join(others[:5])}"
        )
        raise ConfigError(msg, key="dir")
    log.info("%s is empty: serving it as a sink output before its first commit", root)
    return CommitLogReader(root, {TOKEN_TRANSFERS_TABLE: TOKEN_TRANSFERS_SCHEMA})
