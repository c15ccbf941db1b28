"""``stellar-arrow api DIR``: the folders served (sink and export outputs) and those refused, with why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stellar_arrow.api import CommitLogReader, ExportReader, TransferStore, open_output_dir
from stellar_arrow.api.filters import Paging
from stellar_arrow.cli import app
from stellar_arrow.config import SinkSettings
from stellar_arrow.errors import ConfigError
from stellar_arrow.query import TransferFilter
from stellar_arrow.sink import DatasetSink
from tests.conftest import DATA
from tests.unit.sink.realdata import FIRST, ledger_tables, schemas, whole

LAKE = DATA / "lakes" / "pubnet-p26"


def _export(out: Path, *extra: str, start: int = FIRST, end: int = FIRST + 5) -> None:
    args = ["export", "--no-progress", "--source", str(LAKE), "--start", str(start), "--end", str(end)]
    args += ["--out", str(out), "--chunk-size", "3", *extra]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("export") / "out"
    _export(out, "--tables", "ledgers,token_transfers")
    return out


def test_an_export_output_is_served_and_grows(exported: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    reader = open_output_dir(out)
    assert isinstance(reader, ExportReader) and sorted(reader.tables()) == ["ledgers", "token_transfers"]
    store = TransferStore(reader)
    assert store.summary()["events"] == whole("token_transfers", FIRST, FIRST + 5).num_rows
    page = store.transfers(TransferFilter(), Paging(limit=200))
    assert page.equals(whole("token_transfers", FIRST, FIRST + 5).slice(0, 200))
    ledger = store.lookup("ledgers", "sequence", FIRST + 4)
    assert ledger["ledger_hash"].to_pylist() == ledger_tables()[4][1]["ledgers"]["ledger_hash"].to_pylist()
    _export(out, "--tables", "ledgers,token_transfers", start=FIRST + 6, end=FIRST + 8)  # the export goes on
    assert store.summary()["last_ledger"] == FIRST + 8
    assert reader.view("token_transfers").last_ledger == FIRST + 8


def test_overlapping_export_chunks_are_refused(exported: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    shutil.copytree(exported, out)
    # export refuses to add an overlapping layout now; an output of an older version can still hold one
    shutil.copy(
        out / "ledgers" / f"ledgers-{FIRST}-{FIRST + 2}.parquet",
        out / "ledgers" / f"ledgers-{FIRST + 1}-{FIRST + 2}.parquet",
    )
    clash = r"ledgers-63092982-63092984\.parquet and ledgers-63092983-63092984\.parquet overlap"
    with pytest.raises(ConfigError, match=clash):
        open_output_dir(out)


def test_exports_the_api_cannot_answer_from_are_refused_with_the_reason(tmp_path: Path) -> None:
    text = tmp_path / "jsonl"
    _export(text, "--tables", "token_transfers", "--format", "jsonl", end=FIRST)
    with pytest.raises(ConfigError, match=r"export output in jsonl format.*--format parquet"):
        open_output_dir(text)
    no_events = tmp_path / "ledgers-only"
    _export(no_events, "--tables", "ledgers", end=FIRST)
    with pytest.raises(ConfigError, match="without token_transfers \\(tables: ledgers\\)"):
        open_output_dir(no_events)


def test_missing_files_and_foreign_folders_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        open_output_dir(tmp_path / "nope")
    a_file = tmp_path / "notes.txt"
    a_file.write_text("x")
    with pytest.raises(ConfigError, match="is not a directory"):
        open_output_dir(a_file)
    with pytest.raises(ConfigError, match=r"neither a sink output .* it holds notes\.txt"):
        open_output_dir(tmp_path)


def test_sink_outputs_and_empty_folders_are_served(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    (empty / "_run").mkdir(parents=True)  # `run` writes its state there before the first commit
    reader = open_output_dir(empty)
    assert isinstance(reader, CommitLogReader) and TransferStore(reader).summary()["events"] == 0
    out = tmp_path / "sink"
    with DatasetSink(out, schemas(), SinkSettings(partition_by=("date",))) as sink:
        for seq, per in ledger_tables()[:2]:
            for table, rows in per.items():
                sink.write_batch(table, rows)
            sink.advance(seq)
    reader = open_output_dir(out)
    assert isinstance(reader, CommitLogReader) and reader.stats() is None
    assert TransferStore(reader).summary()["events"] == whole("token_transfers", FIRST, FIRST + 1).num_rows


def test_the_api_command_refuses_with_one_line_and_exit_2(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["api", str(tmp_path / "missing"), "--port", "0"])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ConfigError:") and "does not exist" in lines[0]
