"""Running one planned action under the journal, and finishing or undoing an interrupted one.

Each action: intent written (:class:`~stellar_arrow.lifecycle.journal.Journal`), durable steps with a
:func:`~stellar_arrow.lifecycle.crash.crash_point` between them, outcome written. The commit point of an
action that changes the tables is its replace commit (``action`` = the intent's id) in the commit log:

==========  =====================================================  ==========================================
kind        steps                                                  after a crash (:meth:`Executor.resume`)
==========  =====================================================  ==========================================
compact     new file written + fsynced (``.pending``); replace     commit found: renames finished; else the
            commit (N files -> 1); rename                          pending file is deleted (rolled back)
archive     copies written + read back; replace commit (files      commit found: catalog entry written if
            out); archive catalog entry                            missing; else copies deleted
delete      replace commit (files out)                             commit found or not: nothing to undo
purge       archive catalog entry (files out); archive files       entry found: files deleted; else nothing
            deleted
sweep,      files deleted (each checked: not live, inside DIR)     done again (idempotent)
delete_log
==========  =====================================================  ==========================================

Files a replace commit takes out stay on disk until a later run's ``sweep`` (after ``grace_s``), so a reader
holding an older view keeps reading them.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pyarrow as pa
import pyarrow.parquet as pq

from stellar_arrow.config import LifecycleSettings
from stellar_arrow.errors import LifecycleError
from stellar_arrow.lifecycle.archive import ArchivedFile, ArchiveStore
from stellar_arrow.lifecycle.catalog import Catalog, safe_path
from stellar_arrow.lifecycle.clock import Clock, iso
from stellar_arrow.lifecycle.crash import crash_point
from stellar_arrow.lifecycle.delta import delta_version, run_delta
from stellar_arrow.lifecycle.journal import Intent, Journal
from stellar_arrow.lifecycle.plan import Action
from stellar_arrow.observability.metrics import LIFECYCLE_ACTION_BYTES, LIFECYCLE_ACTIONS
from stellar_arrow.sink.commit import commit_replace
from stellar_arrow.sink.durable import fsync_dir, fsync_files
from stellar_arrow.sink.manifest import (
    PENDING_SUFFIX,
    CommitRecord,
    FileManifest,
    file_sha256,
    live_files,
    read_commits,
    schema_fingerprint,
)
from stellar_arrow.sink.parquet import ParquetOptions

__all__ = ["DirectoryTarget", "Executor", "ReplaceTarget"]


class ReplaceTarget(Protocol):
    """Who makes a replace commit: the running sink (``DatasetSink.replace``) or :class:`DirectoryTarget`."""

    def replace(
        self, removed: Sequence[str], added: Sequence[FileManifest], *, action: str, committed_at: str
    ) -> CommitRecord: ...


class DirectoryTarget:
    """Replace commits on a directory no sink is writing (the caller holds its writer lock)."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def replace(
        self, removed: Sequence[str], added: Sequence[FileManifest], *, action: str, committed_at: str
    ) -> CommitRecord:
        records = list(read_commits(self.root))
        if not records:
            msg = f"{self.root} has no commit yet: nothing to replace"
            raise LifecycleError(msg, path=str(self.root))
        last = records[-1]
        return commit_replace(
            self.root,
            last.commit + 1,
            last.checkpoint,
            removed=removed,
            added=added,
            action=action,
            committed_at=committed_at,
        )


