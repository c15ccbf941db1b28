"""The sink service in process: consumes source and processor over Flight, commits, serves, resumes."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as fl
import pyarrow.parquet as pq
import pytest

from stellar_arrow.config import SinkSettings, load_settings
from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.sink_service import SinkService, TableUpstream
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.stream import decode_watermark
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.flight.upstream import upstream_action
from stellar_arrow.pipeline.components import table_builder
from stellar_arrow.sink import DatasetSink, read_commits
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA

pytestmark = pytest.mark.integration


def _sink(out: Path, source: SourceService, processor: ProcessorService, kit: Any, **kw: Any) -> SinkService:
    tables = table_builder(load_settings())
    schemas = {"ledgers": tables.schemas["ledgers"], "token_transfers": TOKEN_TRANSFERS_SCHEMA}
    sink = DatasetSink(out, schemas, SinkSettings(partition_by=(), batch_rows=1, flush_interval_s=0.05))
    upstreams = (TableUpstream("ledgers", source.uri), TableUpstream("token_transfers", processor.uri))
    return SinkService(
        sink,
        upstreams,
        start_ledger=kit.first,
        resolve_end=lambda: int(upstream_action(source.uri, "latest_ledger")["latest_ledger"]),  # type: ignore[call-overload]
        **kw,
    )


def _source(sample_lake: Path, kit: Any) -> SourceService:
    tables = table_builder(load_settings())
    return SourceService(kit.lake_source(sample_lake), first_ledger=kit.first, tables=tables)


def _status(uri: str) -> dict[str, Any]:
    (result,) = fl.connect(uri).do_action(fl.Action("status", b""))
    body: dict[str, Any] = json.loads(result.body.to_pybytes())
    return body


def _wait_done(service: SinkService, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = _status(service.uri)
        if status["done"] or status["failed"]:
            return status
        time.sleep(0.05)
    raise AssertionError("sink did not finish")


def test_sink_commits_serves_and_resumes_without_duplicates(
    sample_lake: Path,
    tmp_path: Path,
    expected_transfers: dict[int, pa.Table],
    kit: Any,
) -> None:
    out = tmp_path / "out"
    source = SourceService(
        kit.lake_source(sample_lake), first_ledger=kit.first, tables=table_builder(load_settings())
    )
    processor = kit.make_processor(source.uri)
    try:
        sink = _sink(out, source, processor, kit)
        sink.start()
        status = _wait_done(sink)
        assert status["checkpoint"] == kit.last and status["end_ledger"] == kit.last
        assert status["error"] is None
        # committed rows come back over the sink's own Flight endpoint, in ledger order
        want = pa.concat_tables(expected_transfers[s] for s in sorted(expected_transfers))
        request = StreamRequest("token_transfers", start_ledger=kit.first, end_ledger=kit.last)
        got = fl.connect(sink.uri).do_get(fl.Ticket(encode_request(request))).read_all()
        assert got.equals(want)
        ledgers = (
            fl.connect(sink.uri)
            .do_get(fl.Ticket(encode_request(StreamRequest("ledgers", kit.first))))
            .read_all()
        )
        assert ledgers.column("sequence").to_pylist() == list(range(kit.first, kit.last + 1))
        commits = len(list(read_commits(out)))
        sink.stop()

        # a restarted sink finds the checkpoint at the end: nothing is read or written again
        again = _sink(out, source, processor, kit)
        again.start()
        status = _wait_done(again)
        assert status["checkpoint"] == kit.last
        assert status["rows_written"] == {"parquet": 0}
        assert len(list(read_commits(out))) == commits
        again.stop()
    finally:
        processor.stop()
        source.stop()


def test_sink_resumes_mid_range_from_its_checkpoint(
    sample_lake: Path, tmp_path: Path, expected_transfers: dict[int, pa.Table], kit: Any
) -> None:
    """Stop the sink while it runs, start another on the same directory: every ledger exactly once."""
    out = tmp_path / "out"
    source = SourceService(
        kit.lake_source(sample_lake), first_ledger=kit.first, tables=table_builder(load_settings())
    )
    processor = kit.make_processor(source.uri)
    try:
        first = _sink(out, source, processor, kit)
        first.start()
        deadline = time.monotonic() + 60
        while (first.sink.snapshot() or 0) <= kit.first + 5 and time.monotonic() < deadline:
            time.sleep(0.01)
        first.stop()
        stopped_at = (first.sink.snapshot() or 0) - 1  # the sink's resume state: the next ledger to write
        assert kit.first + 5 <= stopped_at < kit.last
        second = _sink(out, source, processor, kit)
        live = StreamRequest("token_transfers", start_ledger=kit.first, live=True)
        reader = fl.connect(second.uri).do_get(fl.Ticket(encode_request(live)))
        second.start()
        followed: list[pa.RecordBatch] = []
        while True:  # a live reader of the sink sees old and new commits, in order, then waits
            chunk = reader.read_chunk()
            followed.append(chunk.data)
            mark = decode_watermark(chunk.app_metadata.to_pybytes())
            if mark is not None and mark.complete and mark.ledger_sequence >= kit.last:
                break
        reader.cancel()
        assert _wait_done(second)["checkpoint"] == kit.last
        second.stop()
        want = pa.concat_tables(expected_transfers[s] for s in sorted(expected_transfers))
        seen = pa.Table.from_batches(followed)
        assert seen.column("ledger_sequence").to_pylist() == want.column("ledger_sequence").to_pylist()
        assert seen.equals(want)
        files = [out / m.path for r in read_commits(out) for m in r.files if m.table == "token_transfers"]
        got = pa.concat_tables(pq.read_table(f, schema=TOKEN_TRANSFERS_SCHEMA) for f in files)
        assert got.equals(want)
    finally:
        processor.stop()
        source.stop()
