"""Source and processor Flight services, in process on port 0, over the real sample lake."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from stellar_arrow.errors import ConfigError
from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.stream import LEDGER_CLOSE_META_SCHEMA, decode_watermark
from stellar_arrow.flight.tickets import StreamRequest, decode_request, encode_request
from stellar_arrow.query import TransferFilter
from stellar_arrow.testing import MemoryLedgerSource
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA

pytestmark = pytest.mark.integration

TIMEOUT = fl.FlightCallOptions(timeout=60)


def ticket(**kw: Any) -> fl.Ticket:
    return fl.Ticket(encode_request(StreamRequest(**kw)))


def read_ledgers(reader: fl.FlightStreamReader) -> list[tuple[int, pa.Table]]:
    """(ledger, rows) per complete watermark, checking every message carries one."""
    out: list[tuple[int, pa.Table]] = []
    pending: list[pa.RecordBatch] = []
    for chunk in reader:
        mark = decode_watermark(chunk.app_metadata.to_pybytes())
        assert mark is not None
        pending.append(chunk.data)
        if mark.complete:
            out.append((mark.ledger_sequence, pa.Table.from_batches(pending, schema=reader.schema)))
            pending = []
    return out


def status(client: fl.FlightClient) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(
        next(iter(client.do_action(fl.Action("status", b"")))).body.to_pybytes()
    )
    return body


def test_discovery_advertises_real_locations_and_schemas(source: SourceService, kit: Any) -> None:
    client = fl.connect(source.uri)
    flights = list(client.list_flights())
    assert [f.descriptor.path for f in flights] == [[b"ledger_close_meta"]]
    (info,) = flights
    assert [loc.uri for loc in info.endpoints[0].locations] == [
        f"grpc+tcp://127.0.0.1:{source.port}".encode()
    ]
    assert info.schema == LEDGER_CLOSE_META_SCHEMA
    assert info.total_records == 20  # default request: the whole sample lake

    request = StreamRequest("ledger_close_meta", start_ledger=kit.first + 5, end_ledger=kit.first + 9)
    info = client.get_flight_info(fl.FlightDescriptor.for_command(encode_request(request)))
    assert info.total_records == 5
    assert decode_request(info.endpoints[0].ticket.ticket) == request
    got = read_ledgers(client.do_get(info.endpoints[0].ticket, TIMEOUT))
    assert [seq for seq, _ in got] == list(range(kit.first + 5, kit.first + 10))

    path_schema = client.get_schema(fl.FlightDescriptor.for_path("ledger_close_meta")).schema
    assert path_schema == LEDGER_CLOSE_META_SCHEMA


def test_raw_ledgers_arrive_byte_exact(
    source: SourceService, lake_ledgers: dict[int, bytes], kit: Any
) -> None:
    client = fl.connect(source.uri)
    got = read_ledgers(client.do_get(ticket(stream="ledger_close_meta", start_ledger=kit.first), TIMEOUT))
    assert [seq for seq, _ in got] == sorted(lake_ledgers)
    for seq, rows in got:
        assert rows.column("ledger_sequence").to_pylist() == [seq]
        assert rows.column("ledger_close_meta")[0].as_py() == lake_ledgers[seq]
    assert status(client)["current_ledger"] == kit.last


def test_errors_cross_the_wire_as_flight_errors_without_tracebacks(
    source: SourceService, processor: ProcessorService
) -> None:
    client = fl.connect(source.uri)
    cases: list[tuple[Any, type[Exception], str, str]] = [
        (
            lambda: client.do_get(fl.Ticket(b"stellar_ledgers_1")).read_all(),
            fl.FlightServerError,
            "not JSON",
            "ticket",
        ),
        (
            lambda: client.do_get(ticket(stream="token_transfers")).read_all(),
            fl.FlightServerError,
            "does not serve",
            "stream",
        ),
        (
            lambda: client.do_get(fl.Ticket(b'{"v":1,"stream":"ledgers","start_ledger":0}')).read_all(),
            fl.FlightServerError,
            "start_ledger",
            "start_ledger",
        ),
        (
            lambda: client.get_flight_info(fl.FlightDescriptor.for_path("nope")),
            fl.FlightServerError,
            "does not serve",
            "stream",
        ),
        (
            lambda: list(client.do_action(fl.Action("reboot", b""))),
            fl.FlightServerError,
            "unknown action",
            "action",
        ),
    ]
    for call, cls, words, field in cases:
        with pytest.raises(cls) as info:
            call()
        assert words in str(info.value)
        assert "Traceback" not in str(info.value)
        assert json.loads(info.value.extra_info)["field"] == field
    # a range the lake does not hold: a clean data error naming the ledger, not an internal error
    with pytest.raises(fl.FlightServerError) as info:
        client.do_get(
            ticket(stream="ledger_close_meta", start_ledger=63093002, end_ledger=63093003)
        ).read_all()
    assert "63093002" in str(info.value)
    assert "Traceback" not in str(info.value)


def test_token_transfers_equal_direct_derivation(
    processor: ProcessorService, expected_transfers: dict[int, pa.Table], kit: Any
) -> None:
    client = fl.connect(processor.uri)
    info = client.get_flight_info(fl.FlightDescriptor.for_path("token_transfers"))
    assert info.schema == TOKEN_TRANSFERS_SCHEMA
    got = read_ledgers(client.do_get(ticket(stream="token_transfers", start_ledger=kit.first), TIMEOUT))
    assert [seq for seq, _ in got] == sorted(expected_transfers)
    for seq, rows in got:
        assert rows.equals(expected_transfers[seq]), seq
    assert status(client)["events_sent"] == sum(t.num_rows for t in expected_transfers.values())


def test_ticket_filters_and_resume_cursor(
    processor: ProcessorService, expected_transfers: dict[int, pa.Table], kit: Any
) -> None:
    client = fl.connect(processor.uri)
    request = StreamRequest(
        "token_transfers",
        start_ledger=kit.first,
        end_ledger=kit.last,
        filters=TransferFilter(event_types=("transfer",), assets=("native",)),
        resume_after=kit.first + 9,
    )
    got = read_ledgers(client.do_get(fl.Ticket(encode_request(request)), TIMEOUT))
    assert [seq for seq, _ in got] == list(range(kit.first + 10, kit.last + 1))
    total = 0
    for seq, rows in got:
        want = expected_transfers[seq]
        mask = [
            e == "transfer" and a == "native"
            for e, a in zip(want["event_type"].to_pylist(), want["asset"].to_pylist(), strict=True)
        ]
        assert rows.equals(want.filter(pa.array(mask))), seq
        total += rows.num_rows
    assert total > 0


def test_fan_out_each_client_gets_the_whole_stream(
    processor: ProcessorService, expected_transfers: dict[int, pa.Table], kit: Any
) -> None:
    results: dict[int, list[tuple[int, pa.Table]]] = {}

    def consume(i: int) -> None:
        client = fl.connect(processor.uri)
        results[i] = read_ledgers(
            client.do_get(ticket(stream="token_transfers", start_ledger=kit.first), TIMEOUT)
        )

    threads = [threading.Thread(target=consume, args=(i,)) for i in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert sorted(results) == [0, 1, 2]
    for got in results.values():
        assert [seq for seq, _ in got] == sorted(expected_transfers)
        assert sum(rows.num_rows for _, rows in got) == sum(t.num_rows for t in expected_transfers.values())
    # the three clients shared one derivation per ledger (cache keyed by ledger sequence)
    assert status(fl.connect(processor.uri))["ledgers_derived"] == 20


def test_slow_consumer_gets_backpressure_not_drops(sample_lake: Path, kit: Any) -> None:
    server = SourceService(kit.lake_source(sample_lake), first_ledger=kit.first, buffer_size=1)
    try:
        client = fl.connect(server.uri)
        reader = client.do_get(ticket(stream="ledger_close_meta", start_ledger=kit.first), TIMEOUT)
        first = reader.read_chunk()
        time.sleep(1.0)
        sent = status(client)["current_ledger"]
        # ~1 MB ledgers: gRPC flow control holds the generator a few ledgers ahead, not at the end
        assert sent is not None and sent < kit.last
        rest = [decode_watermark(c.app_metadata.to_pybytes()) for c in reader]
        seqs = [decode_watermark(first.app_metadata.to_pybytes()).ledger_sequence]  # type: ignore[union-attr]
        seqs += [m.ledger_sequence for m in rest if m is not None]
        assert seqs == list(range(kit.first, kit.last + 1))
    finally:
        server.stop()


def test_live_stream_follows_the_tip_then_cancels(lake_ledgers: dict[int, bytes], kit: Any) -> None:
    first_three = {seq: lake_ledgers[seq] for seq in range(kit.first, kit.first + 3)}
    tip = MemoryLedgerSource(first_three, network_passphrase=kit.passphrase, poll_interval=0.02)
    server = SourceService(tip.opener(), first_ledger=kit.first)
    try:
        client = fl.connect(server.uri)
        reader = client.do_get(ticket(stream="ledger_close_meta", start_ledger=kit.first, live=True))
        seen: list[int] = []

        def read_n(n: int) -> None:
            while len(seen) < n:
                mark = decode_watermark(reader.read_chunk().app_metadata.to_pybytes())
                assert mark is not None
                seen.append(mark.ledger_sequence)

        read_n(3)
        for seq in range(kit.first + 3, kit.first + 8):
            tip.publish(lake_ledgers[seq])  # the ledger appears at the source's tip
        read_n(8)
        assert seen == list(range(kit.first, kit.first + 8))
        assert status(client)["active_streams"] == 1
        reader.cancel()
        deadline = time.monotonic() + 5
        while status(client)["active_streams"] and time.monotonic() < deadline:
            time.sleep(0.05)
        assert status(client)["active_streams"] == 0
    finally:
        server.stop()


def test_server_stop_ends_a_waiting_live_stream_promptly(lake_ledgers: dict[int, bytes], kit: Any) -> None:
    tip = MemoryLedgerSource({kit.first: lake_ledgers[kit.first]}, network_passphrase=kit.passphrase)
    server = SourceService(tip.opener(), first_ledger=kit.first)
    client = fl.connect(server.uri)
    reader = client.do_get(ticket(stream="ledger_close_meta", start_ledger=kit.first, live=True))
    assert decode_watermark(reader.read_chunk().app_metadata.to_pybytes()).ledger_sequence == kit.first  # type: ignore[union-attr]
    started = time.monotonic()
    server.stop()
    assert time.monotonic() - started < 2.0
    with pytest.raises((fl.FlightCancelledError, fl.FlightUnavailableError)):
        reader.read_chunk()


def test_processor_survives_a_source_restart(
    sample_lake: Path, expected_transfers: dict[int, pa.Table], kit: Any
) -> None:
    source = SourceService(kit.lake_source(sample_lake), first_ledger=kit.first)
    port = source.port
    processor = kit.make_processor(source.uri, reconnect_timeout_s=20.0, in_flight=1)
    try:
        client = fl.connect(processor.uri)
        reader = client.do_get(ticket(stream="token_transfers", start_ledger=kit.first), TIMEOUT)
        chunks = [reader.read_chunk() for _ in range(3)]
        source.stop()
        time.sleep(0.3)
        source = SourceService(kit.lake_source(sample_lake), first_ledger=kit.first, port=port)
        chunks += list(reader)
        marks = [decode_watermark(c.app_metadata.to_pybytes()) for c in chunks]
        seqs = [m.ledger_sequence for m in marks if m is not None and m.complete]
        assert seqs == list(range(kit.first, kit.last + 1))  # nothing lost, nothing repeated
        rows = sum(c.data.num_rows for c in chunks)
        assert rows == sum(t.num_rows for t in expected_transfers.values())
        assert status(client)["upstream_reconnects"] >= 1
    finally:
        processor.stop()
        source.stop()


def test_a_busy_port_is_a_config_error_naming_the_key(
    source: SourceService, sample_lake: Path, kit: Any
) -> None:
    with pytest.raises(ConfigError) as info:
        SourceService(kit.lake_source(sample_lake), first_ledger=kit.first, port=source.port)
    assert info.value.key == "source.flight_port"
    assert str(source.port) in str(info.value)
