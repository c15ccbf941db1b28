"""The plan of one lifecycle run: which action touches which files, and why. Pure over its inputs.

Rules (``LifecycleSettings``; ages from :mod:`~stellar_arrow.lifecycle.catalog`, ``now`` from the clock):

* a live file of kind K (``parquet``, ``jsonl``, ``csv``) older than ``K.archive_after_days`` is **archived**
  when an archive location is set; without one it is **deleted** once older than ``K.delete_after_days``.
  With an archive location a file is never deleted before it is archived;
* an archived file older than ``K.delete_after_days`` is **purged** from the archive;
* small live Parquet files of one table and partition folder are **compacted** (groups of at least
  ``min_files`` files, up to ``target_file_bytes`` each, in ledger order);
* files taken out by an earlier action are **swept** (deleted) once ``grace_s`` has passed;
* ``DIR/_run/**/*.log*`` older than ``logs.delete_after_days`` (by modification time) are deleted.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import PurePosixPath

from stellar_arrow.config import LifecycleSettings, RetentionSettings
from stellar_arrow.lifecycle.archive import ArchivedFile
from stellar_arrow.lifecycle.catalog import Catalog, LiveFile
from stellar_arrow.lifecycle.clock import parse_iso

__all__ = ["Action", "LogFile", "Plan", "plan_files"]


@dataclass(frozen=True, slots=True)
class Action:
    """One step of a plan: ``kind`` over ``files`` (relative paths) of ``table``, ``bytes`` in total."""

    kind: str  # compact | archive | delete | purge | sweep | delete_log | delta_compact | delta_delete
    table: str
    files: tuple[str, ...]
    bytes: int
    reason: str
    file_bytes: tuple[int, ...] = ()  # per file, when known (same order as ``files``)

    @classmethod
    def of(cls, kind: str, table: str, sized: Sequence[tuple[str, int]], reason: str) -> Action:
        """An action over ``[(path, bytes), ...]``."""
        return cls(
            kind,
            table,
            tuple(p for p, _ in sized),
            sum(b for _, b in sized),
            reason,
            tuple(b for _, b in sized),
        )


@dataclass(frozen=True, slots=True)
class LogFile:
    path: str  # relative to the output directory
    bytes: int
    modified: datetime


@dataclass(slots=True)
class Plan:
    actions: list[Action] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # why some data is left alone (missing files ...)

    def by_kind(self, kind: str) -> list[Action]:
        return [a for a in self.actions if a.kind == kind]


def _policy(settings: LifecycleSettings, kind: str) -> RetentionSettings:
    policy: RetentionSettings = getattr(settings, kind)
    return policy


def _older(now: datetime, moment: datetime, days: float | None) -> bool:
    return days is not None and now - moment >= timedelta(days=days)


def _grouped(kind: str, chosen: Sequence[LiveFile], reason: str) -> list[Action]:
    per_table: dict[str, list[LiveFile]] = defaultdict(list)
    for item in chosen:
        per_table[item.manifest.table].append(item)
    return [
        Action.of(kind, table, [(f.manifest.path, f.manifest.bytes) for f in files], reason)
        for table, files in sorted(per_table.items())
    ]


def _compaction(live: Sequence[LiveFile], settings: LifecycleSettings) -> list[Action]:
    target = settings.target_file_bytes
    folders: dict[tuple[str, str, str], list[LiveFile]] = defaultdict(list)
    for item in live:
        m = item.manifest
        if m.format == "parquet" and m.bytes < target:
            folders[(m.table, str(PurePosixPath(m.path).parent), m.schema_fingerprint)].append(item)
    actions: list[Action] = []
    for (table, folder, _), files in sorted(folders.items()):
        files.sort(key=lambda f: (f.manifest.first_ledger, f.manifest.path))
        groups: list[list[LiveFile]] = [[]]
        for item in files:
            if sum(f.manifest.bytes for f in groups[-1]) + item.manifest.bytes > target:
                groups.append([])
            groups[-1].append(item)
        for group in groups:
            if len(group) >= settings.min_files:
                reason = f"{len(group)} small files in {folder} -> 1 (target {target} bytes)"
                sized = [(f.manifest.path, f.manifest.bytes) for f in group]
                actions.append(Action.of("compact", table, sized, reason))
    return actions


def plan_files(
    catalog: Catalog,
    archived: dict[str, ArchivedFile],
    logs: Sequence[LogFile],
    settings: LifecycleSettings,
    now: datetime,
    *,
    archive: bool,
) -> Plan:
    """The plan for the files of one output directory and its archive (see the module doc)."""
    plan = Plan()
    plan.problems.extend(f"{p}: listed in a commit but missing (left alone)" for p in catalog.missing)
    to_archive: list[LiveFile] = []
    to_delete: list[LiveFile] = []
    for item in catalog.live:
        policy = _policy(settings, item.manifest.format)
        if archive and policy.archive_after_days is not None:
            if _older(now, item.newest, policy.archive_after_days):
                to_archive.append(item)
        elif _older(now, item.newest, policy.delete_after_days):
            to_delete.append(item)
    plan.actions += _grouped("archive", to_archive, "older than its kind's archive_after_days")
    plan.actions += _grouped("delete", to_delete, "older than its kind's delete_after_days")
    gone = {f.manifest.path for f in (*to_archive, *to_delete)}
    if settings.compaction:
        plan.actions += _compaction([f for f in catalog.live if f.manifest.path not in gone], settings)
    purge: dict[str, list[ArchivedFile]] = defaultdict(list)
    for _, stored in sorted(archived.items()):
        if _older(now, parse_iso(stored.newest), _policy(settings, stored.manifest.format).delete_after_days):
            purge[stored.manifest.table].append(stored)
    for table, items in sorted(purge.items()):
        sized = [(i.archived_path, i.archived_bytes) for i in items]
        plan.actions.append(Action.of("purge", table, sized, "archived, older than delete_after_days"))
    grace = timedelta(seconds=settings.grace_s)
    due = [r for r in catalog.retired if now - r.since >= grace]
    if due:
        reason = f"taken out by a replace commit more than {settings.grace_s:g} s ago"
        plan.actions.append(Action.of("sweep", "*", [(r.path, r.bytes) for r in due], reason))
    old_logs = [log for log in logs if _older(now, log.modified, settings.logs.delete_after_days)]
    if old_logs:
        reason = "log older than logs.delete_after_days"
        sized = [(log.path, log.bytes) for log in old_logs]
        plan.actions.append(Action.of("delete_log", "_run", sized, reason))
    return plan
