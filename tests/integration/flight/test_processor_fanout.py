"""Processor streams asking for the same range together share one upstream stream of the source."""

from __future__ import annotations

import threading
from typing import Any

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.vocabulary import TABLES

pytestmark = pytest.mark.integration


def _read_together(uri: str, requests: list[StreamRequest]) -> list[pa.Table]:
    """Open every request at once (one client each) and read them in lockstep, as a sink does."""
    clients = [fl.connect(uri) for _ in requests]
    readers = [c.do_get(fl.Ticket(encode_request(r))) for c, r in zip(clients, requests, strict=True)]
    batches: list[list[pa.RecordBatch]] = [[] for _ in requests]
    live = list(range(len(requests)))
    while live:
        for i in list(live):
            try:
                batches[i].append(readers[i].read_chunk().data)
            except StopIteration:
                live.remove(i)
    for c in clients:
        c.close()
    return [pa.Table.from_batches(b, schema=r.schema) for b, r in zip(batches, readers, strict=True)]


def test_a_sinks_streams_share_one_upstream_and_get_every_row(
    source: SourceService, processor: ProcessorService, expected_transfers: dict[int, pa.Table], kit: Any
) -> None:
    requests = [StreamRequest(t, start_ledger=kit.first, end_ledger=kit.last) for t in TABLES]
    tables = _read_together(processor.uri, requests)
    got = dict(zip(TABLES, tables, strict=True))
    want = pa.concat_tables([expected_transfers[s] for s in range(kit.first, kit.last + 1)])
    assert got["token_transfers"].equals(want)
    assert got["ledgers"].column("sequence").to_pylist() == list(range(kit.first, kit.last + 1))
    assert got["transactions"].num_rows > 0 and got["operations"].num_rows > 0
    # the four streams read the source once
    assert source.status()["streams_served"] == 1
    assert processor.status()["ledgers_derived"] == kit.last - kit.first + 1


def test_streams_of_other_ranges_or_later_read_their_own_upstream(
    source: SourceService, processor: ProcessorService, expected_transfers: dict[int, pa.Table], kit: Any
) -> None:
    first = StreamRequest("token_transfers", start_ledger=kit.first, end_ledger=kit.first + 3)
    other = StreamRequest("token_transfers", start_ledger=kit.first + 4, end_ledger=kit.first + 6)
    a, b = _read_together(processor.uri, [first, other])
    assert a.equals(pa.concat_tables([expected_transfers[s] for s in range(kit.first, kit.first + 4)]))
    assert b.equals(pa.concat_tables([expected_transfers[s] for s in range(kit.first + 4, kit.first + 7)]))
    assert source.status()["streams_served"] == 2
    # later, the same range: served from the processor's cache (no upstream needed), same rows
    (again,) = _read_together(processor.uri, [first])
    assert again.equals(a)


def test_a_subscriber_leaving_early_does_not_stop_the_others(
    source: SourceService, processor: ProcessorService, expected_transfers: dict[int, pa.Table], kit: Any
) -> None:
    request = StreamRequest("token_transfers", start_ledger=kit.first, end_ledger=kit.last)
    quitter = fl.connect(processor.uri)
    reader = quitter.do_get(fl.Ticket(encode_request(request)))
    reader.read_chunk()  # subscribed and got the first ledger
    result: dict[str, pa.Table] = {}
    stayer = threading.Thread(
        target=lambda: result.update(
            t=fl.connect(processor.uri).do_get(fl.Ticket(encode_request(request))).read_all()
        )
    )
    stayer.start()
    reader.cancel()
    quitter.close()
    stayer.join(timeout=60)
    assert not stayer.is_alive()
    want = pa.concat_tables([expected_transfers[s] for s in range(kit.first, kit.last + 1)])
    assert result["t"].equals(want)


def test_an_upstream_error_reaches_every_subscriber(source: SourceService, kit: Any) -> None:
    """A range past the lake's end: every stream sharing the upstream fails naming the missing ledger."""
    processor = kit.make_processor(source.uri, reconnect_timeout_s=5.0)
    try:
        requests = [
            StreamRequest(t, start_ledger=kit.last - 1, end_ledger=kit.last + 2)
            for t in ("ledgers", "token_transfers")
        ]
        clients = [fl.connect(processor.uri) for _ in requests]
        errors = []
        for client, request in zip(clients, requests, strict=True):
            with pytest.raises(fl.FlightError) as info:
                client.do_get(fl.Ticket(encode_request(request))).read_all()
            errors.append(str(info.value))
            client.close()
        assert all(str(kit.last + 1) in e for e in errors), errors
    finally:
        processor.stop()