@dataclass(slots=True)
class Executor:
    """Runs actions of one output directory (see the module doc)."""

    root: Path
    target: ReplaceTarget
    journal: Journal
    clock: Clock
    parquet: ParquetOptions
    archive: ArchiveStore | None = None
    settings: LifecycleSettings = field(default_factory=LifecycleSettings)

    def _committed(self, action: str) -> bool:
        return any(record.action == action for record in read_commits(self.root))

    def _intent(self, kind: str, table: str, **fields: object) -> Intent:
        intent = Intent(Journal.new_id(kind), kind, table, iso(self.clock()), **fields)  # type: ignore[arg-type]
        self.journal.begin(intent)
        return intent

    def _finish(self, intent: Intent, outcome: str, size: int = 0) -> None:
        self.journal.finish(intent, outcome, iso(self.clock()))
        LIFECYCLE_ACTIONS.labels(intent.kind, outcome).inc()
        if outcome == "committed":
            LIFECYCLE_ACTION_BYTES.labels(intent.kind).inc(size)

    def run(self, action: Action, catalog: Catalog) -> None:
        runners: dict[str, Callable[[Action, Catalog], None]] = {
            "compact": self._compact,
            "archive": self._archive,
            "delete": self._delete,
            "purge": self._purge,
            "sweep": self._sweep,
            "delete_log": self._delete_logs,
            "delta_compact": self._delta,
            "delta_delete": self._delta,
        }
        try:
            runners[action.kind](action, catalog)
        except BaseException:
            # an I/O error or a refused commit mid-action: finish or undo it now, as a restart would
            # (committed actions stay committed, others are rolled back), then report the error
            with contextlib.suppress(Exception):
                self.resume()
            raise

    # -- compaction --------------------------------------------------------------------------------------

    def _compact(self, action: Action, catalog: Catalog) -> None:
        live = {f.manifest.path: f.manifest for f in catalog.live}
        olds = [live[p] for p in action.files]
        first = safe_path(self.root, olds[0].path)
        number = (catalog.records[-1].commit + 1) if catalog.records else 1
        final = first.parent / f"part-{number:012d}-{uuid.uuid4().hex[:12]}.parquet"
        pending = final.with_name(final.name + PENDING_SUFFIX)
        rel = final.relative_to(self.root).as_posix()
        provisional = FileManifest(action.table, rel, "parquet", 0, 0, "", "", 0, 0)
        intent = self._intent("compact", action.table, removed=tuple(olds), added=(provisional,))
        try:
            rows = self._merge([safe_path(self.root, m.path) for m in olds], pending)
            fsync_files([pending])
            manifest = FileManifest(
                table=action.table,
                path=rel,
                format="parquet",
                rows=rows,
                bytes=pending.stat().st_size,
                sha256=file_sha256(pending),
                schema_fingerprint=schema_fingerprint(pq.read_schema(pending)),
                first_ledger=min(m.first_ledger for m in olds),
                last_ledger=max(m.last_ledger for m in olds),
            )
            if rows != sum(m.rows for m in olds) or manifest.schema_fingerprint != olds[0].schema_fingerprint:
                msg = (
                    f"compacting {len(olds)} files into {rel} gave {rows} rows or another schema; rolled back"
                )
                raise LifecycleError(msg, path=rel)
        except (OSError, pa.ArrowException, LifecycleError):
            pending.unlink(missing_ok=True)
            self._finish(intent, "rolled_back")
            raise
        crash_point("compact:written")
        self.target.replace(action.files, [manifest], action=intent.id, committed_at=iso(self.clock()))
        crash_point("compact:committed")
        self._finish(intent, "committed", action.bytes)

    def _merge(self, sources: Sequence[Path], pending: Path) -> int:
        """Stream the rows of ``sources`` (in order) into one Parquet file; one row group in memory."""
        schema = pq.read_schema(sources[0])
        codec = "NONE" if self.parquet.compression == "none" else self.parquet.compression
        rows = 0
        held: list[pa.RecordBatch] = []
        held_rows = 0
        with pq.ParquetWriter(
            pending,
            schema,
            compression=codec,
            compression_level=self.parquet.compression_level,
            store_schema=True,
        ) as writer:
            for source in sources:
                for batch in pq.ParquetFile(source).iter_batches(batch_size=self.parquet.row_group_size):
                    held.append(batch.cast(schema))
                    held_rows += batch.num_rows
                    if held_rows >= self.parquet.row_group_size:
                        writer.write_table(pa.Table.from_batches(held, schema=schema))
                        rows += held_rows
                        held, held_rows = [], 0
            if held:
                writer.write_table(pa.Table.from_batches(held, schema=schema))
                rows += held_rows
        return rows

    # -- archival and deletion ---------------------------------------------------------------------------

    def _archive(self, action: Action, catalog: Catalog) -> None:
        store = self._store()
        by_path = {f.manifest.path: f for f in catalog.live}
        items = [by_path[p] for p in action.files]
        newest = {f.manifest.path: iso(f.newest) for f in items}
        copies = tuple(store.archived_name(f.manifest)[0] for f in items)
        intent = self._intent(
            "archive",
            action.table,
            removed=tuple(f.manifest for f in items),
            paths=copies,
            detail={"newest": newest},
        )
        at = iso(self.clock())
        archived: list[ArchivedFile] = []
        try:
            for item in items:
                source = safe_path(self.root, item.manifest.path)
                archived.append(
                    store.put(source, item.manifest, newest=newest[item.manifest.path], archived_at=at)
                )
            for commit in sorted({f.commit for f in items}):
                store.keep_commit_record(self.root, commit)
        except (OSError, LifecycleError):
            for rel in copies:
                store.delete(rel)
            self._finish(intent, "rolled_back")
            raise
        crash_point("archive:copied")
        self.target.replace(action.files, [], action=intent.id, committed_at=iso(self.clock()))
        crash_point("archive:committed")
        store.append(intent.id, added=tuple(archived))
        self._finish(intent, "committed", action.bytes)

    def _delete(self, action: Action, catalog: Catalog) -> None:
        by_path = {f.manifest.path: f.manifest for f in catalog.live}
        intent = self._intent("delete", action.table, removed=tuple(by_path[p] for p in action.files))
        self.target.replace(action.files, [], action=intent.id, committed_at=iso(self.clock()))
        crash_point("delete:committed")
        self._finish(intent, "committed", action.bytes)

    def _purge(self, action: Action, catalog: Catalog) -> None:
        store = self._store()
        intent = self._intent("purge", action.table, paths=action.files)
        store.append(intent.id, removed=action.files)
        crash_point("purge:recorded")
        for rel in action.files:
            store.delete(rel)
        self._finish(intent, "committed", action.bytes)

    def _sweep(self, action: Action, catalog: Catalog) -> None:
        intent = self._intent(action.kind, action.table, paths=action.files)
        crash_point("sweep:started")
        self._remove_files(intent)
        self._finish(intent, "committed", action.bytes)

    _delete_logs = _sweep

    def _delta(self, action: Action, catalog: Catalog) -> None:
        """A Delta table action (atomic in the Delta log); the version before it is journaled."""
        folder = safe_path(self.root, action.files[0])
        intent = self._intent(
            action.kind, action.table, paths=action.files, detail={"version": delta_version(folder)}
        )
        run_delta(self.root, action, self.settings, self.clock())
        self._finish(intent, "committed", action.bytes)

    def _remove_files(self, intent: Intent) -> None:
        """Delete the intent's paths, refusing any that is live again or outside the directory."""
        live = live_files(read_commits(self.root))
        folders: set[Path] = set()
        for rel in intent.paths:
            if rel in live:
                msg = f"{rel} is part of the tables again: not deleting it"
                raise LifecycleError(msg, path=rel)
            path = safe_path(self.root, rel)
            if path.is_file():
                path.unlink()
                folders.add(path.parent)
        for folder in sorted(folders):
            fsync_dir(folder)

    def _store(self) -> ArchiveStore:
        if self.archive is None:
            msg = "this action needs an archive location (lifecycle.archive_location)"
            raise LifecycleError(msg, path=str(self.root))
        return self.archive

    # -- recovery ----------------------------------------------------------------------------------------

    def resume(self) -> list[tuple[str, str]]:
        """Complete or roll back every interrupted action; returns ``[(intent id, outcome)]``."""
        done: list[tuple[str, str]] = []
        for intent in self.journal.open_intents():
            outcome = self._resume_one(intent)
            self._finish(intent, outcome)
            done.append((intent.id, outcome))
        return done

    def _resume_one(self, intent: Intent) -> str:
        if intent.kind in ("compact", "archive", "delete"):
            committed = self._committed(intent.id)
            if intent.kind == "compact":
                for manifest in intent.added:
                    final = safe_path(self.root, manifest.path)
                    pending = final.with_name(final.name + PENDING_SUFFIX)
                    if committed and pending.exists() and not final.exists():
                        pending.rename(final)
                    elif not committed:
                        pending.unlink(missing_ok=True)
            if intent.kind == "archive":
                store = self._store()
                if committed and not store.has_record(intent.id):
                    store.append(intent.id, added=self._rebuild_copies(store, intent))
                elif not committed:
                    for rel in intent.paths:
                        store.delete(rel)
            return "committed" if committed else "rolled_back"
        if intent.kind == "purge":
            store = self._store()
            if not store.has_record(intent.id):
                return "rolled_back"
            for rel in intent.paths:
                store.delete(rel)
            return "committed"
        if intent.kind in ("sweep", "delete_log"):
            self._remove_files(intent)
            return "committed"
        # Delta actions are atomic in the Delta log: committed iff the table moved past the journaled version
        folder = safe_path(self.root, intent.paths[0])
        moved = delta_version(folder) > int(intent.detail.get("version", -1))
        return "committed" if moved else "rolled_back"

    def _rebuild_copies(self, store: ArchiveStore, intent: Intent) -> tuple[ArchivedFile, ...]:
        out: list[ArchivedFile] = []
        at = iso(self.clock())
        for manifest in intent.removed:
            rel, compression = store.archived_name(manifest)
            if store.original_sha256(rel, compression) != manifest.sha256:
                msg = f"archived copy {rel} of a committed archival does not match {manifest.path}"
                raise LifecycleError(msg, path=rel)
            info = store.fs.info(f"{store.root}/{rel}")
            sha = _sha_of(store, rel)
            newest = str(intent.detail.get("newest", {}).get(manifest.path, at))
            out.append(ArchivedFile(manifest, rel, compression, int(info["size"]), sha, newest, at))
        return tuple(out)


def _sha_of(store: ArchiveStore, rel: str) -> str:
    return store.original_sha256(rel, "none")
