"""DatasetSink over real pubnet tables: commits, partitions, DuckDB read-back, recovery, exactly-once."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pydantic
import pytest

from stellar_arrow.config import SinkSettings
from stellar_arrow.errors import ConfigError, SinkError
from stellar_arrow.sink import (
    Checkpoint,
    DatasetSink,
    ParquetOptions,
    Sink,
    parse_partition_keys,
    read_commits,
    schema_fingerprint,
    validate_dir,
)
from stellar_arrow.sink.buffer import TableBuffer
from stellar_arrow.sink.commit import CommitWriter
from stellar_arrow.sink.manifest import PENDING_SUFFIX
from tests.unit.sink.realdata import TABLES, ledger_tables, schemas, whole

SORT_KEYS = {
    "ledgers": ["sequence"],
    "transactions": ["ledger_sequence", "transaction_index"],
    "operations": ["id"],
    "token_transfers": ["ledger_sequence", "event_index"],
}


def _feed(sink: DatasetSink, first: int | None = None, last: int | None = None) -> None:
    for seq, per in ledger_tables():
        if (first is not None and seq < first) or (last is not None and seq > last):
            continue
        for table, rows in per.items():
            sink.write_batch(table, rows)
        sink.advance(seq)


def _duckdb_table(root: Path, table: str, schema: pa.Schema) -> pa.Table:
    glob = f"{root}/{table}/**/*.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    got = con.sql(f"SELECT * FROM read_parquet('{glob}', hive_partitioning = false)").to_arrow_table()
    return got.select(schema.names).cast(schema).sort_by([(k, "ascending") for k in SORT_KEYS[table]])


def test_every_table_round_trips_through_duckdb(tmp_path: Path) -> None:
    keys = parse_partition_keys("date,hour,asset_code,event_type")
    options = SinkSettings(partition_by=keys, batch_rows=4000, flush_interval_s=3600)
    with DatasetSink(tmp_path, schemas(), options) as sink:
        _feed(sink)
        assert sink.stats().commits >= 3  # batch_rows forced intermediate commits
    for table in TABLES:
        expected = whole(table).sort_by([(k, "ascending") for k in SORT_KEYS[table]])
        got = _duckdb_table(tmp_path, table, expected.schema)
        assert got.num_rows == expected.num_rows > 0
        assert got.equals(expected), table
    # every table in its own folder; token transfers in hive folders by event time and columns
    assert sorted(p.name for p in tmp_path.iterdir()) == ["_manifests", *sorted(TABLES)]
    sample = next((tmp_path / "token_transfers").rglob("*.parquet")).relative_to(tmp_path / "token_transfers")
    assert [part.split("=")[0] for part in sample.parts[:-1]] == ["date", "hour", "asset_code", "event_type"]
    ledger_dirs = {
        p.relative_to(tmp_path / "ledgers").parts[0] for p in (tmp_path / "ledgers").rglob("*.parquet")
    }
    assert ledger_dirs == {"date=2026-06-19"}


def test_hive_partition_values_match_the_rows(tmp_path: Path) -> None:
    options = SinkSettings(partition_by=("date", "hour", "asset_code"), flush_interval_s=3600)
    with DatasetSink(tmp_path, {"token_transfers": schemas()["token_transfers"]}, options) as sink:
        for seq, per in ledger_tables()[:4]:
            sink.write_batch("token_transfers", per["token_transfers"])
            sink.advance(seq)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    root = f"{tmp_path}/token_transfers/**/*.parquet"
    hive = con.sql(
        f"SELECT count(*), count(*) FILTER (WHERE date <> closed_at::DATE OR hour <> hour(closed_at)) "
        f"FROM read_parquet('{root}', hive_partitioning = true, "
        "hive_types = {'date': DATE, 'hour': INTEGER})"
    ).fetchall()
    assert hive[0][0] > 0 and hive[0][1] == 0
    by_path = con.sql(
        f"SELECT count(*) FILTER (WHERE asset_code IS NULL), count(*) FILTER (WHERE filename NOT LIKE "
        "'%/asset_code=' || coalesce(asset_code, '__HIVE_DEFAULT_PARTITION__') || '/%') "
        f"FROM read_parquet('{root}', hive_partitioning = false, filename = true)"
    ).fetchall()
    assert by_path[0][0] > 0  # native XLM rows live under __HIVE_DEFAULT_PARTITION__
    assert by_path[0][1] == 0
    assert list((tmp_path / "token_transfers").glob("*/*/asset_code=__HIVE_DEFAULT_PARTITION__"))


@pytest.mark.parametrize("codec", ["snappy", "gzip", "lz4", "zstd", "brotli", "none"])
def test_each_compression_writes_readable_files(tmp_path: Path, codec: str) -> None:
    options = SinkSettings(parquet_compression=codec, flush_interval_s=3600)  # type: ignore[arg-type]
    with DatasetSink(tmp_path, {"token_transfers": schemas()["token_transfers"]}, options) as sink:
        seq, per = ledger_tables()[0]
        sink.write_batch("token_transfers", per["token_transfers"])
        sink.advance(seq)
    (path,) = (tmp_path / "token_transfers").rglob("*.parquet")
    expected = {"none": "UNCOMPRESSED"}.get(codec, codec.upper())
    assert pq.ParquetFile(path).metadata.row_group(0).column(0).compression == expected
    written = per["token_transfers"]
    assert pq.read_table(path).cast(written.schema).equals(written)
    assert _duckdb_table(tmp_path, "token_transfers", written.schema).equals(written)


def test_bad_options_and_rows_raise_typed_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="partition key 'minute'"):
        parse_partition_keys("date,minute")
    with pytest.raises(ConfigError, match="compression 'lzma'"):
        ParquetOptions(compression="lzma")  # type: ignore[arg-type]
    with pytest.raises(pydantic.ValidationError, match="unknown or empty output format list"):
        SinkSettings(output_formats=("xml",))
    sink = DatasetSink(tmp_path, {"token_transfers": schemas()["token_transfers"]})
    with pytest.raises(SinkError, match="table 'ledgers' is not configured"):
        sink.write_batch("ledgers", ledger_tables()[0][1]["ledgers"])
    with pytest.raises(SinkError, match="rows for table 'token_transfers' do not match its schema"):
        sink.write_batch("token_transfers", ledger_tables()[0][1]["transactions"])


def test_flush_interval_and_batch_rows_decide_when_to_commit(tmp_path: Path) -> None:
    now = [0.0]
    options = SinkSettings(batch_rows=10_000, flush_interval_s=5.0)
    sink = DatasetSink(
        tmp_path, {"token_transfers": schemas()["token_transfers"]}, options, clock=lambda: now[0]
    )
    (s1, p1), (_s2, p2) = ledger_tables()[:2]
    sink.write_batch("token_transfers", p1["token_transfers"])
    assert sink.advance(s1) is None and not sink.due()
    now[0] = 5.0
    record = sink.advance(s1)
    assert record is not None and record.checkpoint.ledger_sequence == s1
    assert sum(m.rows for m in record.files) == p1["token_transfers"].num_rows
    # rows beyond the checkpoint stay buffered (visible in the live view), not committed
    sink.write_batch("token_transfers", p2["token_transfers"])
    view = sink.reader().view("token_transfers")
    assert view.live.num_rows == p2["token_transfers"].num_rows and len(view.files) == 1
    small = DatasetSink(
        tmp_path / "small",
        {"token_transfers": schemas()["token_transfers"]},
        SinkSettings(batch_rows=100, flush_interval_s=3600),
        clock=lambda: 0.0,
    )
    small.write_batch("token_transfers", p1["token_transfers"])
    assert small.due() and small.advance(s1) is not None


def test_a_quiet_tip_is_committed_by_the_timed_flush(tmp_path: Path) -> None:
    """No next ledger arrives to call advance(): flush_if_due() commits once the interval passed."""
    now = [0.0]
    options = SinkSettings(batch_rows=10_000, flush_interval_s=2.0)
    sink = DatasetSink(
        tmp_path, {"token_transfers": schemas()["token_transfers"]}, options, clock=lambda: now[0]
    )
    (s1, p1), (_s2, p2) = ledger_tables()[:2]
    assert sink.flush_if_due() is None  # nothing buffered, nothing complete
    sink.write_batch("token_transfers", p1["token_transfers"])
    sink.advance(s1)
    sink.write_batch("token_transfers", p2["token_transfers"])  # ledger s2 not reported complete
    now[0] = 1.0
    assert sink.flush_if_due() is None
    now[0] = 2.5
    record = sink.flush_if_due()
    assert record is not None and record.checkpoint.ledger_sequence == s1
    assert sum(m.rows for m in record.files) == p1["token_transfers"].num_rows
    assert sink.reader().view("token_transfers").live.num_rows == p2["token_transfers"].num_rows
    assert sink.flush_if_due() is None  # s2 is still incomplete


def test_commit_only_takes_rows_up_to_the_checkpoint(tmp_path: Path) -> None:
    sink = DatasetSink(tmp_path, {"token_transfers": schemas()["token_transfers"]})
    (s1, p1), (s2, p2) = ledger_tables()[:2]
    sink.write_batch("token_transfers", p1["token_transfers"])
    sink.write_batch("token_transfers", p2["token_transfers"])
    record = sink.commit(Checkpoint(s1))
    assert record is not None and {m.last_ledger for m in record.files} == {s1}
    view = sink.reader().view("token_transfers")
    assert pc.unique(view.live["ledger_sequence"]).to_pylist() == [s2]
    assert sink.commit(Checkpoint(s1)) is None  # a checkpoint that does not move is a no-op
    (stored,) = list(read_commits(tmp_path))
    assert stored == record


def test_restart_removes_uncommitted_files_and_drops_replayed_rows(tmp_path: Path) -> None:
    schema = {"token_transfers": schemas()["token_transfers"]}
    ledgers = ledger_tables()[:4]
    sink = DatasetSink(tmp_path, schema, SinkSettings(partition_by=("event_type",)))
    assert sink.snapshot() is None  # nothing committed: start wherever the pipeline starts
    for _seq, per in ledgers[:2]:
        sink.write_batch("token_transfers", per["token_transfers"])
    sink.commit(Checkpoint(ledgers[1][0]))
    # a crash in the middle of the next commit: files written (pending), no commit record
    _seq3, per3 = ledgers[2]
    sink.write_batch("token_transfers", per3["token_transfers"])
    writer = CommitWriter(tmp_path, ("parquet",), ParquetOptions())
    state = TableBuffer(schema, ("event_type",)).state("token_transfers")
    writer._write_files(99, "token_transfers", state, per3["token_transfers"])
    pending = list(tmp_path.rglob(f"*{PENDING_SUFFIX}"))
    assert pending
    # DuckDB over the folder never sees the half-done commit
    assert _duckdb_table(tmp_path, "token_transfers", schema["token_transfers"]).num_rows == sum(
        per["token_transfers"].num_rows for _, per in ledgers[:2]
    )
    del sink  # "crash"
    restarted = DatasetSink(tmp_path, schema, SinkSettings(partition_by=("event_type",)))
    assert not list(tmp_path.rglob(f"*{PENDING_SUFFIX}"))
    assert restarted.checkpoint == Checkpoint(ledgers[1][0])
    assert restarted.snapshot() == ledgers[1][0] + 1  # the resume state: the next ledger to write
    # the pipeline resumes from an earlier ledger (at-least-once upstream): replayed rows are dropped
    for _seq, per in ledgers:
        restarted.write_batch("token_transfers", per["token_transfers"])
    restarted.commit(Checkpoint(ledgers[-1][0]))
    expected = pa.concat_tables(per["token_transfers"] for _, per in ledgers)
    got = _duckdb_table(tmp_path, "token_transfers", schema["token_transfers"])
    assert got.equals(expected.sort_by([("ledger_sequence", "ascending"), ("event_index", "ascending")]))
    assert restarted.stats().rows_dropped_replayed == sum(
        p["token_transfers"].num_rows for _, p in ledgers[:2]
    )


def test_restart_finishes_a_commit_whose_record_was_written(tmp_path: Path) -> None:
    schema = {"token_transfers": schemas()["token_transfers"]}
    sink = DatasetSink(tmp_path, schema)
    seq, per = ledger_tables()[0]
    sink.write_batch("token_transfers", per["token_transfers"])
    # crash between the commit record and the renames: simulate by renaming the files back to pending
    record = sink.commit(Checkpoint(seq))
    assert record is not None
    for manifest in record.files:
        final = tmp_path / manifest.path
        final.rename(final.with_name(final.name + PENDING_SUFFIX))
    restarted = DatasetSink(tmp_path, schema)
    assert restarted.checkpoint == Checkpoint(seq)
    assert all((tmp_path / m.path).is_file() for m in record.files)
    assert (
        _duckdb_table(tmp_path, "token_transfers", schema["token_transfers"]).num_rows
        == per["token_transfers"].num_rows
    )


def test_listeners_see_accepted_rows_and_closed_sink_refuses(tmp_path: Path) -> None:
    seen: list[tuple[str, int]] = []
    sink = DatasetSink(tmp_path, {"token_transfers": schemas()["token_transfers"]})
    unsubscribe = sink.reader().subscribe(lambda table, rows: seen.append((table, rows.num_rows)))
    seq, per = ledger_tables()[0]
    sink.write_batch("token_transfers", per["token_transfers"])
    sink.advance(seq)
    unsubscribe()
    sink.write_batch("token_transfers", ledger_tables()[1][1]["token_transfers"])  # no longer delivered
    sink.close()
    assert seen == [("token_transfers", per["token_transfers"].num_rows)]
    assert sink.checkpoint == Checkpoint(seq)
    with pytest.raises(SinkError, match="is closed"):
        sink.write_batch("token_transfers", per["token_transfers"])


def test_a_failed_commit_leaves_no_files_and_keeps_the_rows(tmp_path: Path) -> None:
    schema = {"token_transfers": schemas()["token_transfers"]}
    sink = DatasetSink(tmp_path, schema, SinkSettings(partition_by=("event_type",)))
    seq, per = ledger_tables()[0]
    sink.write_batch("token_transfers", per["token_transfers"])
    obstacle = tmp_path / "_manifests" / ".000000000001.json.tmp"
    obstacle.mkdir(parents=True)  # the commit record cannot be written: a real I/O failure
    with pytest.raises(SinkError, match=f"commit 1 through ledger {seq} failed"):
        sink.commit(Checkpoint(seq))
    assert not [p for p in (tmp_path / "token_transfers").rglob("*") if p.is_file()]
    assert sink.reader().view("token_transfers").live.num_rows == per["token_transfers"].num_rows
    assert sink.checkpoint is None
    obstacle.rmdir()
    assert sink.commit(Checkpoint(seq)) is not None
    assert validate_dir(tmp_path).ok


def test_recovery_only_touches_files_the_sink_writes(tmp_path: Path) -> None:
    schema = {"token_transfers": schemas()["token_transfers"]}
    notes = tmp_path / "token_transfers" / "README.txt"
    notes.parent.mkdir(parents=True)
    notes.write_text("kept")
    DatasetSink(tmp_path, schema).close()
    assert notes.read_text() == "kept"


def test_rows_arriving_without_field_metadata_or_nullability_are_accepted(tmp_path: Path) -> None:
    schema = schemas()["token_transfers"]
    sink = DatasetSink(tmp_path, {"token_transfers": schema})
    assert isinstance(sink, Sink)
    seq, per = ledger_tables()[0]
    plain = pa.schema([pa.field(f.name, f.type) for f in schema])  # as a Flight peer might send it
    sink.write_batch("token_transfers", per["token_transfers"].cast(plain))
    record = sink.commit(Checkpoint(seq))
    assert record is not None and {m.schema_fingerprint for m in record.files} == {schema_fingerprint(schema)}
    assert sink.reader().view("token_transfers").schema == schema
