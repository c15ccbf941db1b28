"""Delta tables at ``DIR/delta/<table>/`` (written with ``deltalake`` directly, the delta sink's layout)."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pytest

from tests.unit.lifecycle.sample import days_after, lifecycle, make_output
from tests.unit.sink.realdata import ledger_tables

deltalake = pytest.importorskip("deltalake")


def _delta_output(tmp_path: Path, ledgers: int = 5) -> tuple[Path, Path]:
    root = make_output(tmp_path / "out", ledgers=2)
    folder = root / "delta" / "token_transfers"
    for _, per in ledger_tables()[:ledgers]:  # one append per ledger: many small files
        deltalake.write_deltalake(
            str(folder), per["token_transfers"], mode="append", partition_by=["event_type"]
        )
    return root, folder


def _rows(folder: Path) -> pa.Table:
    dataset = deltalake.DeltaTable(str(folder)).to_pyarrow_dataset()
    con = duckdb.connect()
    con.register("t", dataset)
    return con.sql("SELECT * FROM t ORDER BY ledger_sequence, event_index").to_arrow_table()


def test_delta_tables_are_compacted_with_optimize(tmp_path: Path) -> None:
    root, folder = _delta_output(tmp_path)
    before = _rows(folder)
    files = len(deltalake.DeltaTable(str(folder)).file_uris())
    version = deltalake.DeltaTable(str(folder)).version()
    _plan, report = lifecycle(root, days_after(1)).apply()
    assert [a.table for a in report.done if a.kind == "delta_compact"] == ["token_transfers"]
    table = deltalake.DeltaTable(str(folder))
    assert len(table.file_uris()) < files and table.version() == version + 1
    assert _rows(folder).equals(before)  # every row exactly once


def test_delta_retention_deletes_old_rows_and_vacuums(tmp_path: Path) -> None:
    root, folder = _delta_output(tmp_path, ledgers=3)
    assert not [a for a in lifecycle(root, days_after(179)).plan().actions if a.kind == "delta_delete"]
    _, report = lifecycle(root, days_after(181), compaction=False, grace_s=0).apply()
    assert [a.kind for a in report.done if a.kind.startswith("delta")] == ["delta_delete"]
    table = deltalake.DeltaTable(str(folder))
    assert table.to_pyarrow_table().num_rows == 0
    assert not list(folder.rglob("*.parquet"))  # vacuumed: no data file is left on disk


@pytest.mark.integration
def test_a_killed_delta_compaction_is_journaled_and_resolved_from_the_delta_log(tmp_path: Path) -> None:
    from stellar_arrow.lifecycle.clock import iso
    from stellar_arrow.lifecycle.journal import Journal
    from tests.unit.lifecycle.test_crash import _killed_run, _run

    root, folder = _delta_output(tmp_path, ledgers=3)
    before = _rows(folder)
    version = deltalake.DeltaTable(str(folder)).version()
    _killed_run(root, "delta:committed", "--now", iso(days_after(1)))
    (intent,) = [i for i in Journal(root).open_intents() if i.kind == "delta_compact"]
    assert intent.detail["version"] == version
    out = _run(root, "--now", iso(days_after(1)))
    assert f"resumed {intent.id}: committed" in out  # the Delta log shows the optimize commit
    assert deltalake.DeltaTable(str(folder)).version() == version + 1
    assert _rows(folder).equals(before)
