"""Crash safety: ``stellar-arrow lifecycle --apply`` SIGKILLed at each durable step, then run again.

The killed run is a real subprocess (``LIFECYCLE_CRASH_POINT`` names where it kills itself with SIGKILL);
the next run finishes or rolls back the interrupted action. Afterwards every row is in exactly one place
(live files or archive), and ``stellar-arrow validate`` passes.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import SinkSettings
from stellar_arrow.lifecycle import ArchiveStore
from stellar_arrow.lifecycle.clock import iso
from stellar_arrow.lifecycle.journal import Journal
from stellar_arrow.sink import DatasetSink, read_commits
from stellar_arrow.sink.manifest import FileManifest, live_files
from tests.unit.lifecycle.sample import TABLES, days_after, live_parquet, make_output, rows_sql, text_of
from tests.unit.sink.realdata import schemas

pytestmark = pytest.mark.integration  # runs `stellar-arrow lifecycle` as a real subprocess

CLI = str(Path(sys.executable).with_name("stellar-arrow"))


def _killed_run(root: Path, point: str, *args: str) -> None:
    env = {**os.environ, "LIFECYCLE_CRASH_POINT": point}
    proc = subprocess.run(
        [CLI, "lifecycle", str(root), "--apply", *args],
        env=env,
        capture_output=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == -signal.SIGKILL, proc.stderr.decode()[-2000:]


def _run(root: Path, *args: str) -> str:
    result = CliRunner().invoke(app, ["lifecycle", str(root), "--apply", *args])
    assert result.exit_code == 0, result.output
    return result.output


def _validate(root: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(root)])
    assert result.exit_code == 0, result.output


@pytest.mark.parametrize("point", ["compact:written", "compact:committed"])
def test_killed_compaction_is_finished_or_rolled_back(tmp_path: Path, point: str) -> None:
    root = make_output(tmp_path / "out", ledgers=4)
    before = {t: rows_sql(live_parquet(root, t), t) for t in TABLES}
    now = iso(days_after(1))
    _killed_run(root, point, "--now", now)
    assert Journal(root).open_intents()  # the intent is on disk
    out = _run(root, "--now", now)
    want = "committed" if point == "compact:committed" else "rolled_back"
    assert f": {want}" in out
    assert not Journal(root).open_intents()
    for table in TABLES:
        assert rows_sql(live_parquet(root, table), table).equals(before[table])  # every row exactly once
        assert len(live_parquet(root, table)) == 1  # compacted by the interrupted or the next run
    assert not list(root.rglob("*.pending"))
    _validate(root)


def test_a_sink_restarted_after_a_killed_compaction_recovers_then_the_journal_rolls_back(
    tmp_path: Path,
) -> None:
    root = make_output(tmp_path / "out", ledgers=3)
    before = rows_sql(live_parquet(root, "operations"), "operations")
    _killed_run(root, "compact:written", "--now", iso(days_after(1)))
    assert list(root.rglob("*.pending"))
    DatasetSink(root, schemas(), SinkSettings(partition_by=("date",))).close()  # sink recovery
    assert not list(root.rglob("*.pending"))
    _run(root, "--now", iso(days_after(1)))
    assert rows_sql(live_parquet(root, "operations"), "operations").equals(before)
    _validate(root)


def _placement(root: Path, archive: Path, originals: dict[str, FileManifest]) -> Counter[str]:
    """How many times each original text file exists: live (sha checked) plus archived (decompressed)."""
    seen: Counter[str] = Counter()
    for path, _m in live_files(read_commits(root)).items():
        if path in originals:
            seen[path] += 1
    for item in ArchiveStore(str(archive)).files().values():
        data = text_of(archive / item.archived_path)
        assert len(data) == originals[item.manifest.path].bytes
        seen[item.manifest.path] += 1
    return seen


@pytest.mark.parametrize("point", ["archive:copied", "archive:committed"])
def test_killed_archival_leaves_each_file_live_or_archived_exactly_once(tmp_path: Path, point: str) -> None:
    root = make_output(tmp_path / "out", ledgers=3, formats=("parquet", "jsonl"))
    archive = tmp_path / "archive"
    originals = {p: m for p, m in live_files(read_commits(root)).items() if m.format == "jsonl"}
    args = ("--archive", str(archive), "--now", iso(days_after(8)))
    _killed_run(root, point, *args)
    out = _run(root, *args)
    assert "resumed archive-" in out
    placement = _placement(root, archive, originals)
    assert set(placement) == set(originals) and set(placement.values()) == {1}
    assert all(m.format != "jsonl" for m in live_files(read_commits(root)).values())  # all archived now
    assert not list(archive.rglob("*.tmp"))
    _validate(root)


def test_killed_purge_is_finished(tmp_path: Path) -> None:
    root = make_output(tmp_path / "out", ledgers=2, formats=("parquet", "csv"))
    archive = tmp_path / "archive"
    _run(root, "--archive", str(archive), "--now", iso(days_after(8)))
    assert len(ArchiveStore(str(archive)).files()) == 8
    _killed_run(root, "purge:recorded", "--archive", str(archive), "--now", iso(days_after(15)))
    listed = ArchiveStore(str(archive)).files()
    assert len(listed) == 6  # the first table's purge is recorded in the catalog ...
    assert len(list(archive.rglob("*.csv.zst"))) == 8  # ... but its files are still there
    out = _run(root, "--archive", str(archive), "--now", iso(days_after(15)))
    assert "resumed purge-" in out and ": committed" in out
    assert not list(archive.rglob("*.csv.zst")) and ArchiveStore(str(archive)).files() == {}
    _validate(root)
