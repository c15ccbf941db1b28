"""The sink's do_get under hostile requests: streamed in bounded batches, range limits, a stream bulkhead."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from stellar_arrow.config import SinkSettings
from stellar_arrow.flight.sink_service import SinkService, TableUpstream
from stellar_arrow.flight.stream import decode_watermark
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.query import TransferFilter, filter_rows
from stellar_arrow.sink import Checkpoint, DatasetSink
from tests.unit.sink.realdata import FIRST, LAST, ledger_tables, schemas, whole

pytestmark = pytest.mark.integration

ORDER = [("ledger_sequence", "ascending"), ("event_index", "ascending")]
MAX_LEDGERS = 15


@pytest.fixture(scope="module")
def sink(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SinkService]:
    """A sink service over the 20 real ledgers, committed 4 at a time (its loop is not started)."""
    root = tmp_path_factory.mktemp("sink")
    options = SinkSettings(partition_by=("date", "event_type"), flush_interval_s=3600)
    data = DatasetSink(root, schemas(), options)
    for seq, per in ledger_tables():
        for table, rows in per.items():
            data.write_batch(table, rows)
        data.advance(seq)
        if (seq - FIRST) % 4 == 3:
            data.commit(Checkpoint(seq))
    service = SinkService(
        data,
        (TableUpstream("token_transfers", "grpc://127.0.0.1:1"),),
        start_ledger=FIRST,
        end_ledger=LAST,
        max_ledgers_per_request=MAX_LEDGERS,
        read_batch_rows=700,
    )
    service.limit_streams(4, 0.0)
    yield service
    service.stop()


def _ticket(**fields: Any) -> fl.Ticket:
    return fl.Ticket(json.dumps({"v": 1, "stream": "token_transfers", **fields}).encode())


def _client(sink: SinkService) -> fl.FlightClient:
    return fl.FlightClient(sink.uri)


def _read(sink: SinkService, **fields: Any) -> tuple[pa.Table, list[tuple[int, bool]], list[int]]:
    rows, marks, sizes = [], [], []
    with _client(sink) as client:
        reader = client.do_get(_ticket(**fields), options=fl.FlightCallOptions(timeout=60))
        for chunk in reader:
            mark = decode_watermark(chunk.app_metadata.to_pybytes() if chunk.app_metadata else None)
            assert mark is not None
            marks.append((mark.ledger_sequence, mark.complete))
            sizes.append(chunk.data.num_rows)
            if chunk.data.num_rows:
                rows.append(chunk.data)
    return pa.Table.from_batches(rows, schema=reader.schema), marks, sizes


@pytest.mark.parametrize(
    "rules",
    [
        TransferFilter(),
        TransferFilter(event_types=("transfer",), assets=("native",)),
        TransferFilter(min_amount=10**10),
    ],
)
def test_committed_rows_stream_in_bounded_batches_with_the_filter_pushed_down(
    sink: SinkService, rules: TransferFilter
) -> None:
    first = FIRST + 5  # 15 ledgers: the most one request may ask for
    got, marks, sizes = _read(sink, start_ledger=first, end_ledger=LAST, filters=rules.to_json())
    want = filter_rows(whole("token_transfers", first, LAST), rules)
    assert want.num_rows and got.sort_by(ORDER).equals(want.sort_by(ORDER))
    assert max(sizes) <= 700  # read_batch_rows
    complete = [seq for seq, done in marks if done]
    assert complete == sorted(complete) and complete[-1] == LAST
    assert len(complete) >= 3  # a complete watermark after each commit's window, not one at the very end


def _refusal(sink: SinkService, **fields: Any) -> tuple[type[fl.FlightError], str, dict[str, Any]]:
    with _client(sink) as client, pytest.raises(fl.FlightError) as caught:
        client.do_get(_ticket(**fields), options=fl.FlightCallOptions(timeout=30)).read_all()
    err = caught.value
    assert not isinstance(err, fl.FlightInternalError), err  # never a 500
    return type(err), str(err), json.loads(err.extra_info or b"{}")


@pytest.mark.parametrize(
    ("fields", "code", "field"),
    [
        ({"start_ledger": 1, "end_ledger": 4294967295}, "out_of_range", "start_ledger"),
        ({"start_ledger": FIRST, "end_ledger": 4294967295}, "out_of_range", "end_ledger"),
        ({"start_ledger": LAST + 1}, "out_of_range", "start_ledger"),
        ({"start_ledger": -5, "end_ledger": FIRST}, "invalid_argument", "start_ledger"),
        ({"start_ledger": 0}, "invalid_argument", "start_ledger"),
        ({"start_ledger": FIRST + 5, "end_ledger": FIRST}, "invalid_argument", "end_ledger"),
        ({"start_ledger": 2**40}, "invalid_argument", "start_ledger"),
        ({"end_ledger": "tip"}, "invalid_argument", "end_ledger"),
        ({"start_ledger": FIRST, "end_ledger": LAST}, "invalid_argument", "end_ledger"),  # 20 > 15 ledgers
        ({"start_ledger": FIRST}, "invalid_argument", "start_ledger"),  # open end: to the checkpoint, 20
        ({}, "invalid_argument", "start_ledger"),
    ],
)
def test_hostile_ranges_are_refused_with_the_field_named(
    sink: SinkService, fields: dict[str, Any], code: str, field: str
) -> None:
    kind, message, info = _refusal(sink, **fields)
    assert kind is fl.FlightServerError
    assert info["code"] == code and info["field"] == field, (message, info)
    if "max_ledgers_per_request" in info:
        assert info["max_ledgers_per_request"] == MAX_LEDGERS
        assert "sink.max_ledgers_per_request" in message and "ask in pieces" in message


def test_a_range_within_the_limit_is_served(sink: SinkService) -> None:
    got, _, _ = _read(sink, start_ledger=LAST - MAX_LEDGERS + 1)
    assert got.num_rows == whole("token_transfers", LAST - MAX_LEDGERS + 1, LAST).num_rows


def _rejections() -> float:
    return REGISTRY.get_sample_value("bulkhead_rejections_total", {"name": "sink_streams"}) or 0.0


def test_streams_beyond_max_streams_are_refused_busy(sink: SinkService) -> None:
    before = _rejections()
    clients = [_client(sink) for _ in range(5)]
    held = []
    try:
        for client in clients[:4]:  # live streams hold their slot until cancelled
            reader = client.do_get(_ticket(start_ledger=LAST - 1, live=True))
            reader.read_chunk()
            held.append(reader)
        with pytest.raises(fl.FlightUnavailableError) as caught:
            clients[4].do_get(_ticket(start_ledger=LAST)).read_all()
        info = json.loads(caught.value.extra_info)
        assert info["code"] == "busy" and info["name"] == "sink_streams" and info["capacity"] == 4
        assert info["retry_after_s"] > 0 and "busy" in str(caught.value)
        assert _rejections() == before + 1
        held.pop().cancel()  # a slot frees up once a stream ends (within a wait slice)
        deadline = time.monotonic() + 10
        while True:
            try:
                got = clients[4].do_get(_ticket(start_ledger=LAST)).read_all()
                break
            except fl.FlightUnavailableError:
                assert time.monotonic() < deadline, "the cancelled stream never gave its slot back"
                time.sleep(0.1)
        assert got.num_rows == whole("token_transfers", LAST, LAST).num_rows
    finally:
        for reader in held:
            reader.cancel()
        for client in clients:
            client.close()


def test_status_reports_the_stream_limit(sink: SinkService) -> None:
    with _client(sink) as client:
        body = json.loads(next(iter(client.do_action(fl.Action("status", b"")))).body.to_pybytes())
    assert body["max_streams"] == 4


def test_a_sink_without_commits_refuses_bounded_requests(tmp_path: Path) -> None:
    """Nothing committed yet: a bounded request is refused (out of range), not answered with nothing."""
    data = DatasetSink(tmp_path, schemas(), SinkSettings())
    service = SinkService(data, (TableUpstream("token_transfers", "grpc://127.0.0.1:1"),), start_ledger=FIRST)
    try:
        _, message, info = _refusal(service, start_ledger=FIRST, end_ledger=FIRST + 1)
        assert info["code"] == "out_of_range" and "no committed ledger" in message
    finally:
        service.stop()
