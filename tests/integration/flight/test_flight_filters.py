"""The one filter model over Flight: the sink answers a ticket's filters exactly as the processor does,
refuses ranges it does not hold, and every service turns hostile tickets into invalid_argument errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.flight as fl
import pytest

from stellar_arrow.config import SinkSettings, load_settings
from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.sink_service import SinkService, TableUpstream
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.flight.upstream import upstream_action
from stellar_arrow.pipeline.components import table_builder
from stellar_arrow.query import TransferFilter, filter_from_json
from stellar_arrow.sink import DatasetSink
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA

pytestmark = pytest.mark.integration

TIMEOUT = fl.FlightCallOptions(timeout=60)


class Pipeline:
    def __init__(self, source: SourceService, processor: ProcessorService, sink: SinkService) -> None:
        self.source, self.processor, self.sink = source, processor, sink

    def services(self) -> dict[str, str]:
        return {"source": self.source.uri, "processor": self.processor.uri, "sink": self.sink.uri}


@pytest.fixture(scope="module")
def pipeline(tmp_path_factory: pytest.TempPathFactory, data_dir: Path, kit: Any) -> Iterator[Pipeline]:
    """Source, processor and sink on loopback over the sample lake; the sink has committed every ledger."""
    tables = table_builder(load_settings())
    source = SourceService(
        kit.lake_source(data_dir / "lakes" / "pubnet-p26"), first_ledger=kit.first, tables=tables
    )
    processor = kit.make_processor(source.uri)
    schemas = {"ledgers": tables.schemas["ledgers"], "token_transfers": TOKEN_TRANSFERS_SCHEMA}
    out = tmp_path_factory.mktemp("filters") / "out"
    sink = SinkService(
        DatasetSink(out, schemas, SinkSettings(partition_by=(), flush_interval_s=0.05)),
        (TableUpstream("ledgers", source.uri), TableUpstream("token_transfers", processor.uri)),
        start_ledger=kit.first,
        resolve_end=lambda: int(upstream_action(source.uri, "latest_ledger")["latest_ledger"]),  # type: ignore[call-overload]
    )
    sink.start()
    deadline = time.monotonic() + 90
    while not sink.loop.done.is_set() and time.monotonic() < deadline:
        assert not sink.loop.failed, sink.loop.error
        time.sleep(0.05)
    assert sink.loop.done.is_set(), "the sink did not finish"
    yield Pipeline(source, processor, sink)
    sink.stop()
    processor.stop()
    source.stop()


def read(uri: str, request: StreamRequest) -> pa.Table:
    return fl.connect(uri).do_get(fl.Ticket(encode_request(request)), TIMEOUT).read_all()


def sample_filters(events: pa.Table) -> list[dict[str, Any]]:
    """Filters built from the real events of the sample (each selects some, never all, of them)."""
    rows = events.to_pylist()
    usdc = next(r for r in rows if r["asset_code"] == "USDC")
    busy = max(pc.value_counts(events["to"].drop_null()).to_pylist(), key=lambda c: c["counts"])["values"]
    custom = next(r["contract_id"] for r in rows if r["asset"] is None)
    return [
        {"event_types": ["mint"]},
        {"event_types": ["burn", "transfer"], "assets": ["native", f"USDC:{usdc['asset_issuer']}"]},
        {"assets": [custom]},
        {"accounts": [busy], "min_amount": "0.01"},
        {"asset_codes": ["USDC"], "max_amount": "100"},
        {"from_ledger": rows[0]["ledger_sequence"] + 3, "to_ledger": rows[0]["ledger_sequence"] + 5},
        {"transaction_hash": rows[len(rows) // 2]["transaction_hash"]},
        {"start_time": int(rows[len(rows) // 2]["closed_at"].timestamp()), "event_types": ["fee"]},
    ]


def test_sink_and_processor_give_the_same_rows_for_the_same_filters(pipeline: Pipeline, kit: Any) -> None:
    everything = read(pipeline.sink.uri, StreamRequest("token_transfers", kit.first, kit.last))
    for doc in sample_filters(everything):
        rules = filter_from_json(doc)
        request = StreamRequest("token_transfers", kit.first, kit.last, filters=rules)
        from_sink = read(pipeline.sink.uri, request)
        from_processor = read(pipeline.processor.uri, request)
        assert 0 < from_sink.num_rows < everything.num_rows, doc
        assert from_sink.equals(from_processor), doc


def test_sink_mint_filter_returns_only_mints(pipeline: Pipeline, kit: Any) -> None:
    """The reported defect: {"event_types": ["mint"]} returned all 12,864 events of the sample run."""
    rules = TransferFilter(event_types=("mint",))
    got = read(pipeline.sink.uri, StreamRequest("token_transfers", kit.first, kit.last, filters=rules))
    everything = read(pipeline.sink.uri, StreamRequest("token_transfers", kit.first, kit.last))
    assert got.num_rows == pc.sum(pc.equal(everything["event_type"], "mint")).as_py() > 0
    assert set(got["event_type"].to_pylist()) == {"mint"}


@pytest.mark.parametrize(
    ("start", "end", "field", "words"),
    [
        (-1, 0, "start_ledger", "before the oldest ledger"),
        (0, 1, "end_ledger", "past the sink's last committed ledger"),
        (1, 2, "start_ledger", "past the sink's last committed ledger"),
        (1, None, "start_ledger", "past the sink's last committed ledger"),
    ],
)
def test_sink_refuses_ranges_it_does_not_hold(
    pipeline: Pipeline, kit: Any, start: int, end: int | None, field: str, words: str
) -> None:
    """Offsets are from the sample's first ledger (start) and last ledger (end)."""
    first = kit.first + start if start < 0 else kit.last + start if start > 0 else kit.first
    last = None if end is None else kit.last + end
    with pytest.raises(fl.FlightServerError) as info:
        read(pipeline.sink.uri, StreamRequest("token_transfers", first, last))
    message = str(info.value)
    assert words in message and str(first) in message and f"{kit.first}-{kit.last}" in message
    assert "Traceback" not in message
    extra = json.loads(info.value.extra_info)
    held = {"first_ledger": kit.first, "last_ledger": kit.last}
    assert extra == {"code": "out_of_range", "field": field, **held}
    # the source and the processor say so too, for the same bounded range past the tip
    if first > kit.last:
        with pytest.raises(fl.FlightServerError, match=str(first)):
            read(pipeline.source.uri, StreamRequest("ledger_close_meta", first, last or first))
        with pytest.raises(fl.FlightServerError, match=str(first)):
            read(pipeline.processor.uri, StreamRequest("token_transfers", first, last or first))


