"""Data lifecycle of a sink output: compaction, retention, archival, storage limits (``docs/lifecycle.md``).

:class:`Lifecycle` plans and applies; every action is journaled (:mod:`~stellar_arrow.lifecycle.journal`)
and commits through the sink's commit log as one replace commit, so readers see the old or the new files,
never both or neither. :class:`LifecycleScheduler` runs it inside the sink on a cron schedule.
"""

from __future__ import annotations

from stellar_arrow.lifecycle.actions import DirectoryTarget, ReplaceTarget
from stellar_arrow.lifecycle.archive import ArchivedFile, ArchiveRecord, ArchiveStore
from stellar_arrow.lifecycle.catalog import Catalog, open_catalog, safe_path
from stellar_arrow.lifecycle.clock import Clock, fixed_clock, system_clock
from stellar_arrow.lifecycle.plan import Action
from stellar_arrow.lifecycle.runner import Lifecycle, LifecyclePlan, LifecycleReport, open_directory
from stellar_arrow.lifecycle.schedule import LifecycleScheduler
from stellar_arrow.lifecycle.storage import StorageReport

__all__ = [
    "Action",
    "ArchiveRecord",
    "ArchiveStore",
    "ArchivedFile",
    "Catalog",
    "Clock",
    "DirectoryTarget",
    "Lifecycle",
    "LifecyclePlan",
    "LifecycleReport",
    "LifecycleScheduler",
    "ReplaceTarget",
    "StorageReport",
    "fixed_clock",
    "open_catalog",
    "open_directory",
    "safe_path",
    "system_clock",
]
