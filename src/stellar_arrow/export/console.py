"""Terminal side of ``stellar-arrow export``: the progress bar and the summary text."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from stellar_arrow.config import Settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.export.job import ExportSummary, ProgressCallback, run_export

__all__ = ["export_with_progress", "format_summary", "parse_storage_options", "progress_bar"]


@contextmanager
def progress_bar(total: int | None, enabled: bool) -> Iterator[ProgressCallback]:
    with Progress(
        TextColumn("[bold]export"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("ledgers"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        disable=not enabled,
        transient=False,
    ) as progress:
        task = progress.add_task("export", total=total)

        def advance(n: int) -> None:
            progress.advance(task, n)

        yield advance


def export_with_progress(settings: Settings, *, show_progress: bool | None = None) -> ExportSummary:
    """:func:`run_export` with a rich progress bar on stderr (when it is a terminal, by default)."""
    enabled = sys.stderr.isatty() if show_progress is None else show_progress
    start, end = settings.source.start_ledger, settings.source.end_ledger
    total = None if start is None or end is None else end - start + 1
    with progress_bar(total, enabled) as advance:
        return run_export(settings, on_progress=advance)


def _relative(where: Path | str) -> str:
    if isinstance(where, str) and "://" in where:
        return where  # an object store URL
    try:
        return str(Path(where).relative_to(Path.cwd()))
    except ValueError:
        return str(where)


def format_summary(summary: ExportSummary, out_dir: Path | str) -> str:
    """Human-readable summary of an export."""
    mb = summary.xdr_bytes / 1e6
    span = f"{summary.first_ledger}-{summary.last_ledger}"
    lines = [
        f"exported ledgers {span} ({summary.network}) to {_relative(out_dir)}",
        f"  ledgers decoded: {summary.ledgers_exported} ({mb:.1f} MB of XDR) in "
        f"{summary.elapsed_seconds:.2f} s = {summary.ledgers_per_second:.1f} ledgers/s",
        f"  chunks written: {summary.chunks_written}, skipped (already complete): {summary.chunks_skipped}",
    ]
    for replaced in summary.replaced:
        lines.append(f"  chunk {replaced}: written again")
    for table, rows in summary.rows.items():
        lines.append(f"  {table}: {rows} rows")
    for path in summary.files:
        lines.append(f"  wrote {_relative(path)}")
    return "\n".join(lines)


def parse_storage_options(pairs: list[str], flag: str = "--storage-option") -> dict[str, str | bool] | None:
    """``["endpoint_url=http://...", "anon=true"]`` -> fsspec storage options (true/false become bools)."""
    options: dict[str, str | bool] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            msg = f"{flag} {pair!r} is not KEY=VALUE"
            raise ConfigError(msg, key="storage_option")
        lowered = value.lower()
        options[key] = True if lowered == "true" else False if lowered == "false" else value
    return options or None
