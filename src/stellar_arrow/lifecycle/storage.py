"""Storage monitoring: bytes per tier, free space, limits, and the emergency clean-up when one is crossed.

Tiers: ``live`` (files in the tables, plus Delta tables), ``retired`` (taken out, waiting for their grace
period), ``archive`` (the archive catalog's files). Limits (``LifecycleSettings``): ``max_total_bytes``
(live + retired + archive) and ``min_free_bytes`` (free space on the output directory's file system,
``shutil.disk_usage``). When one is crossed, the oldest archived files (by the close time of their newest
row) are purged first, until the limit is met again; live data is never removed by the emergency clean-up.
Purging a remote archive frees no local space, so only ``max_total_bytes`` counts it then.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from stellar_arrow.config import LifecycleSettings
from stellar_arrow.lifecycle.archive import ArchivedFile
from stellar_arrow.lifecycle.catalog import Catalog
from stellar_arrow.lifecycle.plan import Action
from stellar_arrow.observability.metrics import LIFECYCLE_BYTES

__all__ = ["StorageReport", "emergency_purge", "measure"]


@dataclass(frozen=True, slots=True)
class StorageReport:
    live_bytes: int
    retired_bytes: int
    archive_bytes: int
    free_bytes: int

    @property
    def total_bytes(self) -> int:
        return self.live_bytes + self.retired_bytes + self.archive_bytes


def _folder_bytes(folder: Path) -> int:
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file() and not p.is_symlink())


def measure(
    catalog: Catalog, archived: dict[str, ArchivedFile], delta_folders: Sequence[Path]
) -> StorageReport:
    """The tiers of one output directory now; also sets the ``lifecycle_bytes{tier}`` gauges."""
    report = StorageReport(
        live_bytes=sum(f.manifest.bytes for f in catalog.live) + sum(_folder_bytes(p) for p in delta_folders),
        retired_bytes=sum(r.bytes for r in catalog.retired),
        archive_bytes=sum(a.archived_bytes for a in archived.values()),
        free_bytes=shutil.disk_usage(catalog.root).free,
    )
    for tier, value in (
        ("live", report.live_bytes),
        ("retired", report.retired_bytes),
        ("archive", report.archive_bytes),
        ("free", report.free_bytes),
    ):
        LIFECYCLE_BYTES.labels(tier).set(value)
    return report


def _same_device(root: Path, archive_root: str | None) -> bool:
    if archive_root is None or not Path(archive_root).exists():
        return False
    return os.stat(root).st_dev == os.stat(archive_root).st_dev


def emergency_purge(
    report: StorageReport,
    archived: dict[str, ArchivedFile],
    settings: LifecycleSettings,
    *,
    planned: set[str],
    local_archive_root: str | None,
    output_dir: Path,
) -> list[Action]:
    """Purge actions for the oldest archived files (not already ``planned``) until the limits are met."""
    total_over = 0
    if settings.max_total_bytes is not None:
        total_over = max(0, report.total_bytes - settings.max_total_bytes)
    free_short = 0
    if settings.min_free_bytes is not None and _same_device(output_dir, local_archive_root):
        free_short = max(0, settings.min_free_bytes - report.free_bytes)
    if not total_over and not free_short:
        return []
    freed = 0
    chosen: list[ArchivedFile] = []
    for item in sorted(archived.values(), key=lambda a: (a.newest, a.archived_path)):
        if freed >= max(total_over, free_short):
            break
        if item.archived_path in planned:
            continue
        chosen.append(item)
        freed += item.archived_bytes
    if not chosen:
        return []
    why = []
    if total_over:
        why.append(f"total {report.total_bytes} > max_total_bytes {settings.max_total_bytes}")
    if free_short:
        why.append(f"free {report.free_bytes} < min_free_bytes {settings.min_free_bytes}")
    reason = "emergency: " + "; ".join(why) + ": oldest archived data first"
    tables = sorted({c.manifest.table for c in chosen})
    return [
        Action.of(
            "purge",
            table,
            [(c.archived_path, c.archived_bytes) for c in chosen if c.manifest.table == table],
            reason,
        )
        for table in tables
    ]
