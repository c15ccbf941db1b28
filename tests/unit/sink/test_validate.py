"""``validate_dir`` and ``stellar-arrow validate`` over real sink output, intact and damaged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import SinkSettings
from stellar_arrow.errors import ConfigError
from stellar_arrow.sink import DatasetSink, read_commits, validate_dir
from stellar_arrow.sink.manifest import MANIFEST_DIR
from tests.unit.sink.realdata import ledger_tables, schemas


@pytest.fixture
def output(tmp_path: Path) -> Path:
    options = SinkSettings(output_formats=("parquet", "jsonl", "csv"), partition_by=("date", "event_type"))
    with DatasetSink(tmp_path, schemas(), options) as sink:
        for seq, per in ledger_tables()[:3]:
            for table, rows in per.items():
                sink.write_batch(table, rows)
            sink.advance(seq)
    return tmp_path


def test_intact_output_validates(output: Path) -> None:
    report = validate_dir(output)
    assert report.ok, report.problems
    expected_rows = sum(per[t].num_rows for _, per in ledger_tables()[:3] for t in per)
    assert report.rows == 3 * expected_rows  # parquet + jsonl + csv
    assert report.last_checkpoint == ledger_tables()[2][0]
    result = CliRunner().invoke(app, ["validate", str(output)])
    assert result.exit_code == 0, result.output
    assert result.output.startswith("ok: ")


def test_truncated_parquet_file_is_reported(output: Path) -> None:
    record = next(read_commits(output))
    victim = next(m for m in record.files if m.format == "parquet" and m.table == "token_transfers")
    path = output / victim.path
    path.write_bytes(path.read_bytes()[: victim.bytes // 2])
    report = validate_dir(output)
    assert [p.path for p in report.problems] == [victim.path]
    assert "truncated" in report.problems[0].problem
    result = CliRunner().invoke(app, ["validate", str(output)])
    assert result.exit_code == 1
    assert f"BAD {victim.path}" in result.output and "1 problem(s)" in result.output


def test_same_size_corruption_and_stray_files_are_reported(output: Path) -> None:
    record = next(read_commits(output))
    victim = next(m for m in record.files if m.format == "jsonl")
    path = output / victim.path
    data = bytearray(path.read_bytes())
    data[10] ^= 0x01
    path.write_bytes(bytes(data))
    stray = output / "token_transfers" / "part-stray.parquet"
    stray.write_bytes(b"PAR1")
    problems = {p.path: p.problem for p in validate_dir(output).problems}
    assert "sha256" in problems[victim.path]
    assert "not named by any commit" in problems["token_transfers/part-stray.parquet"]


def test_corrupt_manifest_and_missing_log(output: Path, tmp_path_factory: pytest.TempPathFactory) -> None:
    first = sorted((output / MANIFEST_DIR).glob("*.json"))[0]
    body = json.loads(first.read_text())
    del body["files"]
    first.write_text(json.dumps(body))
    report = validate_dir(output)
    assert not report.ok and "not a valid manifest" in report.problems[0].problem
    with pytest.raises(ConfigError, match="has no _manifests/ folder"):
        validate_dir(tmp_path_factory.mktemp("empty"))
    result = CliRunner().invoke(app, ["validate", str(tmp_path_factory.mktemp("empty2"))])
    assert result.exit_code == 2
