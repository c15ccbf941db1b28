"""MemorySink keeps the Sink contract (commits, replays dropped, snapshot, restart) and serves the API."""

from __future__ import annotations

import pyarrow as pa
import pytest

from stellar_arrow.api import TransferStore
from stellar_arrow.api.filters import Paging
from stellar_arrow.config import SinkSettings
from stellar_arrow.errors import ConfigError, SinkError
from stellar_arrow.query import TransferFilter
from stellar_arrow.sink import Checkpoint, DatasetSink, ReadableSink, Sink, TableReader
from stellar_arrow.testing import MemorySink
from tests.unit.sink.realdata import FIRST, ledger_tables, schemas, whole


def _feed(sink: Sink, indexes: range) -> None:
    for seq, per in ledger_tables()[indexes.start : indexes.stop]:
        for table, rows in per.items():
            sink.write_batch(table, rows)
        sink.advance(seq)


def test_commits_collect_whole_ledgers_in_order() -> None:
    sink = MemorySink(schemas(), commit_every=3)
    assert isinstance(sink, Sink) and isinstance(sink, ReadableSink)
    assert isinstance(sink.reader(), TableReader)
    assert sink.snapshot() is None
    _feed(sink, range(7))
    assert [c.checkpoint.ledger_sequence for c in sink.commits] == [FIRST + 2, FIRST + 5]
    assert sink.snapshot() == FIRST + 6
    assert sink.committed("token_transfers").equals(whole("token_transfers", FIRST, FIRST + 5))
    assert sink.stats().rows_buffered == sum(t.num_rows for t in ledger_tables()[6][1].values())
    assert sink.commits[1].first_ledger == FIRST + 3 and sink.commits[1].last_ledger == FIRST + 5
    sink.close()
    assert sink.snapshot() == FIRST + 7
    for table in schemas():
        assert sink.committed(table).equals(whole(table, FIRST, FIRST + 6)), table
    with pytest.raises(SinkError, match="closed"):
        _feed(sink, range(7, 8))


def test_restart_loses_the_buffer_and_replays_without_duplicates() -> None:
    sink = MemorySink(schemas(), commit_every=4)
    _feed(sink, range(6))  # commits ledgers 0-3; 4-5 are buffered
    restarted = sink.restart()
    assert restarted.snapshot() == FIRST + 4 and sink.closed
    _feed(restarted, range(10))  # the upstream replays from an earlier ledger
    restarted.close()
    assert restarted.committed("ledgers").equals(whole("ledgers", FIRST, FIRST + 9))
    dropped = sum(t.num_rows for _, per in ledger_tables()[:4] for t in per.values())
    assert restarted.stats().rows_dropped_replayed == dropped


def test_resume_from_drops_earlier_rows_and_bad_input_is_refused() -> None:
    sink = MemorySink(schemas(), resume_from=FIRST + 5)
    _feed(sink, range(8))
    assert sink.committed("token_transfers").equals(whole("token_transfers", FIRST + 5, FIRST + 7))
    with pytest.raises(SinkError, match="table 'nope' is not configured"):
        sink.write_batch("nope", ledger_tables()[0][1]["ledgers"])
    with pytest.raises(SinkError, match="do not match its schema"):
        sink.write_batch("ledgers", ledger_tables()[0][1]["transactions"])
    with pytest.raises(SinkError, match="not configured"):
        sink.committed("nope")
    with pytest.raises(ConfigError, match="commit_every"):
        MemorySink(schemas(), commit_every=0)
    with pytest.raises(ConfigError, match="resume_from"):
        MemorySink(schemas(), resume_from=0)


def test_the_api_store_answers_the_same_over_memory_and_files(tmp_path) -> None:  # type: ignore[no-untyped-def]
    memory = MemorySink(schemas(), commit_every=2)
    settings = SinkSettings(partition_by=("event_type",), flush_interval_s=3600)
    files = DatasetSink(tmp_path, schemas(), settings)
    seen: list[int] = []
    unsubscribe = memory.reader().subscribe(lambda table, rows: seen.append(rows.num_rows))
    for sink in (memory, files):
        _feed(sink, range(5))
    files.commit(Checkpoint(FIRST + 3))  # part committed, part buffered: the views must still agree
    unsubscribe()
    non_empty = [t for _, per in ledger_tables()[:5] for t in per.values() if t.num_rows]
    assert seen == [t.num_rows for t in non_empty]
    page = Paging(limit=200)
    by_memory = TransferStore(memory.reader()).transfers(TransferFilter(event_types=("transfer",)), page)
    by_files = TransferStore(files.reader()).transfers(TransferFilter(event_types=("transfer",)), page)
    assert by_memory.num_rows > 0 and by_memory.equals(by_files)
    assert TransferStore(memory.reader()).summary() == TransferStore(files.reader()).summary()
    view = memory.reader().view("ledgers")
    assert view.files == () and view.live.num_rows == 5 and isinstance(view.live, pa.Table)
