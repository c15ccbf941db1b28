"""Manifests of written files and the commit log that makes a ledger range's files visible atomically.

Layout of an output directory ``DIR``::

    DIR/<table>/<partition dirs>/part-<commit>-<uuid>.<ext>   committed data files
    DIR/<table>/<partition dirs>/*.pending                     written, not yet renamed (commit in progress)
    DIR/_manifests/<commit:012d>.json                          one commit record per commit

A :class:`CommitRecord` holds one :class:`FileManifest` per data file (relative path, rows, ledger range,
sha256, schema fingerprint, byte size) and the pipeline's :class:`Checkpoint`. The record is renamed into
place atomically; that rename *is* the commit. Only then are the ``.pending`` files renamed to their final
names, so a ``*.parquet`` glob never sees a file that is not committed.

A *replace* commit (written by :mod:`stellar_arrow.lifecycle`: compaction, archival, deletion) also lists
``removed`` paths: from that commit on they are no longer part of the table. :func:`live_files` folds the log
into the current file set; readers use it instead of adding up every record's ``files``. Removed files stay
on disk for a grace period (readers holding an older view may still read them) and are then deleted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Final

import pyarrow as pa

from stellar_arrow.errors import SinkError
from stellar_arrow.sink.durable import write_atomically

__all__ = [
    "MANIFEST_DIR",
    "PENDING_SUFFIX",
    "Checkpoint",
    "CommitRecord",
    "FileManifest",
    "file_sha256",
    "live_files",
    "read_commits",
    "schema_fingerprint",
    "write_commit",
]

MANIFEST_DIR: Final = "_manifests"
PENDING_SUFFIX: Final = ".pending"
_FORMAT_VERSION: Final = 1


def _stored_type(kind: pa.DataType) -> pa.DataType:
    """Parquet has no second-resolution timestamps: ``timestamp[s]`` is stored (and read back) as ``[ms]``."""
    if pa.types.is_timestamp(kind) and kind.unit == "s":
        return pa.timestamp("ms", tz=kind.tz)
    return kind


def schema_fingerprint(schema: pa.Schema) -> str:
    """sha256 (hex, first 32 chars) of the column names, stored types and nullability; metadata is ignored."""
    text = ";".join(f"{f.name}:{_stored_type(f.type)}:{'null' if f.nullable else 'notnull'}" for f in schema)
    return hashlib.sha256(text.encode()).hexdigest()[:32]


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file's bytes, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


@dataclass(frozen=True, slots=True)
class FileManifest:
    """What a reader needs to trust one data file."""

    table: str
    path: str  # relative to the output directory, '/' separated
    format: str  # parquet | jsonl | csv
    rows: int
    bytes: int
    sha256: str
    schema_fingerprint: str
    first_ledger: int
    last_ledger: int


@dataclass(frozen=True, slots=True)
class Checkpoint:
    """Progress of the pipeline made durable by a commit: every ledger <= ``ledger_sequence`` is written."""

    ledger_sequence: int


@dataclass(frozen=True, slots=True)
class CommitRecord:
    """One atomic commit: the files of a ledger range plus the checkpoint reached."""

    commit: int
    checkpoint: Checkpoint
    first_ledger: int | None
    last_ledger: int | None
    files: tuple[FileManifest, ...] = field(default_factory=tuple)
    removed: tuple[str, ...] = ()  # paths (relative) this commit takes out of the tables (replace commits)
    action: str | None = None  # the lifecycle journal entry that wrote this replace commit
    committed_at: str | None = None  # ISO-8601 UTC time of a replace commit (starts the removed files' grace)

    def to_json(self) -> bytes:
        body = asdict(self)
        body["format_version"] = _FORMAT_VERSION
        return json.dumps(body, indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, *, origin: str) -> CommitRecord:
        try:
            body = json.loads(raw)
            files = tuple(FileManifest(**f) for f in body["files"])
            return cls(
                commit=int(body["commit"]),
                checkpoint=Checkpoint(int(body["checkpoint"]["ledger_sequence"])),
                first_ledger=body["first_ledger"],
                last_ledger=body["last_ledger"],
                files=files,
                removed=tuple(str(p) for p in body.get("removed", ())),
                action=body.get("action"),
                committed_at=body.get("committed_at"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"commit record {origin} is not a valid manifest: {exc}"
            raise SinkError(msg) from exc


def write_commit(root: Path, record: CommitRecord) -> Path:
    """Write ``record`` durably under a temporary name, then rename it into place (the commit point)."""
    folder = root / MANIFEST_DIR
    folder.mkdir(parents=True, exist_ok=True)
    final = folder / f"{record.commit:012d}.json"
    if final.exists():
        msg = f"commit {record.commit} already exists at {final}"
        raise SinkError(msg)
    body = record.to_json()
    write_atomically(final, lambda fh: fh.write(body), tmp_name=f".{record.commit:012d}.json.tmp")
    return final


def read_commits(root: Path) -> Iterator[CommitRecord]:
    """Every commit record under ``root`` in commit order (temporary files are ignored)."""
    folder = root / MANIFEST_DIR
    if not folder.is_dir():
        return
    for path in sorted(folder.glob("[0-9]*.json")):
        yield CommitRecord.from_json(path.read_bytes(), origin=str(path))


def live_files(records: Iterable[CommitRecord]) -> dict[str, FileManifest]:
    """The committed files that are part of the tables now: ``{relative path: manifest}`` in commit order.

    Folds the log: each record first drops its ``removed`` paths, then adds its ``files``.
    """
    live: dict[str, FileManifest] = {}
    for record in records:
        for path in record.removed:
            live.pop(path, None)
        for manifest in record.files:
            live[manifest.path] = manifest
    return live
