"""TransferStore: cached and direct reads agree; views see only their own files; the cache is bounded."""

from __future__ import annotations

from pathlib import Path

import pytest

from stellar_arrow.api import CommitLogReader, TransferStore
from stellar_arrow.api.filters import Paging
from stellar_arrow.api.serve import directory_store
from stellar_arrow.config import SinkSettings
from stellar_arrow.query import TransferFilter, filter_from_query
from stellar_arrow.sink import Checkpoint, DatasetSink, LiveListener, TableView, Unsubscribe
from tests.unit.sink.realdata import FIRST, ledger_tables, schemas, whole


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> DatasetSink:
    root = tmp_path_factory.mktemp("store")
    options = SinkSettings(partition_by=("date", "event_type"), flush_interval_s=3600)
    sink = DatasetSink(root, schemas(), options)
    for index, (seq, per) in enumerate(ledger_tables()[:8]):
        for table, rows in per.items():
            sink.write_batch(table, rows)
        if index in (2, 5):
            sink.commit(Checkpoint(seq))
    return sink


FILTERS = [
    {},
    {"event_type": "transfer"},
    {"asset": "native", "min_amount": "10"},
    {"from_ledger": str(FIRST + 2), "to_ledger": str(FIRST + 6), "max_amount": "0.0001"},
]


@pytest.mark.parametrize("params", FILTERS)
def test_cached_and_direct_reads_agree(sink: DatasetSink, params: dict[str, str]) -> None:
    mirrored, direct = TransferStore(sink.reader()), TransferStore(sink.reader(), cache_bytes=0)
    f = filter_from_query(params)
    a = mirrored.transfers(f, Paging(limit=200))
    b = direct.transfers(f, Paging(limit=200))
    assert a.equals(b)
    everything = whole("token_transfers", FIRST, FIRST + 7)
    assert mirrored.transfers(TransferFilter(), Paging(limit=200)).equals(everything.slice(0, 200))
    desc = mirrored.transfers(TransferFilter(), Paging(limit=5, order="desc"))
    assert desc["event_index"].to_pylist() == everything["event_index"].to_pylist()[::-1][:5]


class _OlderView:
    """A source whose views lag behind: the cache must not leak rows of files the view does not name."""

    def __init__(self, sink: DatasetSink, files: int) -> None:
        self.sink, self.files = sink, files

    def tables(self) -> tuple[str, ...]:
        return tuple(self.sink.reader().tables())

    def view(self, table: str) -> TableView:
        view = self.sink.reader().view(table)
        empty = view.schema.empty_table()
        return TableView(table, view.schema, view.files[: self.files], empty, view.last_ledger)

    def subscribe(self, listener: LiveListener) -> Unsubscribe:
        return lambda: None

    def stats(self) -> None:
        return None


def test_a_view_sees_only_its_own_committed_files(sink: DatasetSink) -> None:
    full = TransferStore(sink.reader())
    full.summary()  # the cache now holds every committed file
    assert len(sink.reader().view("token_transfers").files) > 2
    older = TransferStore(_OlderView(sink, 2))
    older.files = full.files  # the same cache, a view naming only 2 files
    direct = TransferStore(_OlderView(sink, 2), cache_bytes=0)
    a = older.transfers(TransferFilter(), Paging(limit=200, order="desc"))
    b = direct.transfers(TransferFilter(), Paging(limit=200, order="desc"))
    assert a.equals(b) and a.num_rows > 0
    assert older.summary()["events"] == direct.summary()["events"] < full.summary()["events"]


def test_directory_store_serves_a_finished_output(sink: DatasetSink) -> None:
    store = directory_store(sink.root)
    assert isinstance(store.reader, CommitLogReader)
    committed_through = sink.checkpoint.ledger_sequence if sink.checkpoint else 0
    got = store.summary()
    want = whole("token_transfers", FIRST, committed_through)
    assert got["events"] == want.num_rows and got["last_ledger"] == committed_through
    ledger = store.lookup("ledgers", "sequence", FIRST)
    assert ledger["ledger_hash"].to_pylist() == ledger_tables()[0][1]["ledgers"]["ledger_hash"].to_pylist()


