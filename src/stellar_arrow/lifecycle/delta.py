"""Delta tables of a sink output (``DIR/delta/<table>/``): compaction and retention through ``deltalake``.

* compaction: ``DeltaTable.optimize.compact(target_size=target_file_bytes)`` when a table has at least
  ``min_files`` data files smaller than the target (one Delta commit; readers see the old or the new version);
* retention: rows whose ``closed_at`` is older than ``delta.delete_after_days`` are removed with
  ``DeltaTable.delete`` (a Delta commit), then ``vacuum`` deletes data files no version newer than
  ``grace_s`` needs (deltalake measures that retention on the wall clock, not on the lifecycle's clock).

Both steps are atomic in the Delta log, so an interrupted one leaves the table at its previous version and
the next run plans it again.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Final

import pyarrow.compute as pc
import pyarrow.dataset as pads

from stellar_arrow.config import LifecycleSettings
from stellar_arrow.errors import LifecycleError
from stellar_arrow.lifecycle.crash import crash_point
from stellar_arrow.lifecycle.plan import Action

__all__ = ["DELTA_DIR", "delta_tables", "delta_version", "plan_delta", "run_delta"]

DELTA_DIR: Final = "delta"
_TIME_COLUMN: Final = "closed_at"


@dataclass(frozen=True, slots=True)
class _Files:
    count: int
    small: int
    bytes: int


def delta_tables(root: Path) -> dict[str, Path]:
    """``{table: folder}`` of every Delta table under ``root/delta/`` (a folder with ``_delta_log/``)."""
    base = root / DELTA_DIR
    if not base.is_dir():
        return {}
    return {p.name: p for p in sorted(base.iterdir()) if (p / "_delta_log").is_dir()}


def delta_version(folder: Path) -> int:
    """The current version of the Delta table at ``folder`` (-1 when there is none)."""
    from deltalake import DeltaTable

    if not (folder / "_delta_log").is_dir():
        return -1
    version: int = DeltaTable(str(folder)).version()
    return version


def _files(folder: Path, target: int) -> _Files:
    from deltalake import DeltaTable

    actions = DeltaTable(str(folder)).get_add_actions(flatten=True)
    sizes = actions.column("size_bytes").to_pylist() if actions.num_rows else []
    return _Files(len(sizes), sum(1 for s in sizes if s < target), sum(sizes))


def _cutoff(now: datetime, days: float) -> datetime:
    return now - timedelta(days=days)


def plan_delta(root: Path, settings: LifecycleSettings, now: datetime) -> list[Action]:
    """Compaction and deletion actions for the Delta tables under ``root``."""
    from deltalake import DeltaTable

    actions: list[Action] = []
    for table, folder in delta_tables(root).items():
        rel = folder.relative_to(root).as_posix()
        files = _files(folder, settings.target_file_bytes)
        days = settings.delta.delete_after_days
        if days is not None:
            dataset: pads.Dataset = DeltaTable(str(folder)).to_pyarrow_dataset()
            if _TIME_COLUMN in dataset.schema.names:
                old = dataset.count_rows(filter=pc.field(_TIME_COLUMN) < _cutoff(now, days))
                if old:
                    reason = f"{old} rows older than {days:g} days: delete + vacuum"
                    actions.append(Action("delta_delete", table, (rel,), 0, reason))
        if settings.compaction and files.small >= settings.min_files:
            reason = (
                f"{files.small} of {files.count} files below {settings.target_file_bytes} bytes: optimize"
            )
            actions.append(Action("delta_compact", table, (rel,), files.bytes, reason))
    return actions


def run_delta(root: Path, action: Action, settings: LifecycleSettings, now: datetime) -> None:
    """Run one planned Delta action (see the module doc)."""
    from deltalake import DeltaTable
    from deltalake.exceptions import DeltaError

    folder = root / action.files[0]
    try:
        table = DeltaTable(str(folder))
        if action.kind == "delta_compact":
            table.optimize.compact(target_size=settings.target_file_bytes)
            crash_point("delta:committed")
        else:
            days = settings.delta.delete_after_days or 0.0
            cutoff = _cutoff(now, days).strftime("%Y-%m-%d %H:%M:%S.%f")
            table.delete(f"{_TIME_COLUMN} < '{cutoff}'")
            crash_point("delta:committed")
            table.vacuum(
                retention_hours=math.ceil(settings.grace_s / 3600),
                dry_run=False,
                enforce_retention_duration=False,
            )
    except (DeltaError, OSError) as exc:
        msg = f"Delta table {folder}: {action.kind} failed: {exc}"
        raise LifecycleError(msg, path=str(folder)) from exc
