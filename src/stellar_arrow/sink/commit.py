"""Writing one commit's files and recovering an output directory after a crash.

Commit protocol (the layout is described in :mod:`stellar_arrow.sink.manifest`):

1. every row of the commit is split by partition and written, per format, to
   ``part-<commit>-<uuid>.<ext>.pending``, and its manifest (rows, ledger range, sha256, schema fingerprint)
   is computed; then every pending file is fsynced (concurrently), and every folder holding one;
2. the commit record (all manifests + checkpoint) is written under a temporary name and renamed into
   ``_manifests/`` -- this rename is the commit;
3. the ``.pending`` files are renamed to their final names.

:func:`recover` finishes step 3 for committed files and deletes every data file that no commit record names,
so a crash at any point leaves either the old or the new state. Files a replace commit removed
(:func:`commit_replace`, used by :mod:`stellar_arrow.lifecycle`) are still named by a commit, so recovery
keeps them: the lifecycle deletes them once their grace period is over.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.errors import SinkError
from stellar_arrow.sink.buffer import TableState
from stellar_arrow.sink.delta import DeltaTableWriter
from stellar_arrow.sink.durable import fsync_dir, fsync_files
from stellar_arrow.sink.manifest import (
    PENDING_SUFFIX,
    Checkpoint,
    CommitRecord,
    FileManifest,
    file_sha256,
    live_files,
    read_commits,
    schema_fingerprint,
    write_commit,
)
from stellar_arrow.sink.parquet import ParquetOptions, write_parquet
from stellar_arrow.sink.textfiles import write_csv, write_jsonl
from stellar_arrow.vocabulary import FILE_FORMATS

__all__ = ["CommitWriter", "Recovered", "commit_replace", "recover"]

_EXTENSIONS: Final = {"parquet": ".parquet", "jsonl": ".jsonl", "csv": ".csv"}


@dataclass(frozen=True, slots=True)
class Recovered:
    """What the commit log of a directory says, once interrupted commits are finished."""

    checkpoint: Checkpoint | None
    next_commit: int
    files: Mapping[str, Sequence[Path]]  # committed Parquet files per table, in commit order
    last_ledgers: Mapping[str, int]


def recover(root: Path, tables: Iterable[str]) -> Recovered:
    """Finish the renames of committed files and delete the data files no commit names (see module doc)."""
    names = set(tables)
    committed: set[str] = set()
    checkpoint: Checkpoint | None = None
    next_commit = 1
    last: dict[str, int] = {}
    records = list(read_commits(root))
    for record in records:
        checkpoint = record.checkpoint
        next_commit = record.commit + 1
        for manifest in record.files:
            committed.add(manifest.path)
            final = root / manifest.path
            pending = final.with_name(final.name + PENDING_SUFFIX)
            if not final.exists() and pending.exists():
                os.replace(pending, final)
            if manifest.table in names and manifest.format == "parquet":
                last[manifest.table] = max(last.get(manifest.table, 0), manifest.last_ledger)
    files: dict[str, list[Path]] = {name: [] for name in names}
    for manifest in live_files(records).values():
        if manifest.table in names and manifest.format == "parquet":
            files[manifest.table].append(root / manifest.path)
    for table in names:
        _remove_uncommitted(root, root / table, committed)
    return Recovered(checkpoint, next_commit, files, last)


def _remove_uncommitted(root: Path, folder: Path, committed: set[str]) -> None:
    if not folder.is_dir():
        return
    for path in folder.rglob("*"):
        if not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        if rel not in committed and path.name.startswith("part-"):  # only files this sink writes
            path.unlink()


class CommitWriter:
    """Writes the files and the record of one commit under ``root`` (steps 1-3 of the module doc)."""

    def __init__(
        self,
        root: Path,
        formats: Sequence[str],
        parquet: ParquetOptions,
        delta: Mapping[str, DeltaTableWriter] | None = None,
    ) -> None:
        self.root = root
        self.formats = tuple(f for f in formats if f in FILE_FORMATS)
        self.parquet = parquet
        self.delta = dict(delta or {})
        self.delta_rows = 0  # rows the last commit appended to the Delta tables

    def _append_delta(
        self, commit: int, checkpoint: Checkpoint, parts: Mapping[str, tuple[TableState, pa.Table]]
    ) -> None:
        """Step 1b: one Delta commit per table, carrying the checkpoint as its transaction version.

        Before the commit record: a crash in between leaves the Delta tables ahead of the record, and the
        replayed ledgers are then dropped by each table's transaction version (never appended twice).
        """
        self.delta_rows = 0
        for name, writer in self.delta.items():
            state_rows = parts.get(name)
            rows = state_rows[1] if state_rows is not None else writer.layout.schema.empty_table()
            info = {"stellar_arrow.commit": str(commit)}
            self.delta_rows += writer.append(rows, checkpoint.ledger_sequence, info=info)

    def _write_files(self, commit: int, table: str, state: TableState, rows: pa.Table) -> list[FileManifest]:
        manifests: list[FileManifest] = []
        fingerprint = schema_fingerprint(state.schema)
        for rel_dir, part in state.partitioning.split(rows):
            folder = self.root / table / rel_dir if rel_dir else self.root / table
            folder.mkdir(parents=True, exist_ok=True)
            if state.ledger_column is not None:
                first = int(pc.min(part[state.ledger_column]).as_py())
                last = int(pc.max(part[state.ledger_column]).as_py())
            else:
                first = last = 0
            stem = f"part-{commit:012d}-{uuid.uuid4().hex[:12]}"
            for fmt in self.formats:
                final = folder / f"{stem}{_EXTENSIONS[fmt]}"
                pending = final.with_name(final.name + PENDING_SUFFIX)
                if fmt == "parquet":
                    write_parquet(pending, part, self.parquet)
                elif fmt == "jsonl":
                    write_jsonl(pending, part)
                else:
                    write_csv(pending, part)
                manifests.append(
                    FileManifest(
                        table=table,
                        path=final.relative_to(self.root).as_posix(),
                        format=fmt,
                        rows=part.num_rows,
                        bytes=pending.stat().st_size,
                        sha256=file_sha256(pending),
                        schema_fingerprint=fingerprint,
                        first_ledger=first,
                        last_ledger=last,
                    )
                )
        return manifests

    def write(
        self, commit: int, checkpoint: Checkpoint, parts: Mapping[str, tuple[TableState, pa.Table]]
    ) -> CommitRecord:
        """Steps 1 and 2: pending files, then the commit record. On an I/O failure nothing is committed:
        this attempt's files are removed and ``SinkError`` names the commit and ledger.
        """
        manifests: list[FileManifest] = []
        try:
            for name, (state, rows) in parts.items():
                if rows.num_rows:
                    manifests.extend(self._write_files(commit, name, state, rows))
            pending = [self.root / (m.path + PENDING_SUFFIX) for m in manifests]
            fsync_files(pending)  # every byte is on disk before the record names the file
            for folder in sorted({path.parent for path in pending}):
                fsync_dir(folder)  # and so is its name
            self._append_delta(commit, checkpoint, parts)
            ranges = [(m.first_ledger, m.last_ledger) for m in manifests if m.last_ledger]
            record = CommitRecord(
                commit=commit,
                checkpoint=checkpoint,
                first_ledger=min((r[0] for r in ranges), default=None),
                last_ledger=max((r[1] for r in ranges), default=None),
                files=tuple(manifests),
            )
            write_commit(self.root, record)
        except (OSError, SinkError) as exc:
            for table in parts:
                for stale in (self.root / table).rglob(f"part-{commit:012d}-*{PENDING_SUFFIX}"):
                    stale.unlink(missing_ok=True)
            if isinstance(exc, SinkError):
                raise
            through = checkpoint.ledger_sequence
            msg = f"commit {commit} through ledger {through} failed in {self.root}: {exc}"
            raise SinkError(msg, ledger_sequence=through) from exc
        return record

    def publish(self, record: CommitRecord) -> dict[str, list[Path]]:
        """Step 3: rename the record's pending files to their final names; returns its Parquet files."""
        parquet: dict[str, list[Path]] = {}
        for manifest in record.files:
            final = self.root / manifest.path
            os.replace(final.with_name(final.name + PENDING_SUFFIX), final)
            if manifest.format == "parquet":
                parquet.setdefault(manifest.table, []).append(final)
        return parquet


