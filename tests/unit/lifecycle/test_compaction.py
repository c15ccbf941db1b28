"""Compaction on real sink output: N small files -> 1 through one replace commit; every row exactly once."""

from __future__ import annotations

from pathlib import Path

import pyarrow.flight as fl
import pytest

from stellar_arrow.api import TransferStore
from stellar_arrow.api.outputs import open_output_dir
from stellar_arrow.config import LifecycleSettings, SinkSettings
from stellar_arrow.flight.sink_service import SinkService
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.lifecycle import Lifecycle, fixed_clock
from stellar_arrow.lifecycle.catalog import open_catalog
from stellar_arrow.sink import DatasetSink, read_commits, validate_dir
from tests.unit.lifecycle.sample import (
    TABLES,
    days_after,
    lifecycle,
    live_parquet,
    make_output,
    rows_sql,
    tree_digest,
)
from tests.unit.sink.realdata import ledger_tables, schemas


@pytest.fixture
def output(tmp_path: Path) -> Path:
    return make_output(tmp_path / "out", ledgers=6)


def test_compaction_merges_small_files_and_keeps_every_row_once(output: Path) -> None:
    before = {t: rows_sql(live_parquet(output, t), t) for t in TABLES}
    counts = {t: len(live_parquet(output, t)) for t in TABLES}
    assert all(n == 6 for n in counts.values())  # one file per ledger and table
    life = lifecycle(output, days_after(1))
    _plan, report = life.apply()
    assert sorted(a.table for a in report.done if a.kind == "compact") == sorted(TABLES)
    for table in TABLES:
        files = live_parquet(output, table)
        assert len(files) == 1
        assert rows_sql(files, table).equals(before[table])  # same rows, each once (DuckDB, total order)
    last = list(read_commits(output))[-1]
    assert last.action is not None and last.action.startswith("compact-") and len(last.removed) == 6
    assert validate_dir(output).ok
    # the old files stay (a reader's older view may still read them) until the grace period is over
    assert len(open_catalog(output).retired) == 24
    assert not any(a.kind == "sweep" for a in lifecycle(output, days_after(1)).plan().actions)
    later = lifecycle(output, days_after(1.1))
    swept = [a for a in later.apply()[1].done if a.kind == "sweep"]
    assert len(swept[0].files) == 24 and not open_catalog(output).retired
    assert all(not (output / p).exists() for p in swept[0].files)
    assert validate_dir(output).ok


def test_target_size_bounds_the_merged_files(output: Path) -> None:
    sizes = [p.stat().st_size for p in live_parquet(output, "operations")]
    target = sum(sorted(sizes)[:3])  # about three files' worth
    life = lifecycle(output, days_after(1), target_file_bytes=target)
    plan = life.plan()
    groups = [a for a in plan.actions if a.kind == "compact" and a.table == "operations"]
    assert groups and all(a.bytes <= target and len(a.files) >= 2 for a in groups)
    before = rows_sql(live_parquet(output, "operations"), "operations")
    life.apply()
    assert rows_sql(live_parquet(output, "operations"), "operations").equals(before)
    assert len(live_parquet(output, "operations")) < 6


def test_dry_run_changes_nothing(output: Path) -> None:
    digest = tree_digest(output)
    plan = lifecycle(output, days_after(400), archive_location=str(output.parent / "arch")).plan()
    assert {a.kind for a in plan.actions} >= {"archive"}
    assert tree_digest(output) == digest and not (output.parent / "arch").exists()


def test_readers_serve_the_same_rows_after_compaction(output: Path) -> None:
    """The REST API's store over the directory and the sink's Flight do_get answer the same rows."""
    reader = open_output_dir(output)
    store = TransferStore(reader)
    count = "SELECT count(*) AS n, sum(amount_raw::HUGEINT)::VARCHAR AS s FROM {src}"
    before_api = store.query("token_transfers", count).to_pylist()
    view_before = reader.view("token_transfers")
    lifecycle(output, days_after(1)).apply()
    assert store.query("token_transfers", count).to_pylist() == before_api
    assert len(reader.view("token_transfers").files) == 1
    # the view taken before the commit still reads: its files are kept during the grace period
    assert rows_sql(list(view_before.files), "token_transfers").num_rows == before_api[0]["n"]

    first, last = ledger_tables()[0][0], ledger_tables()[5][0]
    sink = DatasetSink(output, schemas(), SinkSettings(partition_by=("date",)))
    service = SinkService(sink, (), start_ledger=first, end_ledger=last)
    try:
        request = StreamRequest("token_transfers", start_ledger=first, end_ledger=last)
        got = fl.connect(service.uri).do_get(fl.Ticket(encode_request(request))).read_all()
        assert got.num_rows == before_api[0]["n"]
        assert rows_sql(live_parquet(output, "token_transfers"), "token_transfers").num_rows == got.num_rows
    finally:
        service.shutdown()
        sink.close()