HOSTILE_TICKETS: list[tuple[bytes, str]] = [
    (b'{"v":1,"stream":"token_transfers","filters":{"min_amount":"1e999999"}}', "filters.min_amount"),
    (b'{"v":1,"stream":"token_transfers","filters":{"min_amount":1e999}}', "filters.min_amount"),
    (b'{"v":1,"stream":"token_transfers","filters":{"max_amount":"-5"}}', "filters.max_amount"),
    (b'{"v":1,"stream":"token_transfers","filters":{"min_amount":"\xc2\xb2"}}', "filters.min_amount"),
    (b'{"v":1,"stream":"token_transfers","filters":{"accounts":["GBAD"]}}', "filters.accounts"),
    (b'{"v":1,"stream":"token_transfers","filters":{"assets":["USDC"]}}', "filters.assets"),
    (b'{"v":1,"stream":"token_transfers","filters":{"assets":["USDC:GNOTANISSUER"]}}', "filters.assets"),
    (b'{"v":1,"stream":"token_transfers","filters":{"event_types":["swap"]}}', "filters.event_types"),
    (b'{"v":1,"stream":"token_transfers","filters":{"start_time":"10000-01-01"}}', "filters.start_time"),
    (b'{"v":1,"stream":"token_transfers","filters":{"end_time":9223372036854775808}}', "filters.end_time"),
    (b'{"v":1,"stream":"token_transfers","filters":{"wat":1}}', "filters.wat"),
    (b'{"v":1,"stream":"ledgers","filters":{"event_types":["mint"]}}', "filters"),
    (b'{"v":1,"stream":"token_transfers","start_ledger":9223372036854775808}', "start_ledger"),
    (b"[" * 50_000, "ticket"),
    (b'{"v":1,"stream":"' + b"x" * 200_000 + b'"}', "stream"),
    (b'{"v":1,"stream":"token_transfers","' + b"k" * 200_000 + b'":1}', "k" * 60),
    (b"\xff\xfe", "ticket"),
]


@pytest.mark.parametrize(("raw", "field"), HOSTILE_TICKETS)
def test_hostile_tickets_are_invalid_argument_on_every_service(
    pipeline: Pipeline, raw: bytes, field: str
) -> None:
    for name, uri in pipeline.services().items():
        with pytest.raises(fl.FlightServerError) as info:
            fl.connect(uri).do_get(fl.Ticket(raw), TIMEOUT).read_all()
        assert not isinstance(info.value, fl.FlightInternalError), name
        extra = json.loads(info.value.extra_info)
        assert extra == {"code": "invalid_argument", "field": field}, (name, str(info.value))
        assert "Traceback" not in str(info.value) and len(str(info.value)) < 2000
