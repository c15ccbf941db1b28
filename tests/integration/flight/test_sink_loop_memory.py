"""The sink loop drives any Sink: real source and processor services feed a MemorySink over Flight.

The source serves real pubnet ledgers from a MemoryLedgerSource (the sample lake's bytes), so the test is
about the seam between the loop and the sink: what is committed, the resume state, a restart.
"""

from __future__ import annotations

import time
from typing import Any

import pyarrow as pa
import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.flight.sink_service import SinkService, TableUpstream
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.pipeline.components import table_builder
from stellar_arrow.testing import MemoryLedgerSource, MemorySink
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA

pytestmark = pytest.mark.integration


def _run(sink: MemorySink, source: SourceService, processor: Any, first: int, last: int) -> SinkService:
    upstreams = (TableUpstream("ledgers", source.uri), TableUpstream("token_transfers", processor.uri))
    service = SinkService(sink, upstreams, start_ledger=first, end_ledger=last)
    service.start()
    deadline = time.monotonic() + 60
    while not (service.loop.done.is_set() or service.loop.failed) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert service.loop.done.is_set(), service.loop.error
    return service


def test_memory_sink_collects_the_tables_and_resumes_at_its_snapshot(
    lake_ledgers: dict[int, bytes], expected_transfers: dict[int, pa.Table], kit: Any
) -> None:
    memory = MemoryLedgerSource(lake_ledgers, network_passphrase=kit.passphrase)
    tables = table_builder(load_settings())
    source = SourceService(memory.opener(), first_ledger=kit.first, tables=tables)
    processor = kit.make_processor(source.uri)
    schemas = {"ledgers": tables.schemas["ledgers"], "token_transfers": TOKEN_TRANSFERS_SCHEMA}
    middle = kit.first + 9
    try:
        sink = MemorySink(schemas, commit_every=4)
        service = _run(sink, source, processor, kit.first, middle)
        assert service.status()["output_dir"] == "memory" and service.status()["checkpoint"] == middle
        service.stop()
        assert sink.snapshot() == middle + 1
        assert sink.committed("ledgers").column("sequence").to_pylist() == list(range(kit.first, middle + 1))

        again = sink.restart()  # as after a crash: the loop asks the sink where to resume
        service = _run(again, source, processor, kit.first, kit.last)
        service.stop()
        assert again.snapshot() == kit.last + 1
        assert again.stats().rows_dropped_replayed == 0  # the upstreams were asked to resume after it
        want = pa.concat_tables(expected_transfers[s] for s in sorted(expected_transfers))
        assert again.committed("token_transfers").equals(want)
        sequences = again.committed("ledgers").column("sequence").to_pylist()
        assert sequences == list(range(kit.first, kit.last + 1))
    finally:
        processor.stop()
        source.stop()