def commit_replace(
    root: Path,
    commit: int,
    checkpoint: Checkpoint,
    *,
    removed: Sequence[str],
    added: Sequence[FileManifest],
    action: str,
    committed_at: str,
) -> CommitRecord:
    """One atomic replace commit: ``added`` (fsynced ``.pending`` files) replace ``removed``.

    The record is the commit point (renamed into ``_manifests/``); the pending files are renamed afterwards,
    as in an ordinary commit, so :func:`recover` finishes an interrupted one. The removed files stay on disk.
    """
    ranges = [(m.first_ledger, m.last_ledger) for m in added if m.last_ledger]
    record = CommitRecord(
        commit=commit,
        checkpoint=checkpoint,
        first_ledger=min((r[0] for r in ranges), default=None),
        last_ledger=max((r[1] for r in ranges), default=None),
        files=tuple(added),
        removed=tuple(removed),
        action=action,
        committed_at=committed_at,
    )
    for folder in sorted({(root / m.path).parent for m in added}):
        fsync_dir(folder)
    write_commit(root, record)
    for manifest in added:
        final = root / manifest.path
        pending = final.with_name(final.name + PENDING_SUFFIX)
        if pending.exists():
            os.replace(pending, final)
    for folder in sorted({(root / m.path).parent for m in added}):
        fsync_dir(folder)
    return record
