"""``stellar-arrow validate DIR``: check every committed file against its manifest.

Checks per file: it exists, its size and sha256 match, it parses (Parquet footer, JSON lines, CSV), its row
count and schema fingerprint match. Only the files that are part of the tables now are checked (the log
folded by :func:`~stellar_arrow.sink.manifest.live_files`: a lifecycle replace commit takes files out); files
taken out may still be on disk during their grace period. Also reported: data files no commit names (left by
a crash; the sink deletes them on its next start), a replace commit removing a file that is not in the
tables, and manifests that cannot be read. The Delta tables under ``delta/`` have
their own log (:mod:`stellar_arrow.sink.delta`): each must read, and every file its log names must exist
with the recorded size; files there that the Delta log does not name are Delta's own business (a ``vacuum``
removes them), not strays of the commit log.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from stellar_arrow.errors import ConfigError, SinkError
from stellar_arrow.sink.delta import DELTA_DIR, delta_problems, delta_tables
from stellar_arrow.sink.manifest import (
    MANIFEST_DIR,
    FileManifest,
    file_sha256,
    read_commits,
    schema_fingerprint,
)

__all__ = ["FileProblem", "ValidationReport", "validate_dir"]

_DATA_SUFFIXES: Final = (".parquet", ".jsonl", ".csv", ".pending")


@dataclass(frozen=True, slots=True)
class FileProblem:
    """One defect: the file (relative path) and what is wrong with it."""

    path: str
    problem: str


@dataclass(frozen=True, slots=True)
class ValidationReport:
    commits: int
    files_checked: int
    rows: int
    problems: tuple[FileProblem, ...]
    last_checkpoint: int | None
    delta_tables: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems


def _parquet_problem(path: Path, manifest: FileManifest) -> str | None:
    try:
        meta = pq.read_metadata(path)
        schema = pq.read_schema(path)
    except (pa.ArrowInvalid, OSError) as exc:
        return f"not a readable Parquet file (truncated or corrupt): {exc}"
    if meta.num_rows != manifest.rows:
        return f"has {meta.num_rows} rows, manifest says {manifest.rows}"
    if schema_fingerprint(schema) != manifest.schema_fingerprint:
        found = schema_fingerprint(schema)
        return f"schema fingerprint {found} differs from manifest {manifest.schema_fingerprint}"
    return None


def _text_problem(path: Path, manifest: FileManifest) -> str | None:
    try:
        if manifest.format == "jsonl":
            lines = path.read_bytes().splitlines()
            for line in lines:
                orjson.loads(line)
            rows = len(lines)
        else:
            rows = pacsv.read_csv(path).num_rows
    except (orjson.JSONDecodeError, pa.ArrowInvalid) as exc:
        return f"not readable as {manifest.format}: {exc}"
    if rows != manifest.rows:
        return f"has {rows} rows, manifest says {manifest.rows}"
    return None


def _check_file(root: Path, manifest: FileManifest) -> str | None:
    path = root / manifest.path
    if not path.is_file():
        return "listed in a commit but missing"
    size = path.stat().st_size
    if size != manifest.bytes:
        return f"is {size} bytes, manifest says {manifest.bytes} (truncated or rewritten)"
    if file_sha256(path) != manifest.sha256:
        return "sha256 differs from the manifest (content changed)"
    if manifest.format == "parquet":
        return _parquet_problem(path, manifest)
    return _text_problem(path, manifest)


def validate_dir(root: Path) -> ValidationReport:
    """Validate every manifest and Delta table under ``root``.

    Raises ``ConfigError`` if ``root`` has neither a commit log nor Delta tables (``export --format delta``).
    """
    root = Path(root)
    if not (root / MANIFEST_DIR).is_dir() and delta_tables(root):  # export --format delta: Delta tables only
        return ValidationReport(0, 0, 0, tuple(_delta_problems(root)), None, len(delta_tables(root)))
    if not (root / MANIFEST_DIR).is_dir():
        msg = f"{root} has no {MANIFEST_DIR}/ folder: not an output directory of the stellar-arrow sink"
        raise ConfigError(msg, key="sink.output_dir")
    problems: list[FileProblem] = []
    named: set[str] = set()
    commits = files = rows = 0
    checkpoint: int | None = None
    try:
        records = list(read_commits(root))
    except SinkError as exc:
        return ValidationReport(0, 0, 0, (FileProblem(MANIFEST_DIR, str(exc)),), None)
    live: dict[str, FileManifest] = {}
    for record in records:
        commits += 1
        checkpoint = record.checkpoint.ledger_sequence
        for gone in record.removed:
            if live.pop(gone, None) is None:
                problems.append(FileProblem(gone, f"commit {record.commit} removes a file that is not live"))
        for manifest in record.files:
            named.add(manifest.path)
            live[manifest.path] = manifest
    for manifest in live.values():
        files += 1
        rows += manifest.rows
        problem = _check_file(root, manifest)
        if problem is not None:
            problems.append(FileProblem(manifest.path, problem))
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        stray = path.is_file() and path.name.endswith(_DATA_SUFFIXES) and rel not in named
        if stray and not rel.startswith((MANIFEST_DIR, f"{DELTA_DIR}/")):
            problems.append(FileProblem(rel, "not named by any commit (left by an interrupted write)"))
    problems.extend(_delta_problems(root))
    return ValidationReport(commits, files, rows, tuple(problems), checkpoint, len(delta_tables(root)))


def _delta_problems(root: Path) -> list[FileProblem]:
    problems: list[FileProblem] = []
    for name, path in delta_tables(root).items():
        found, _ = delta_problems(path)
        problems.extend(FileProblem(f"{DELTA_DIR}/{name}/{file}", problem) for file, problem in found)
    return problems