def test_volume_by_ledger_is_exact(sink: DatasetSink) -> None:
    store = TransferStore(sink.reader())
    table = store.volume(TransferFilter(event_types=("transfer",)), "ledger").to_pylist()
    rows = whole("token_transfers", FIRST, FIRST + 7).to_pylist()
    want: dict[tuple[int, str], int] = {}
    for r in rows:
        if r["event_type"] == "transfer":
            key = (r["ledger_sequence"], r["asset"] or r["contract_id"])
            want[key] = want.get(key, 0) + int(r["amount_raw"])
    assert {(b["ledger"], b["asset"]): int(b["volume_raw"]) for b in table} == want


def test_recent_ledgers(sink: DatasetSink) -> None:
    recent = TransferStore(sink.reader()).recent_ledgers(3)
    assert [r["ledger_sequence"] for r in recent] == [FIRST + 5, FIRST + 6, FIRST + 7]
    assert recent[-1]["transfers"] == ledger_tables()[7][1]["token_transfers"].num_rows


def test_store_over_a_tmp_directory_without_commits(tmp_path: Path) -> None:
    store = directory_store(tmp_path)
    assert store.summary()["events"] == 0


def test_the_file_cache_stays_within_its_byte_budget(sink: DatasetSink) -> None:
    view = sink.reader().view("token_transfers")
    everything = TransferStore(sink.reader())
    everything.summary()
    whole_bytes = everything.files.bytes
    assert whole_bytes > 0 and everything.files.files_read == 0
    budget = whole_bytes // 2
    small = TransferStore(sink.reader(), cache_bytes=budget)
    f = TransferFilter(event_types=("transfer", "fee"))
    want = TransferStore(sink.reader(), cache_bytes=0).transfers(f, Paging(limit=200, order="desc"))
    for _ in range(3):  # a prefix of the files is cached, the rest read from Parquet each time
        assert small.transfers(f, Paging(limit=200, order="desc")).equals(want)
        assert 0 < small.files.bytes <= budget
    assert small.files.files_read > 0 and small.files.files_cached > 0
    assert len(view.files) > 2


def test_the_cache_follows_commits_and_rewritten_file_lists(tmp_path: Path) -> None:
    sink = DatasetSink(tmp_path, schemas(), SinkSettings(partition_by=("date",), flush_interval_s=3600))
    store = TransferStore(sink.reader())
    for index, (seq, per) in enumerate(ledger_tables()[:4]):
        for table, rows in per.items():
            sink.write_batch(table, rows)
        sink.commit(Checkpoint(seq))
        assert store.summary()["events"] == whole("token_transfers", FIRST, seq).num_rows, index
    grown = store.files.bytes
    older = _OlderView(sink, 1)  # a list that is not an extension of the cached prefix: starts over
    store.reader = older
    assert store.summary()["events"] == TransferStore(older, cache_bytes=0).summary()["events"]
    assert store.files.bytes < grown


def test_an_empty_store_answers_start_up_questions_without_duckdb(tmp_path: Path) -> None:
    """A fresh run's API seeds its progress and windows from an empty store: no DuckDB connection for that."""
    from stellar_arrow.analytics import RollingWindows, seed_windows

    store = TransferStore(DatasetSink(tmp_path, schemas(), SinkSettings()).reader())
    assert not store.holds_rows("token_transfers")
    assert store.recent_ledgers(20) == []
    windows = RollingWindows()
    seed_windows(windows, store)
    assert store._db is None  # never connected
    assert store.summary()["events"] == 0  # a real question connects
    assert store._db is not None


def test_a_store_holds_rows_once_rows_are_live_or_committed(sink: DatasetSink) -> None:
    store = TransferStore(sink.reader())
    assert store.holds_rows("token_transfers")
    assert store.recent_ledgers(1)[0]["ledger_sequence"] == FIRST + 7


def test_a_closed_store_refuses_queries(sink: DatasetSink) -> None:
    import duckdb

    store = TransferStore(sink.reader())
    store.summary()
    store.close()
    with pytest.raises(duckdb.ConnectionException):
        store.summary()
    never_used = TransferStore(sink.reader())
    never_used.close()  # nothing to close
    with pytest.raises(duckdb.ConnectionException, match="closed"):
        never_used.summary()
