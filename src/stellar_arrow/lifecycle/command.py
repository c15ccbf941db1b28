"""``stellar-arrow lifecycle DIR --dry-run | --apply``: print the plan (each action, file, bytes) or run it.

``--dry-run`` (the default) reads only. ``--apply`` takes the directory's writer lock (refused while a sink
writes it: the sink runs the lifecycle itself when ``lifecycle.enabled``), finishes interrupted actions, then
runs the plan. ``--now`` evaluates ages at another time than the wall clock (replays, tests).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from stellar_arrow.config import Settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.lifecycle.clock import Clock, fixed_clock, parse_iso, system_clock
from stellar_arrow.lifecycle.runner import Lifecycle, LifecyclePlan, open_directory
from stellar_arrow.sink.parquet import ParquetOptions

__all__ = ["run_lifecycle_command"]

Echo = Callable[[str], None]


def _clock(now: str | None) -> Clock:
    if now is None:
        return system_clock
    try:
        return fixed_clock(parse_iso(now))
    except ValueError:
        msg = f"--now {now!r} is not an ISO-8601 time such as 2026-09-20T00:00:00Z"
        raise ConfigError(msg, key="now") from None


def _print(plan: LifecyclePlan, echo: Echo, *, applied: bool) -> None:
    for ident, outcome in plan.resumed:
        echo(f"resumed {ident}: {outcome}")
    verb = "done" if applied else "plan"
    for action in plan.actions:
        echo(
            f"{verb} {action.kind:<13} {action.table:<16} {len(action.files):>5} file(s) {action.bytes:>12} "
            f"bytes  ({action.reason})"
        )
        sizes = action.file_bytes or (None,) * len(action.files)
        for path, size in zip(action.files, sizes, strict=True):
            echo(f"    {path}" if size is None else f"    {path}  {size} bytes")
    for problem in plan.problems:
        echo(f"note {problem}")
    s = plan.storage
    state = "applied" if applied else "planned"
    echo(
        f"storage: live {s.live_bytes} bytes, retired {s.retired_bytes} bytes, archive {s.archive_bytes} "
        f"bytes, free {s.free_bytes} bytes; {len(plan.actions)} action(s) {state}"
    )


def run_lifecycle_command(settings: Settings, root: Path, *, apply: bool, now: str | None, echo: Echo) -> int:
    """Print the plan, or apply it; returns the exit status."""
    clock = _clock(now)
    parquet = ParquetOptions(compression=settings.sink.parquet_compression)
    life = Lifecycle(root, settings.lifecycle, clock=clock, parquet=parquet)
    if not apply:
        plan = life.plan()
        _print(plan, echo, applied=False)
        return 0
    started: datetime = clock()
    with open_directory(root):
        plan, _ = life.apply()
    _print(plan, echo, applied=True)
    echo(f"applied as of {started.isoformat()}")
    return 0
