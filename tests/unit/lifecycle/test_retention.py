"""Retention on a controllable clock: each policy archives, compresses, purges or deletes just its files."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stellar_arrow.lifecycle import ArchiveStore
from stellar_arrow.lifecycle.catalog import open_catalog
from stellar_arrow.sink import read_commits, validate_dir
from stellar_arrow.sink.manifest import MANIFEST_DIR, live_files
from tests.unit.lifecycle.sample import (
    TABLES,
    archived_parquet_rows,
    days_after,
    lifecycle,
    live_parquet,
    make_output,
    rows_sql,
    text_of,
    tree_digest,
)

FORMATS = ("parquet", "jsonl", "csv")


@pytest.fixture
def output(tmp_path: Path) -> Path:
    return make_output(tmp_path / "out", ledgers=3, formats=FORMATS)


def _live(root: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {f: set() for f in FORMATS}
    for m in live_files(read_commits(root)).values():
        out[m.format].add(m.path)
    return out


def test_archive_then_purge_follows_each_kinds_defaults(output: Path, tmp_path: Path) -> None:
    archive = tmp_path / "archive"
    start = _live(output)
    manifests = {m.path: m for m in live_files(read_commits(output)).values()}
    assert all(len(paths) == 12 for paths in start.values())  # 3 ledgers x 4 tables per format
    run = lambda days: lifecycle(  # noqa: E731
        output, days_after(days), archive_location=str(archive), compaction=False
    ).apply()

    _, report = run(6.9)  # younger than every policy: nothing
    assert report.done == [] and _live(output) == start

    run(7.1)  # JSON lines and CSV: archived (zstd), Parquet stays
    assert _live(output) == {"parquet": start["parquet"], "jsonl": set(), "csv": set()}
    store = ArchiveStore(str(archive))
    archived = store.files()
    assert set(archived) == {p + ".zst" for p in start["jsonl"] | start["csv"]}
    for rel, item in archived.items():
        assert item.compression == "zstd" and rel.endswith(".zst")
        original = text_of(archive / rel)
        assert len(original) == manifests[item.manifest.path].bytes  # decompresses to the exact file
        assert item.archived_bytes < len(original)
    # the folder structure and the commit records are kept
    commits = {m.split("/")[-1] for m in os.listdir(archive / MANIFEST_DIR)}
    assert commits == {f"{r.commit:012d}.json" for r in read_commits(output) if r.files and not r.removed}
    assert validate_dir(output).ok

    run(14.1)  # archived JSON lines and CSV are purged; Parquet is still live (90 days)
    assert store.files() == {} and not list(archive.rglob("*.zst"))
    assert _live(output)["parquet"] == start["parquet"]

    before = {t: rows_sql(live_parquet(output, t), t) for t in TABLES}
    run(90.1)  # Parquet archived as is
    assert _live(output) == {f: set() for f in FORMATS}
    store_now = ArchiveStore(str(archive)).files()
    for table in TABLES:
        paths = [archive / i.archived_path for i in store_now.values() if i.manifest.table == table]
        assert all(i.compression == "none" for i in store_now.values())
        assert rows_sql(paths, table).equals(before[table])  # every row once, now in the archive
        assert sum(t.num_rows for t in archived_parquet_rows(archive, table)) == before[table].num_rows
    assert validate_dir(output).ok

    run(179.9)
    assert len(store.files()) == 12
    run(180.1)
    assert store.files() == {} and not list(archive.rglob("*.parquet"))


def test_without_an_archive_files_are_deleted_after_delete_after_days(output: Path) -> None:
    start = _live(output)
    run = lambda days: lifecycle(output, days_after(days), compaction=False).apply()  # noqa: E731
    _, report = run(13.9)  # archive_after passed but there is no archive: nothing happens
    assert report.done == [] and _live(output) == start
    _, report = run(14.1)
    assert _live(output) == {"parquet": start["parquet"], "jsonl": set(), "csv": set()}
    assert {a.kind for a in report.done} == {"delete"}
    # taken out of the tables at once, removed from the disk after the grace period
    assert all((output / p).exists() for p in start["jsonl"])
    run(14.2)
    assert not any((output / p).exists() for p in start["jsonl"] | start["csv"])
    assert all((output / p).exists() for p in start["parquet"])
    run(180.1)
    assert _live(output) == {f: set() for f in FORMATS}
    assert validate_dir(output).ok


def test_logs_are_deleted_after_30_days_by_modification_time(output: Path) -> None:
    logs = output / "_run"
    logs.mkdir()
    old, fresh = logs / "sink.log", logs / "processor.log"
    old.write_text("old\n")
    fresh.write_text("fresh\n")
    now = days_after(1)
    os.utime(old, (now.timestamp() - 31 * 86400,) * 2)
    os.utime(fresh, (now.timestamp() - 29 * 86400,) * 2)
    _, report = lifecycle(output, now, compaction=False).apply()
    assert [a.files for a in report.done] == [("_run/sink.log",)]
    assert not old.exists() and fresh.exists()


def test_archival_is_refused_for_data_not_committed(output: Path, tmp_path: Path) -> None:
    """A stray (uncommitted) file is never archived or deleted, even when old."""
    folder = next((output / "ledgers").glob("date=*"))
    stray = folder / "part-999999999999-stray.parquet"
    stray.write_bytes((next(folder.glob("*.parquet"))).read_bytes())
    pending = folder / "part-000000000099-x.parquet.pending"
    pending.write_bytes(b"half")
    digest = tree_digest(output)
    plan = lifecycle(output, days_after(400), archive_location=str(tmp_path / "a")).plan()
    touched = {p for a in plan.actions for p in a.files}
    assert stray.relative_to(output).as_posix() not in touched
    assert pending.relative_to(output).as_posix() not in touched
    lifecycle(output, days_after(400), archive_location=str(tmp_path / "a")).apply()
    assert stray.exists() and pending.exists()
    assert digest[str(stray)] == tree_digest(output)[str(stray)]
    assert not open_catalog(output).live


def test_an_fsspec_archive_location_is_used_through_fsspec(output: Path) -> None:
    """``memory://`` stands for an object store: no local paths, no fsync, same catalog and checks."""
    import fsspec

    location = "memory://lifecycle-test-archive"
    start = _live(output)
    lifecycle(output, days_after(7.1), archive_location=location, compaction=False).apply()
    store = ArchiveStore(location)
    assert not store.is_local()
    assert set(store.files()) == {p + ".zst" for p in start["jsonl"] | start["csv"]}
    fs = fsspec.filesystem("memory")
    assert fs.exists("/lifecycle-test-archive/_catalog/000000000001.json")
    for item in store.files().values():
        assert store.original_sha256(item.archived_path, "zstd") == item.manifest.sha256
    lifecycle(output, days_after(14.1), archive_location=location, compaction=False).apply()
    assert store.files() == {}
    fs.rm("/lifecycle-test-archive", recursive=True)
