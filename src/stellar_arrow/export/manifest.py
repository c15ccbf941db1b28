"""The manifest of one exported chunk: what makes a resumed export trust (or replace) a chunk.

After every table file of a chunk is durably written (fsynced and renamed; one whole-object PUT in
an object store), ``OUT/_manifests/chunk-<first>-<last>.json`` is written atomically beside them, last
(the manifest is the chunk's commit): the format, network, XDR columns and,
per table, the file's size, row count and SHA-256. A re-run skips a chunk only when its manifest
matches what is asked for and every file still has that size, row count and checksum; anything
else (no manifest, a truncated or altered file) is reported and the chunk is written again.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO, Final

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from stellar_arrow.errors import SinkError

if TYPE_CHECKING:
    from stellar_arrow.export.store import OutputStore, Stored

__all__ = [
    "MANIFEST_DIR",
    "ChunkManifest",
    "FileRecord",
    "check_chunk",
    "count_rows",
    "durable_replace",
    "file_record",
    "manifest_key",
    "manifest_path",
    "read_manifest",
    "write_manifest",
]

MANIFEST_DIR: Final = "_manifests"
_VERSION: Final = 2  # 2: boundary hashes (first_previous_hash, last_hash)


@dataclass(frozen=True, slots=True)
class FileRecord:
    """One table file of a chunk as it was written."""

    table: str
    name: str
    bytes: int
    rows: int
    sha256: str


@dataclass(frozen=True, slots=True)
class ChunkManifest:
    """A complete chunk: its ledger range, how it was written and its files."""

    first_ledger: int
    last_ledger: int
    file_format: str
    network: str
    include_xdr: bool
    files: tuple[FileRecord, ...]
    #: hex hashes at the chunk's edges: what the chain check across chunk boundaries compares
    first_previous_hash: str = ""
    last_hash: str = ""
    #: canonical text of the token_transfers filter the chunk was written with ("": none)
    row_filter: str = ""

    def to_json(self) -> bytes:
        body: dict[str, Any] = {
            "version": _VERSION,
            "first_ledger": self.first_ledger,
            "last_ledger": self.last_ledger,
            "format": self.file_format,
            "network": self.network,
            "include_xdr": self.include_xdr,
            "first_previous_hash": self.first_previous_hash,
            "last_hash": self.last_hash,
            "row_filter": self.row_filter,
            "files": [
                {"table": f.table, "name": f.name, "bytes": f.bytes, "rows": f.rows, "sha256": f.sha256}
                for f in self.files
            ],
        }
        return orjson.dumps(body, option=orjson.OPT_INDENT_2)


def manifest_key(first_ledger: int, last_ledger: int) -> str:
    """The manifest's key under the output root."""
    return f"{MANIFEST_DIR}/chunk-{first_ledger}-{last_ledger}.json"


def manifest_path(out_dir: Path, first_ledger: int, last_ledger: int) -> Path:
    return out_dir / manifest_key(first_ledger, last_ledger)


def count_rows(source: Path | BinaryIO, file_format: str) -> int:
    """Rows in a written table file (Parquet footer, JSON lines, CSV records)."""
    if isinstance(source, Path):
        with source.open("rb") as fh:
            return count_rows(fh, file_format)
    if file_format == "parquet":
        return int(pq.read_metadata(source).num_rows)
    if file_format == "jsonl":
        return sum(1 for line in source if line.strip())
    return int(pa_csv.read_csv(source).num_rows)


def file_record(table: str, name: str, stored: Stored, rows: int) -> FileRecord:
    return FileRecord(table, name, stored.bytes, rows, stored.sha256)


def durable_replace(tmp: Path, path: Path) -> None:
    """fsync ``tmp``, rename it to ``path`` and fsync the folder, so the rename survives a crash.

    Temporary files of the same target left by a writer that was killed mid-write are removed.
    """
    fd = os.open(tmp, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)
    for stale in path.parent.glob(f".{path.name}.tmp-*"):  # left by a writer killed mid-write
        stale.unlink(missing_ok=True)
    folder = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(folder)
    finally:
        os.close(folder)


def write_manifest(out: OutputStore, manifest: ChunkManifest) -> str:
    """Write the manifest atomically, after the chunk's data objects: the commit of the chunk."""
    key = manifest_key(manifest.first_ledger, manifest.last_ledger)
    body = manifest.to_json()
    try:
        out.put(key, lambda fh: fh.write(body))
    except SinkError as exc:
        msg = f"cannot write the chunk manifest {out.location(key)}: {exc}"
        raise SinkError(msg) from exc
    return out.location(key)


def read_manifest(out: OutputStore, first_ledger: int, last_ledger: int) -> ChunkManifest | None:
    """The chunk's manifest; None when it is absent or unreadable (the chunk is then not trusted)."""
    try:
        data = out.read(manifest_key(first_ledger, last_ledger))
        if data is None:
            return None
        body = orjson.loads(data)
        files = tuple(
            FileRecord(f["table"], f["name"], int(f["bytes"]), int(f["rows"]), str(f["sha256"]))
            for f in body["files"]
        )
        if body.get("version") != _VERSION:
            return None
        return ChunkManifest(
            int(body["first_ledger"]),
            int(body["last_ledger"]),
            str(body["format"]),
            str(body["network"]),
            bool(body["include_xdr"]),
            files,
            str(body["first_previous_hash"]),
            str(body["last_hash"]),
            str(body.get("row_filter", "")),
        )
    except (OSError, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        return None


def check_chunk(
    out: OutputStore,
    manifest: ChunkManifest | None,
    *,
    first_ledger: int,
    last_ledger: int,
    tables: tuple[str, ...],
    file_format: str,
    network: str,
    include_xdr: bool,
    keys: dict[str, str],
    row_filter: str = "",
) -> str | None:
    """None when the chunk is complete as asked; else why it must be written again."""
    if manifest is None:
        return "no valid chunk manifest"
    if (manifest.first_ledger, manifest.last_ledger) != (first_ledger, last_ledger):
        return f"its manifest covers ledgers {manifest.first_ledger}-{manifest.last_ledger}"
    asked = (file_format, network, include_xdr)
    written = (manifest.file_format, manifest.network, manifest.include_xdr)
    if asked != written:
        return f"written as (format, network, include_xdr) {written}, asked for {asked}"
    if manifest.row_filter != row_filter:
        return (
            f"written with row filter {manifest.row_filter or 'none'!r}, asked for {row_filter or 'none'!r}"
        )
    records = {f.table: f for f in manifest.files}
    for table in tables:
        record = records.get(table)
        key = keys[table]
        where = out.location(key)
        if record is None:
            return f"table {table} is not in its manifest"
        size = out.size(key)
        if record.name != key.rsplit("/", 1)[-1] or size is None:
            return f"{where} is missing"
        if size != record.bytes:
            return f"{where} has {size} bytes, its manifest says {record.bytes}"
        try:
            with out.reader(key) as fh:
                rows = count_rows(fh, file_format)
            digest = out.sha256(key)
        except (OSError, pa.ArrowException, ValueError) as exc:
            return f"{where} cannot be read: {exc}"
        if rows != record.rows:
            return f"{where} has {rows} rows, its manifest says {record.rows}"
        if digest != record.sha256:
            return f"{where} does not match its manifest's sha256"
    return None
