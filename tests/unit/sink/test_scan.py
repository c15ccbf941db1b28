"""Bounded reads of committed files: ledger windows from footers, scans with the filter pushed down."""

from __future__ import annotations

import itertools
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from stellar_arrow.config import SinkSettings
from stellar_arrow.query import TransferFilter, filter_expression, filter_rows
from stellar_arrow.sink import Checkpoint, DatasetSink, TableView
from stellar_arrow.sink.scan import ledger_windows, scan_window
from tests.unit.sink.realdata import FIRST, LAST, ledger_tables, schemas, whole

ORDER = [("ledger_sequence", "ascending"), ("event_index", "ascending")]
COLUMN = "ledger_sequence"


@pytest.fixture(scope="module")
def committed(tmp_path_factory: pytest.TempPathFactory) -> TableView:
    """The 20 real ledgers, committed 3 at a time, partitioned by date, asset code and event type."""
    root = tmp_path_factory.mktemp("scan")
    options = SinkSettings(partition_by=("date", "event_type"), flush_interval_s=3600)
    with DatasetSink(root, {"token_transfers": schemas()["token_transfers"]}, options) as sink:
        for seq, per in ledger_tables():
            sink.write_batch("token_transfers", per["token_transfers"])
            sink.advance(seq)
            if (seq - FIRST) % 3 == 2:
                sink.commit(Checkpoint(seq))
        sink.commit(Checkpoint(LAST))
        return sink.reader().view("token_transfers")


def _read(view: TableView, windows: list, where: object, batch_rows: int = 500) -> list[pa.RecordBatch]:
    return [
        b
        for w in windows
        for b in scan_window(w, view.schema, COLUMN, where=where, batch_rows=batch_rows)  # type: ignore[arg-type]
    ]


def test_windows_are_ascending_disjoint_and_cover_every_row(committed: TableView) -> None:
    windows = ledger_windows(committed.files, COLUMN, max_rows=1000)
    assert windows[0].first == FIRST and windows[-1].last == LAST
    for before, after in itertools.pairwise(windows):
        assert before.last < after.first  # ascending, disjoint
    assert all(w.rows <= 1000 or w.first == w.last for w in windows)
    batches = _read(committed, windows, None)
    assert all(b.num_rows <= 500 for b in batches)
    got = pa.Table.from_batches(batches, schema=committed.schema).sort_by(ORDER)
    assert got.equals(whole("token_transfers").sort_by(ORDER))


def test_a_window_holds_whole_commits_or_ledger_slices(committed: TableView) -> None:
    big = ledger_windows(committed.files, COLUMN, max_rows=10**9)
    assert [(w.first, w.last) for w in big] == [
        (first, min(first + 2, LAST)) for first in range(FIRST, LAST + 1, 3)
    ]  # one window per commit (its partitions overlap)
    per_ledger = ledger_windows(committed.files, COLUMN, max_rows=1)
    assert [(w.first, w.last) for w in per_ledger] == [(s, s) for s in range(FIRST, LAST + 1)]


def test_range_bounds_skip_files_outside_it(committed: TableView) -> None:
    windows = ledger_windows(committed.files, COLUMN, max_rows=10**9, after=FIRST + 7, through=FIRST + 9)
    assert [(w.first, w.last) for w in windows] == [(FIRST + 8, FIRST + 8), (FIRST + 9, FIRST + 9)]
    opened = {p for w in windows for p in w.files}
    assert len(opened) < len(committed.files) / 3  # only the two commits that hold those ledgers
    got = pa.Table.from_batches(_read(committed, windows, None), schema=committed.schema)
    assert got.sort_by(ORDER).equals(whole("token_transfers", FIRST + 8, FIRST + 9).sort_by(ORDER))


@pytest.mark.parametrize(
    "rules",
    [
        TransferFilter(event_types=("transfer", "fee"), assets=("native",)),
        TransferFilter(min_amount=10**9, max_amount=10**13),
        TransferFilter(from_ledger=FIRST + 5, to_ledger=FIRST + 6, event_types=("fee",)),
        TransferFilter(asset_codes=("USDC",)),
    ],
)
def test_pushed_down_filter_keeps_what_the_arrow_filter_keeps(
    committed: TableView, rules: TransferFilter
) -> None:
    where = filter_expression(rules, committed.schema)
    windows = ledger_windows(committed.files, COLUMN, max_rows=2000)
    got = pa.Table.from_batches(_read(committed, windows, where), schema=committed.schema).sort_by(ORDER)
    want = filter_rows(whole("token_transfers"), rules).sort_by(ORDER)
    assert want.num_rows > 0 and got.equals(want)


def test_accounts_match_either_side(committed: TableView) -> None:
    rows = whole("token_transfers")
    account = rows["to"].drop_null()[0].as_py()
    rules = TransferFilter(accounts=(account,))
    where = filter_expression(rules, committed.schema)
    got = pa.Table.from_batches(
        _read(committed, ledger_windows(committed.files, COLUMN, max_rows=5000), where),
        schema=committed.schema,
    )
    assert got.sort_by(ORDER).equals(filter_rows(rows, rules).sort_by(ORDER))


def test_empty_filter_is_no_expression(committed: TableView) -> None:
    assert filter_expression(TransferFilter(), committed.schema) is None


def test_files_without_rows_are_skipped(tmp_path: Path, committed: TableView) -> None:
    empty = tmp_path / "empty.parquet"
    pq.write_table(committed.schema.empty_table(), empty)
    windows = ledger_windows((empty, *committed.files[:3]), COLUMN, max_rows=10**9)
    assert empty not in {p for w in windows for p in w.files}