def test_compaction_inside_a_running_sink_switches_its_views_at_once(tmp_path: Path) -> None:
    root = tmp_path / "live"
    sink = DatasetSink(root, schemas(), SinkSettings(partition_by=("date",), batch_rows=1))
    try:
        for seq, per in ledger_tables()[:5]:
            for table, rows in per.items():
                sink.write_batch(table, rows)
            sink.advance(seq)
        for table, rows in ledger_tables()[5][1].items():  # one more ledger, buffered (not committed)
            sink.write_batch(table, rows)
        reader = sink.reader()
        before = reader.view("token_transfers")
        life = Lifecycle(root, LifecycleSettings(), clock=fixed_clock(days_after(1)), target=sink)
        life.apply()
        after = reader.view("token_transfers")
        assert len(before.files) == 5 and len(after.files) == 1
        assert after.live.num_rows == before.live.num_rows > 0  # uncommitted rows are untouched
        assert rows_sql(list(after.files), "t").equals(rows_sql(list(before.files), "t"))
        sink.advance(ledger_tables()[5][0])  # the sink keeps committing after the replace commit
        assert len(reader.view("token_transfers").files) == 2
    finally:
        sink.close()
    assert validate_dir(root).ok
    reopened = DatasetSink(root, schemas(), SinkSettings(partition_by=("date",)))
    try:
        assert len(reopened.reader().view("token_transfers").files) == 2
    finally:
        reopened.close()


def test_a_refused_commit_rolls_the_action_back_at_once(tmp_path: Path) -> None:
    from stellar_arrow.errors import SinkError
    from stellar_arrow.lifecycle.journal import Journal

    root = make_output(tmp_path / "out", ledgers=3)
    sink = DatasetSink(root, schemas(), SinkSettings(partition_by=("date",)))
    sink.close()  # a sink that stopped: it refuses the replace commit
    life = Lifecycle(root, LifecycleSettings(), clock=fixed_clock(days_after(1)), target=sink)
    with pytest.raises(SinkError, match="closed"):
        life.apply()
    assert not list(root.rglob("*.pending")) and not Journal(root).open_intents()
    assert [o["outcome"] for o in Journal(root).outcomes()] == ["rolled_back"]
    assert validate_dir(root).ok and len(live_parquet(root, "ledgers")) == 3


def test_the_rest_api_serves_the_same_rows_before_and_after(output: Path) -> None:
    import httpx

    from stellar_arrow.api import ApiServer, create_app
    from stellar_arrow.config import ApiSettings

    server = ApiServer(create_app(ApiSettings(api_port=0), TransferStore(open_output_dir(output))))
    server.start()
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as http:

            def every_event() -> list[dict[str, object]]:
                records: list[dict[str, object]] = []
                url: str | None = "/api/v1/transfers?limit=200&order=asc"
                while url:
                    body = http.get(url).raise_for_status().json()
                    page = body["_embedded"]["records"]
                    records += page
                    url = body["_links"]["next"]["href"] if page else None
                return records

            before = every_event()
            summary = http.get("/api/v1/stats/summary").json()
            lifecycle(output, days_after(1)).apply()
            after = every_event()
            assert len(after) == len(before) > 0 and after == before
            assert http.get("/api/v1/stats/summary").json() == summary
    finally:
        server.stop()


def test_the_cli_dry_run_prints_files_and_bytes_and_changes_nothing(output: Path) -> None:
    from typer.testing import CliRunner

    from stellar_arrow.cli import app

    digest = tree_digest(output)
    result = CliRunner().invoke(app, ["lifecycle", str(output), "--dry-run", "--now", "2026-06-20T00:00:00Z"])
    assert result.exit_code == 0, result.output
    assert result.output.count("plan compact") == 4
    first = live_parquet(output, "ledgers")[0]
    assert f"{first.relative_to(output).as_posix()}  {first.stat().st_size} bytes" in result.output
    assert tree_digest(output) == digest
