"""Hostile directories and archives: a clear typed error, and nothing changed or lost."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import SinkSettings
from stellar_arrow.errors import ConfigError, LifecycleError
from stellar_arrow.lifecycle import open_directory
from stellar_arrow.sink import DatasetSink, read_commits, validate_dir
from stellar_arrow.sink.manifest import live_files
from tests.unit.lifecycle.sample import days_after, lifecycle, make_output, tree_digest
from tests.unit.sink.realdata import schemas


@pytest.fixture
def output(tmp_path: Path) -> Path:
    return make_output(tmp_path / "out", ledgers=3)


def test_a_folder_that_is_not_an_output_dir_is_refused(tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("hello")
    with pytest.raises(ConfigError, match="not an output directory"):
        lifecycle(tmp_path, days_after(1)).plan()
    result = CliRunner().invoke(app, ["lifecycle", str(tmp_path), "--apply"])
    assert result.exit_code == 2 and "ConfigError" in result.output
    missing = CliRunner().invoke(app, ["lifecycle", str(tmp_path / "nope")])
    assert missing.exit_code == 2
    assert (tmp_path / "notes.txt").read_text() == "hello"


def test_a_symlink_pointing_outside_is_refused(output: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    manifest = next(m for m in live_files(read_commits(output)).values() if m.table == "ledgers")
    victim = output / manifest.path
    target = outside / "precious.parquet"
    victim.rename(target)
    victim.symlink_to(target)
    digest = tree_digest(output, outside)
    with pytest.raises(LifecycleError, match="points outside") as err:
        lifecycle(output, days_after(400)).apply()
    assert err.value.path == manifest.path
    assert tree_digest(output, outside) == digest and target.exists()


def test_a_manifest_naming_a_missing_file_stops_apply_before_any_change(output: Path, tmp_path: Path) -> None:
    manifest = next(m for m in live_files(read_commits(output)).values() if m.table == "operations")
    (output / manifest.path).unlink()
    digest = tree_digest(output)
    plan = lifecycle(output, days_after(1)).plan()
    assert any(manifest.path in p and "missing" in p for p in plan.problems)
    with pytest.raises(LifecycleError, match="missing") as err:
        lifecycle(output, days_after(400), archive_location=str(tmp_path / "a")).apply()
    assert err.value.path == manifest.path
    assert tree_digest(output) == digest


def test_an_archive_that_is_not_writable_is_refused_before_anything_moves(
    output: Path, tmp_path: Path
) -> None:
    blocked = tmp_path / "blocked"
    blocked.write_text("a file, not a folder")
    digest = tree_digest(output)
    with pytest.raises(LifecycleError, match="not writable"):
        lifecycle(output, days_after(400), archive_location=str(blocked / "archive")).apply()
    assert tree_digest(output) == digest
    if os.geteuid() != 0:  # root ignores permissions
        readonly = tmp_path / "ro"
        readonly.mkdir(mode=0o500)
        with pytest.raises(LifecycleError, match="not writable"):
            lifecycle(output, days_after(400), archive_location=str(readonly)).apply()
    with pytest.raises(LifecycleError, match="inside the output directory"):
        lifecycle(output, days_after(400), archive_location=str(output / "arch")).apply()
    assert tree_digest(output) == digest
    result = CliRunner().invoke(
        app,
        ["lifecycle", str(output), "--apply", "--archive", str(blocked / "x"), "--now", "2027-01-01T00:00Z"],
    )
    assert result.exit_code == 1 and "LifecycleError" in result.output
    assert validate_dir(output).ok


def test_a_replace_commit_removing_a_path_outside_is_not_followed(output: Path) -> None:
    """A tampered commit record naming ../ paths: the sweep refuses to delete outside the directory."""
    from stellar_arrow.sink.manifest import CommitRecord, write_commit

    last = list(read_commits(output))[-1]
    bait = output.parent / "bait.txt"
    bait.write_text("keep me")
    hostile = CommitRecord(last.commit + 1, last.checkpoint, None, None, (), removed=("../bait.txt",))
    write_commit(output, hostile)
    with pytest.raises(LifecycleError, match="not a relative path inside"):
        lifecycle(output, days_after(1)).apply()
    assert bait.read_text() == "keep me"


@pytest.mark.integration
def test_apply_is_refused_while_a_sink_in_another_process_writes(output: Path) -> None:
    code = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from stellar_arrow.sink.writer_lock import WriterLock\n"
        "WriterLock(Path(sys.argv[1])).acquire(holder='test sink')\n"
        "print('locked', flush=True)\n"
        "time.sleep(30)\n"
    )
    holder = subprocess.Popen([sys.executable, "-c", code, str(output)], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        with pytest.raises(LifecycleError, match="another process"), open_directory(output):
            pass
        result = CliRunner().invoke(app, ["lifecycle", str(output), "--apply"])
        assert result.exit_code == 1 and "another process" in result.output
    finally:
        holder.kill()
        holder.wait(timeout=10)
    with open_directory(output):  # the kernel dropped the killed holder's lock
        pass


def test_a_sink_in_this_process_and_an_exclusive_lifecycle_exclude_each_other(output: Path) -> None:
    sink = DatasetSink(output, schemas(), SinkSettings(partition_by=("date",)))
    try:
        with pytest.raises(LifecycleError), open_directory(output):
            pass
    finally:
        sink.close()
    with open_directory(output):
        pass


def test_an_export_output_is_refused(tmp_path: Path) -> None:
    """``export`` writes ``_manifests/chunk-*.json``: not a sink output, no lock file is made in it."""
    from stellar_arrow.config import load_settings
    from stellar_arrow.export.job import run_export
    from tests.conftest import DATA

    out = tmp_path / "export"
    lake = str(DATA / "lakes" / "pubnet-p26")
    settings = load_settings(
        source={"datalake_uri": lake, "start_ledger": 63092982, "end_ledger": 63092983},
        export={"output_dir": str(out), "tables": ("ledgers",)},
    )
    run_export(settings)
    before = tree_digest(out)
    with pytest.raises(ConfigError, match="export"):
        lifecycle(out, days_after(400)).plan()
    result = CliRunner().invoke(app, ["lifecycle", str(out), "--apply"])
    assert result.exit_code == 2 and "export" in result.output
    assert tree_digest(out) == before


def test_validate_reports_a_replace_commit_removing_a_file_that_is_not_live(output: Path) -> None:
    from stellar_arrow.sink.manifest import CommitRecord, write_commit

    last = list(read_commits(output))[-1]
    write_commit(
        output, CommitRecord(last.commit + 1, last.checkpoint, None, None, (), removed=("ledgers/x",))
    )
    report = validate_dir(output)
    assert [(p.path, "not live" in p.problem) for p in report.problems] == [("ledgers/x", True)]
