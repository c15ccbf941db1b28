"""The one filter model over Flight: the sink answers a ticket's filters exactly as the processor does,
refuses ranges it does not hold, and every service turns hostile tickets into invalid_argument errors."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
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
from stellar_arrow.query import TransferFilter, filter_from_json, filter_from_query
from stellar_arrow.sink import DatasetSink
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA
from tests.where_cases import HOSTILE, VALID

pytestmark = pytest.mark.integration

TIMEOUT = fl.FlightCallOptions(timeout=60)


class Pipeline:
    def __init__(
        self, source: SourceService, processor: ProcessorService, sink: SinkService, out: Path
    ) -> None:
        self.source, self.processor, self.sink, self.out = source, processor, sink, out

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
    yield Pipeline(source, processor, sink, out)
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


def parquet_sql(out: Path, table: str, predicate: str, select: str) -> list[Any]:
    """Plain DuckDB SQL over the sink's Parquet output of ``table`` (the sample run)."""
    files = sorted(str(p) for p in (out / table).rglob("*.parquet"))
    with duckdb.connect() as db:
        source = f"read_parquet({files!r}, hive_partitioning = false, union_by_name = true)"
        return db.sql(f"SELECT {select} FROM {source} WHERE {predicate} ORDER BY ALL").fetchall()


def keys(rows: pa.Table, *columns: str) -> list[tuple[Any, ...]]:
    return sorted(zip(*(rows[c].to_pylist() for c in columns), strict=True))


@pytest.mark.parametrize(("params", "predicate"), VALID)
def test_where_in_tickets_matches_plain_sql_on_sink_and_processor(
    pipeline: Pipeline, kit: Any, params: dict[str, str], predicate: str
) -> None:
    want = parquet_sql(pipeline.out, "token_transfers", predicate, "ledger_sequence, event_index")
    assert want
    body: dict[str, Any] = {
        "v": 1,
        "stream": "token_transfers",
        "start_ledger": kit.first,
        "end_ledger": kit.last,
    }
    filters = filter_from_query(params, schema=TOKEN_TRANSFERS_SCHEMA).to_json()
    if "where" in filters:
        body["where"] = filters.pop("where")  # the ticket's own field (filters.where is the same)
    body["filters"] = filters
    ticket = fl.Ticket(json.dumps(body).encode())
    for name in ("sink", "processor"):
        got = fl.connect(pipeline.services()[name]).do_get(ticket, TIMEOUT).read_all()
        assert keys(got, "ledger_sequence", "event_index") == want, name


def test_where_applies_to_the_ticket_table_on_every_service(pipeline: Pipeline, kit: Any) -> None:
    where = f"sequence BETWEEN {kit.first + 2} AND {kit.first + 9} AND successful_transaction_count > 150"
    want = parquet_sql(pipeline.out, "ledgers", where, "sequence, ledger_hash")
    assert 0 < len(want) < 8
    body = {"v": 1, "stream": "ledgers", "start_ledger": kit.first, "end_ledger": kit.last, "where": where}
    ticket = fl.Ticket(json.dumps(body).encode())
    for name, uri in pipeline.services().items():
        got = fl.connect(uri).do_get(ticket, TIMEOUT).read_all()
        assert keys(got, "sequence", "ledger_hash") == want, name
    # operations (not sunk here): the same rows as SQL over the unfiltered stream
    where = "type_string = 'create_claimable_balance' OR (successful = false AND operation_index > 2)"
    everything = read(pipeline.source.uri, StreamRequest("operations", kit.first, kit.first + 3))
    with duckdb.connect() as db:
        db.register("operations", everything)
        sql = f"SELECT id FROM operations WHERE {where} ORDER BY id"
        want_ids = [r[0] for r in db.sql(sql).fetchall()]
    assert want_ids
    body = {
        "v": 1,
        "stream": "operations",
        "start_ledger": kit.first,
        "end_ledger": kit.first + 3,
        "where": where,
    }
    for name in ("source", "processor"):
        got = fl.connect(pipeline.services()[name]).do_get(fl.Ticket(json.dumps(body).encode()), TIMEOUT)
        assert sorted(got.read_all()["id"].to_pylist()) == want_ids, name


def _where_tickets(text: str) -> list[tuple[dict[str, Any], str]]:
    return [
        ({"stream": "token_transfers", "where": text}, "where"),
        ({"stream": "token_transfers", "filters": {"where": text}}, "filters.where"),
        ({"stream": "ledgers", "where": text}, "where"),  # checked against the ledgers schema
    ]


@pytest.mark.parametrize(("text", "reason", "position"), HOSTILE)
def test_hostile_where_tickets_are_invalid_argument_with_the_position(
    pipeline: Pipeline, text: str, reason: str, position: int
) -> None:
    for doc, field in _where_tickets(text):
        raw = json.dumps({"v": 1, **doc}).encode()
        for name, uri in pipeline.services().items():
            with pytest.raises(fl.FlightServerError) as info:
                fl.connect(uri).do_get(fl.Ticket(raw), TIMEOUT).read_all()
            assert not isinstance(info.value, fl.FlightInternalError), name
            assert json.loads(info.value.extra_info) == {"code": "invalid_argument", "field": field}, name
            message = str(info.value)
            if doc["stream"] == "token_transfers":
                assert reason in message and f"(at position {position})" in message, (name, message)
            else:  # the same refusal, or first the unknown column (amount is no ledgers column)
                assert reason in message or "unknown column 'amount'" in message, (name, message)
                assert "(at position " in message, (name, message)
            assert "Traceback" not in message


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ({"stream": "ledger_close_meta", "where": "ledger_sequence > 1"}, "where"),
        ({"stream": "token_transfers", "where": "amount > 1", "filters": {"where": "amount > 2"}}, "where"),
        ({"stream": "token_transfers", "where": 5}, "where"),
        ({"stream": "ledgers", "where": "amount > 1"}, "where"),  # a token_transfers column
        ({"stream": "token_transfers", "filters": {"named": ["everything"]}}, "filters.named"),
        (
            {"stream": "token_transfers", "filters": {"operation_types": ["teleport"]}},
            "filters.operation_types",
        ),
    ],
)
def test_misplaced_where_and_unknown_names_are_invalid_argument(
    pipeline: Pipeline, doc: dict[str, Any], field: str
) -> None:
    raw = json.dumps({"v": 1, **doc}).encode()
    for name, uri in pipeline.services().items():
        with pytest.raises(fl.FlightServerError) as info:
            fl.connect(uri).do_get(fl.Ticket(raw), TIMEOUT).read_all()
        assert json.loads(info.value.extra_info) == {"code": "invalid_argument", "field": field}, name
