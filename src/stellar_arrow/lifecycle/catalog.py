"""What a sink output holds now: its live files (commit log folded), their ages and the retired files.

* the **live** files are :func:`~stellar_arrow.sink.manifest.live_files` of the commit log;
* a file's **age** is measured from the newest ledger close time (``closed_at``) of its rows: the Parquet
  footer statistics, or the Parquet sibling of the same commit, or the text file's own column (a file
  without ``closed_at`` falls back to its commit's ``committed_at``, else to the commit record's mtime);
* **retired** files are named by a commit but taken out by a replace commit; they are deleted once the
  grace period after that commit is over.

Every path is checked by :func:`safe_path`: relative, no ``..``, and still inside the directory once
symlinks are resolved; anything else is a :class:`~stellar_arrow.errors.LifecycleError`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path, PurePosixPath
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.json as pajson
import pyarrow.parquet as pq

from stellar_arrow.errors import ConfigError, LifecycleError
from stellar_arrow.lifecycle.clock import parse_iso
from stellar_arrow.sink.manifest import (
    MANIFEST_DIR,
    CommitRecord,
    FileManifest,
    live_files,
    read_commits,
)

__all__ = ["Catalog", "LiveFile", "RetiredFile", "check_output_dir", "open_catalog", "safe_path"]

_TIME_COLUMN: Final = "closed_at"


def safe_path(root: Path, rel: str) -> Path:
    """``root / rel`` when ``rel`` is a plain relative path that stays inside ``root`` (symlinks resolved)."""
    pure = PurePosixPath(rel)
    if pure.is_absolute() or ".." in pure.parts or not pure.parts:
        msg = f"{rel!r} in the commit log of {root} is not a relative path inside the directory"
        raise LifecycleError(msg, path=rel)
    path = root / pure
    inside = root.resolve()
    resolved = path.resolve()
    if resolved != inside and inside not in resolved.parents:
        msg = f"{path} points outside {root} (to {resolved}): the lifecycle does not touch it"
        raise LifecycleError(msg, path=rel)
    return path


@dataclass(frozen=True, slots=True)
class LiveFile:
    """A file that is part of a table now, and when its newest row's ledger closed."""

    manifest: FileManifest
    commit: int
    newest: datetime

    @property
    def stem(self) -> str:
        return self.manifest.path.rsplit(".", 1)[0]


@dataclass(frozen=True, slots=True)
class RetiredFile:
    """A file a replace commit took out; deletable once ``since + grace`` has passed."""

    path: str
    bytes: int
    since: datetime


def _aware(value: object) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo is not None else value.replace(tzinfo=UTC)
    return None


def _parquet_newest(path: Path) -> datetime | None:
    meta = pq.read_metadata(path)
    index = meta.schema.to_arrow_schema().get_field_index(_TIME_COLUMN)
    if index < 0:
        return None
    best: datetime | None = None
    for group in range(meta.num_row_groups):
        stats = meta.row_group(group).column(index).statistics
        value = _aware(stats.max) if stats is not None and stats.has_min_max else None
        if value is None:  # no statistics: read the column
            column = pq.read_table(path, columns=[_TIME_COLUMN])[_TIME_COLUMN]
            return _aware(pc.max(column).as_py())
        best = value if best is None else max(best, value)
    return best


def _text_newest(path: Path, fmt: str) -> datetime | None:
    if fmt == "jsonl":
        schema = pa.schema([(_TIME_COLUMN, pa.string())])
        options = pajson.ParseOptions(explicit_schema=schema, unexpected_field_behavior="ignore")
        table = pajson.read_json(path, parse_options=options)
    else:
        convert = pacsv.ConvertOptions(column_types={_TIME_COLUMN: pa.string()})
        table = pacsv.read_csv(path, convert_options=convert)
    if _TIME_COLUMN not in table.column_names or table.num_rows == 0:
        return None
    top = pc.max(table[_TIME_COLUMN]).as_py()  # ISO-8601 strings of one spelling sort in time order
    return parse_iso(str(top)) if top else None


@dataclass(frozen=True, slots=True)
class Catalog:
    """One reading of a sink output's commit log."""

    root: Path
    records: tuple[CommitRecord, ...]
    live: tuple[LiveFile, ...]
    retired: tuple[RetiredFile, ...]
    missing: tuple[str, ...]  # live files absent from the disk

    @property
    def checkpoint(self) -> int | None:
        return self.records[-1].checkpoint.ledger_sequence if self.records else None


def _commit_times(root: Path, records: tuple[CommitRecord, ...]) -> dict[int, datetime]:
    times: dict[int, datetime] = {}
    for record in records:
        if record.committed_at is not None:
            times[record.commit] = parse_iso(record.committed_at)
        else:
            stat = (root / MANIFEST_DIR / f"{record.commit:012d}.json").stat()
            times[record.commit] = datetime.fromtimestamp(stat.st_mtime, UTC)
    return times


def check_output_dir(root: Path) -> None:
    """``ConfigError`` unless ``root`` is a sink output directory (an export output is not one)."""
    folder = Path(root) / MANIFEST_DIR
    if not Path(root).is_dir() or not folder.is_dir():
        msg = f"{root} has no {MANIFEST_DIR}/ commit log: not an output directory of the stellar-arrow sink"
        raise ConfigError(msg, key="dir")
    if any(folder.glob("chunk-*.json")):
        msg = f"{root} is an `export` output (chunk manifests), not a sink output"
        raise ConfigError(msg, key="dir")


def open_catalog(root: Path) -> Catalog:
    """Read ``root``'s commit log; ``ConfigError`` when it is not a sink output directory."""
    root = Path(root)
    check_output_dir(root)
    records = tuple(read_commits(root))
    times = _commit_times(root, records)
    commit_of: dict[str, int] = {}
    for record in records:
        for manifest in record.files:
            commit_of[manifest.path] = record.commit
    live_map = live_files(records)
    newest_by_stem: dict[str, datetime | None] = {}
    missing: list[str] = []
    ordered = sorted(live_map.values(), key=lambda m: m.format != "parquet")  # Parquet first: cheap ages
    found: dict[str, LiveFile] = {}
    for manifest in ordered:
        path = safe_path(root, manifest.path)
        if not path.is_file():
            missing.append(manifest.path)
            continue
        stem = manifest.path.rsplit(".", 1)[0]
        newest = newest_by_stem.get(stem)
        if newest is None:
            try:
                if manifest.format == "parquet":
                    newest = _parquet_newest(path)
                else:
                    newest = _text_newest(path, manifest.format)
            except (pa.ArrowInvalid, OSError) as exc:
                msg = f"{path} cannot be read to find its age: {exc} (run `stellar-arrow validate`)"
                raise LifecycleError(msg, path=manifest.path) from exc
            newest_by_stem[stem] = newest
        commit = commit_of[manifest.path]
        found[manifest.path] = LiveFile(manifest, commit, newest or times[commit])
    live = tuple(found[p] for p in live_map if p in found)
    retired: list[RetiredFile] = []
    removed_at: dict[str, datetime] = {}
    for record in records:
        for rel in record.removed:
            removed_at[rel] = times[record.commit]
    for rel, since in removed_at.items():
        if rel in live_map:
            continue
        path = safe_path(root, rel)
        if path.is_file():
            retired.append(RetiredFile(rel, path.stat().st_size, since))
    return Catalog(root, records, live, tuple(retired), tuple(missing))
