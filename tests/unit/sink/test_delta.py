"""Delta Lake output of the sink over real pubnet tables: same rows as Parquet, one append per commit,
exactly once across restarts, readable by deltalake, DuckDB and polars, hostile tables refused."""

from __future__ import annotations

import shutil
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote

import duckdb
import polars
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pytest
from deltalake import CommitProperties, DeltaTable, Transaction, write_deltalake

from stellar_arrow.config import SinkSettings
from stellar_arrow.errors import SinkError
from stellar_arrow.sink import DatasetSink, read_commits, validate_dir
from stellar_arrow.sink.delta import (
    SINK_APP_ID,
    DeltaLayout,
    delta_table_path,
    delta_tables,
    read_delta_table,
    to_delta_rows,
)
from tests.unit.sink.realdata import FIRST, LAST, TABLES, ledger_tables, schemas, whole
from tests.unit.sink.test_dataset import SORT_KEYS

BOTH = SinkSettings(
    output_formats=("parquet", "delta"),
    partition_by=("date", "hour", "event_type"),
    batch_rows=4000,
    flush_interval_s=3600,
)


def _feed(sink: DatasetSink, first: int = FIRST, last: int = LAST) -> None:
    for seq, per in ledger_tables():
        if first <= seq <= last:
            for table, rows in per.items():
                sink.write_batch(table, rows)
            sink.advance(seq)


def _sorted(table: pa.Table, name: str) -> pa.Table:
    return table.sort_by([(k, "ascending") for k in SORT_KEYS[name]])


def _parquet_rows(root: Path, name: str) -> pa.Table:
    schema = schemas()[name]
    paths = [root / m.path for r in read_commits(root) for m in r.files if m.table == name]
    return ds.dataset(paths, format="parquet").to_table().select(schema.names).cast(schema)


@pytest.fixture(scope="module")
def both_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("both")
    with DatasetSink(root, schemas(), BOTH) as sink:
        _feed(sink)
    return root


def test_parquet_and_delta_hold_the_same_rows(both_dir: Path) -> None:
    assert sorted(delta_tables(both_dir)) == sorted(TABLES)
    for name in TABLES:
        got = _sorted(read_delta_table(delta_table_path(both_dir, name), schemas()[name]), name)
        assert got.num_rows == whole(name).num_rows > 0
        assert got.equals(_sorted(_parquet_rows(both_dir, name), name)), name
        assert got.equals(_sorted(whole(name), name)), name


def test_one_delta_version_per_commit_with_the_checkpoint_as_transaction(both_dir: Path) -> None:
    records = list(read_commits(both_dir))
    assert len(records) >= 3  # batch_rows forced intermediate commits
    for name in TABLES:
        table = DeltaTable(str(delta_table_path(both_dir, name)))
        assert table.version() == len(records) - 1  # versions 0..n-1: one per sink commit
        assert table.transaction_version(SINK_APP_ID) == LAST
        history = sorted(table.history(), key=lambda h: h["version"])
        assert [h["operation"] for h in history] == ["WRITE"] * len(records)
        assert [int(h["stellar_arrow.through_ledger"]) for h in history] == [
            r.checkpoint.ledger_sequence for r in records
        ]
        assert [int(h["stellar_arrow.commit"]) for h in history] == [r.commit for r in records]
        added = sum(h["operationMetrics"]["num_added_rows"] for h in history)
        assert added == whole(name).num_rows


def test_partitioned_like_the_parquet_layout(both_dir: Path) -> None:
    table = DeltaTable(str(delta_table_path(both_dir, "token_transfers")))
    assert table.metadata().partition_columns == ["date", "hour", "event_type"]
    ledgers = DeltaTable(str(delta_table_path(both_dir, "ledgers")))
    assert ledgers.metadata().partition_columns == ["date", "hour"]  # no asset_code/event_type columns

    def partitions(folder: Path) -> set[tuple[tuple[str, str], ...]]:
        # the Parquet layout pads the hour (hour=00), Delta writes the integer value (hour=0)
        found = set()
        for path in folder.rglob("*.parquet"):
            pairs = [part.split("=", 1) for part in path.parent.relative_to(folder).parts]
            found.add(tuple((k, str(int(v)) if k == "hour" else unquote(v)) for k, v in pairs))
        return found

    parquet = partitions(both_dir / "token_transfers")
    assert len(parquet) >= 4  # one per event type of the hour
    assert partitions(delta_table_path(both_dir, "token_transfers")) == parquet


def test_types_follow_the_parquet_layout(both_dir: Path) -> None:
    schema = pa.schema(DeltaTable(str(delta_table_path(both_dir, "token_transfers"))).schema().to_arrow())
    assert schema.field("ledger_sequence").type == pa.int64()  # uint32 widened: Delta has no unsigned
    assert schema.field("to_muxed_id").type == pa.decimal128(20, 0)  # uint64 exact
    assert schema.field("closed_at").type == pa.timestamp("us", tz="UTC")
    assert schema.field("amount").type == pa.decimal128(38, 7)
    assert schema.field("amount_raw").type == pa.string()  # the exact i128 string, as in Parquet
    assert schema.field("date").type == pa.date32()
    assert schema.field("hour").type == pa.int32()


