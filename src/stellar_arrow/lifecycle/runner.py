"""One lifecycle run over a sink output: resume interrupted actions, plan, then (with ``apply``) act.

:class:`Lifecycle` is what ``stellar-arrow lifecycle DIR`` and the sink's scheduler call::

    life = Lifecycle(root, settings.lifecycle, clock=clock, parquet=ParquetOptions(...))
    plan = life.plan()            # reads only: actions, files, bytes, storage tiers, problems
    report = life.apply(plan)     # journals and runs every action (resuming interrupted ones first)

Without ``target`` it commits on the directory itself (the caller holds the directory's writer lock, see
:func:`open_directory`); inside the sink the sink is the target, so its readers switch files at once.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from stellar_arrow.config import LifecycleSettings
from stellar_arrow.errors import LifecycleError
from stellar_arrow.lifecycle.actions import DirectoryTarget, Executor, ReplaceTarget
from stellar_arrow.lifecycle.archive import ArchivedFile, ArchiveStore
from stellar_arrow.lifecycle.catalog import Catalog, check_output_dir, open_catalog
from stellar_arrow.lifecycle.clock import Clock
from stellar_arrow.lifecycle.delta import delta_tables, plan_delta
from stellar_arrow.lifecycle.journal import Journal
from stellar_arrow.lifecycle.plan import Action, LogFile, Plan, plan_files
from stellar_arrow.lifecycle.storage import StorageReport, emergency_purge, measure
from stellar_arrow.observability.metrics import LIFECYCLE_ACTIONS
from stellar_arrow.sink.parquet import ParquetOptions
from stellar_arrow.sink.writer_lock import WriterLock

__all__ = ["Lifecycle", "LifecyclePlan", "LifecycleReport", "open_directory"]

_LOG_FOLDER = "_run"


@dataclass(frozen=True, slots=True)
class LifecyclePlan:
    """A plan plus the storage measured when it was made."""

    actions: tuple[Action, ...]
    problems: tuple[str, ...]
    storage: StorageReport
    resumed: tuple[tuple[str, str], ...] = ()  # interrupted actions finished while planning (apply only)


@dataclass(slots=True)
class LifecycleReport:
    done: list[Action] = field(default_factory=list)
    resumed: list[tuple[str, str]] = field(default_factory=list)


def _logs(root: Path) -> list[LogFile]:
    folder = root / _LOG_FOLDER
    if not folder.is_dir():
        return []
    out: list[LogFile] = []
    for path in sorted(folder.rglob("*.log*")):
        if path.is_file() and not path.is_symlink():
            stat = path.stat()
            modified = datetime.fromtimestamp(stat.st_mtime, UTC)
            out.append(LogFile(path.relative_to(root).as_posix(), stat.st_size, modified))
    return out


class Lifecycle:
    """Compaction, retention, archival and storage limits of one sink output directory."""

    def __init__(
        self,
        root: Path,
        settings: LifecycleSettings,
        *,
        clock: Clock,
        parquet: ParquetOptions | None = None,
        target: ReplaceTarget | None = None,
    ) -> None:
        self.root = Path(root)
        self.settings = settings
        self.clock = clock
        self.archive: ArchiveStore | None = None
        if settings.archive_location is not None:
            options: dict[str, Any] = dict(settings.storage_options)
            self.archive = ArchiveStore(settings.archive_location, options)
        self.executor = Executor(
            self.root,
            target if target is not None else DirectoryTarget(self.root),
            Journal(self.root),
            clock,
            parquet or ParquetOptions(),
            self.archive,
            settings,
        )

    def _archived(self) -> dict[str, ArchivedFile]:
        return self.archive.files() if self.archive is not None else {}

    def plan(self) -> LifecyclePlan:
        """What a run would do now (reads only; pending journal entries are listed as problems)."""
        catalog = open_catalog(self.root)
        archived = self._archived()
        return self._plan(catalog, archived)

    def _plan(self, catalog: Catalog, archived: dict[str, ArchivedFile]) -> LifecyclePlan:
        now = self.clock()
        plan: Plan = plan_files(
            catalog, archived, _logs(self.root), self.settings, now, archive=self.archive is not None
        )
        plan.actions += plan_delta(self.root, self.settings, now)
        folders = list(delta_tables(self.root).values())
        storage = measure(catalog, archived, folders)
        planned = {p for a in plan.by_kind("purge") for p in a.files}
        local = self.archive.root if self.archive is not None and self.archive.is_local() else None
        emergency = emergency_purge(
            storage, archived, self.settings, planned=planned, local_archive_root=local, output_dir=self.root
        )
        plan.actions += emergency
        limit = self.settings.max_total_bytes
        if limit is not None and storage.total_bytes - sum(a.bytes for a in emergency) > limit:
            plan.problems.append(
                f"total {storage.total_bytes} bytes is above max_total_bytes {limit} and the archive "
                "cannot free enough (live data is never removed by the emergency clean-up)"
            )
        short = self.settings.min_free_bytes is not None and storage.free_bytes < self.settings.min_free_bytes
        if short and not emergency:
            plan.problems.append(
                f"free space {storage.free_bytes} bytes is below min_free_bytes "
                f"{self.settings.min_free_bytes} and no archived data on this file system is left to purge"
            )
        pending = self.executor.journal.open_intents()
        plan.problems.extend(f"interrupted action {i.id} ({i.kind}) is finished by --apply" for i in pending)
        return LifecyclePlan(tuple(plan.actions), tuple(plan.problems), storage)

    def apply(self) -> tuple[LifecyclePlan, LifecycleReport]:
        """Resume interrupted actions, plan, check the archive, run every action in plan order."""
        report = LifecycleReport()
        if self.archive is not None:
            self.archive.check_writable(self.root)
        report.resumed = self.executor.resume()
        catalog = open_catalog(self.root)
        if catalog.missing:
            first = catalog.missing[0]
            msg = (
                f"{len(catalog.missing)} committed file(s) are missing, e.g. {self.root / first}: nothing "
                "was changed; run `stellar-arrow validate` and restore them first"
            )
            raise LifecycleError(msg, path=first)
        plan = self._plan(catalog, self._archived())
        for action in plan.actions:
            try:
                self.executor.run(action, catalog)
            except LifecycleError:
                LIFECYCLE_ACTIONS.labels(action.kind, "failed").inc()
                raise
            report.done.append(action)
        final = measure(open_catalog(self.root), self._archived(), list(delta_tables(self.root).values()))
        return LifecyclePlan(plan.actions, plan.problems, final, tuple(report.resumed)), report


@contextlib.contextmanager
def open_directory(root: Path) -> Iterator[None]:
    """Hold ``root``'s writer lock (no sink may write it meanwhile); ``LifecycleError`` if one does."""
    check_output_dir(Path(root))  # before the lock file is made
    lock = WriterLock(Path(root), exclusive_in_process=True)
    try:
        lock.acquire(timeout_s=0.0, holder="stellar-arrow lifecycle")
    except LifecycleError:
        raise
    except Exception as exc:
        msg = f"{exc}: stop the sink, or let it run the lifecycle itself (lifecycle.enabled)"
        raise LifecycleError(msg, path=str(root)) from exc
    try:
        yield
    finally:
        lock.release()