def test_uint64_and_exact_amounts_survive_and_filter_exactly(tmp_path: Path) -> None:
    schema = schemas()["token_transfers"]
    rows = whole("token_transfers").slice(0, 2)
    big = pa.array([2**64 - 1, 1], pa.uint64())
    amounts = pa.array(
        [Decimal("12345678901234567.1234567"), Decimal("12345678901234567.1234569")], pa.decimal128(38, 7)
    )
    rows = rows.set_column(schema.get_field_index("to_muxed_id"), schema.field("to_muxed_id"), big)
    rows = rows.set_column(schema.get_field_index("amount"), schema.field("amount"), amounts)
    top_index = pa.array([2**32 - 1, 1], pa.uint32())  # beyond a signed 32-bit integer
    rows = rows.set_column(
        schema.get_field_index("operation_index"), schema.field("operation_index"), top_index
    )
    options = SinkSettings(output_formats=("delta",), partition_by=("date",), flush_interval_s=3600)
    with DatasetSink(tmp_path, {"token_transfers": schema}, options) as sink:
        sink.write_batch("token_transfers", rows)
        sink.advance(int(rows["ledger_sequence"][0].as_py()))
    path = delta_table_path(tmp_path, "token_transfers")
    assert read_delta_table(path, schema).equals(rows)
    dataset = DeltaTable(str(path)).to_pyarrow_dataset()
    exact = pa.scalar(Decimal("12345678901234567.1234569"), pa.decimal128(38, 7))
    assert dataset.to_table(filter=ds.field("amount") == exact).num_rows == 1
    top = pa.scalar(Decimal(2**64 - 1), pa.decimal128(20, 0))
    assert dataset.to_table(filter=ds.field("to_muxed_id") == top).num_rows == 1


def test_duckdb_and_polars_read_the_delta_tables(both_dir: Path) -> None:
    path = delta_table_path(both_dir, "token_transfers")
    dataset = DeltaTable(str(path)).to_pyarrow_dataset()
    con = duckdb.connect()
    con.register("token_transfers", dataset)
    got = con.sql(
        "SELECT event_type, count(*) AS n, sum(amount) AS total FROM token_transfers "
        "GROUP BY event_type ORDER BY event_type"
    ).fetchall()
    rows = whole("token_transfers")
    want = []
    for kind in sorted(set(rows["event_type"].to_pylist())):
        part = rows.filter(pc.equal(rows["event_type"], kind))
        want.append((kind, part.num_rows, pc.sum(part["amount"]).as_py()))
    assert got == want
    frame = polars.read_delta(str(path))
    assert frame.height == rows.num_rows
    assert (
        frame.filter(polars.col("event_type") == "fee")["amount"].sum()
        == want[[w[0] for w in want].index("fee")][2]
    )


def test_restart_and_replay_never_append_a_ledger_twice(tmp_path: Path) -> None:
    options = SinkSettings(
        output_formats=("delta",), partition_by=("date",), batch_rows=1, flush_interval_s=3600
    )
    with DatasetSink(tmp_path, schemas(), options) as sink:
        _feed(sink, FIRST, FIRST + 9)
    # the commit log is lost (a crash between the Delta appends and the commit record): the sink restarts
    # before those ledgers and the upstream replays them, with other commit boundaries
    shutil.rmtree(tmp_path / "_manifests")
    with DatasetSink(tmp_path, schemas(), options.model_copy(update={"batch_rows": 5000})) as sink:
        _feed(sink, FIRST, LAST)
    for name in TABLES:
        got = _sorted(read_delta_table(delta_table_path(tmp_path, name), schemas()[name]), name)
        assert got.equals(_sorted(whole(name), name)), name
        table = DeltaTable(str(delta_table_path(tmp_path, name)))
        assert table.transaction_version(SINK_APP_ID) == LAST
        history = sorted(table.history(), key=lambda h: h["version"])
        through = [int(h["stellar_arrow.through_ledger"]) for h in history]
        assert through[:10] == list(range(FIRST, FIRST + 10))  # one commit per ledger before the "crash"
        assert through == sorted(set(through))  # after it, only commits past ledger FIRST + 9 were appended
        assert sum(h["operationMetrics"]["num_added_rows"] for h in history) == whole(name).num_rows


def test_a_foreign_schema_is_refused(tmp_path: Path) -> None:
    path = delta_table_path(tmp_path, "ledgers")
    write_deltalake(
        str(path),
        pa.table({"sequence": pa.array([1], pa.int64())}),
        commit_properties=CommitProperties(app_transactions=[Transaction(SINK_APP_ID, 1)]),
    )
    options = SinkSettings(output_formats=("parquet", "delta"), partition_by=())
    with pytest.raises(SinkError, match=r"\(ledgers\): foreign schema: columns differ \(missing \['id'"):
        DatasetSink(tmp_path, schemas(), options)


def test_another_applications_table_is_refused(tmp_path: Path) -> None:
    layout = DeltaLayout.of("ledgers", schemas()["ledgers"], ("date",))
    path = delta_table_path(tmp_path, "ledgers")
    rows = to_delta_rows(whole("ledgers").slice(0, 1), layout)
    write_deltalake(
        str(path),
        rows,
        partition_by=["date"],
        commit_properties=CommitProperties(app_transactions=[Transaction("someone-else", 7)]),
    )
    with pytest.raises(SinkError, match="no transaction of application 'stellar-arrow-sink'"):
        DatasetSink(tmp_path, schemas(), SinkSettings(output_formats=("delta",), partition_by=("date",)))
    assert DeltaTable(str(path)).version() == 0  # nothing appended


def test_other_partitioning_and_non_delta_folders_are_refused(tmp_path: Path) -> None:
    with DatasetSink(
        tmp_path / "a", schemas(), SinkSettings(output_formats=("delta",), partition_by=("date",))
    ) as s:
        _feed(s, FIRST, FIRST)
    with pytest.raises(SinkError, match="partitioned by"):
        DatasetSink(
            tmp_path / "a", schemas(), SinkSettings(output_formats=("delta",), partition_by=("hour",))
        )
    (tmp_path / "c" / "delta").mkdir(parents=True)
    delta_table_path(tmp_path / "c", "ledgers").write_bytes(b"a file where a table belongs")
    with pytest.raises(SinkError, match=r"delta/ledgers \(ledgers\): is a file, not a folder"):
        DatasetSink(tmp_path / "c", schemas(), SinkSettings(output_formats=("delta",)))
    junk = delta_table_path(tmp_path / "b", "operations")
    junk.mkdir(parents=True)
    (junk / "part-0.parquet").write_bytes(b"not delta")
    with pytest.raises(SinkError, match="no Delta log"):
        DatasetSink(tmp_path / "b", schemas(), SinkSettings(output_formats=("delta",)))


def test_validate_checks_the_delta_tables(both_dir: Path, tmp_path: Path) -> None:
    report = validate_dir(both_dir)
    assert report.ok, report.problems
    assert report.delta_tables == len(TABLES)
    copy = tmp_path / "copy"
    shutil.copytree(both_dir, copy)
    victim = next(delta_table_path(copy, "operations").rglob("*.parquet"))
    victim.unlink()
    report = validate_dir(copy)
    assert not report.ok
    assert any("delta/operations" in p.path and "missing" in p.problem for p in report.problems)


def test_appends_go_on_after_another_process_compacts_and_vacuums(tmp_path: Path) -> None:
    """What the lifecycle's optimize + vacuum do to a live sink's tables: its next appends still land once."""
    options = SinkSettings(
        output_formats=("delta",), partition_by=("date",), batch_rows=1, flush_interval_s=3600
    )
    with DatasetSink(tmp_path, schemas(), options) as sink:
        _feed(sink, FIRST, FIRST + 9)
        for name in TABLES:
            other = DeltaTable(str(delta_table_path(tmp_path, name)))
            assert other.optimize.compact()["numFilesRemoved"] >= 2
            other.vacuum(retention_hours=0, enforce_retention_duration=False, dry_run=False)
        _feed(sink, FIRST + 10, LAST)
    for name in TABLES:
        got = _sorted(read_delta_table(delta_table_path(tmp_path, name), schemas()[name]), name)
        assert got.equals(_sorted(whole(name), name)), name
        assert DeltaTable(str(delta_table_path(tmp_path, name))).transaction_version(SINK_APP_ID) == LAST
    assert validate_dir(tmp_path).ok


def test_delta_added_to_an_existing_directory_starts_at_the_next_commit(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    parquet = SinkSettings(partition_by=("date",), flush_interval_s=3600)
    with DatasetSink(tmp_path, schemas(), parquet) as sink:
        _feed(sink, FIRST, FIRST + 4)
    both = parquet.model_copy(update={"output_formats": ("parquet", "delta")})
    with caplog.at_level("WARNING"), DatasetSink(tmp_path, schemas(), both) as sink:
        _feed(sink, FIRST, LAST)
    assert f"holds ledgers through None, the commit log through {FIRST + 4}" in caplog.text
    ledgers = read_delta_table(delta_table_path(tmp_path, "ledgers"), schemas()["ledgers"])
    assert sorted(ledgers["sequence"].to_pylist()) == list(range(FIRST + 5, LAST + 1))
