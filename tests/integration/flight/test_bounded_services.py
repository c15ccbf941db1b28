"""Source and processor under hostile ranges, ledgers_in_flight, and the downloads/decoders bulkheads."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path
from typing import Any

import pyarrow.flight as fl
import pytest

from stellar_arrow.build import OrderedPool
from stellar_arrow.config import SinkSettings
from stellar_arrow.errors import BusyError
from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.sink_service import SinkService, TableUpstream
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.resilience.bulkhead import Bulkhead, bulkhead_for
from stellar_arrow.sink import DatasetSink
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA

pytestmark = pytest.mark.integration

FIRST, LAST = 63092982, 63093001


def _ticket(**fields: Any) -> fl.Ticket:
    return fl.Ticket(json.dumps({"v": 1, **fields}).encode())


@pytest.mark.parametrize(
    ("start", "end"), [(1, 4294967295), (FIRST, 4294967295), (LAST + 1, 4294967295), (1, FIRST)]
)
@pytest.mark.parametrize("stream", ["ledger_close_meta", "token_transfers"])
def test_ranges_the_lake_does_not_hold_are_refused_promptly(
    source: SourceService, processor: ProcessorService, stream: str, start: int, end: int
) -> None:
    """Source and processor stream ledger by ledger (bounded memory whatever the range) and fail with a data
    error naming the first ledger the lake lacks: at once when the start is missing, else after the last
    ledger it holds."""
    service = source if stream == "ledger_close_meta" else processor
    started = time.monotonic()
    with fl.connect(service.uri) as client, pytest.raises(fl.FlightError) as caught:
        reader = client.do_get(_ticket(stream=stream, start_ledger=start, end_ledger=end))
        reader.read_all()
    assert time.monotonic() - started < 30
    err = caught.value
    assert not isinstance(err, fl.FlightInternalError), err  # a data error naming the ledger, never a 500
    assert "Traceback" not in str(err)
    # names the first ledger it lacks: the start before the lake, or the one after its newest
    assert any(f"ledger {n}" in str(err) for n in (start, LAST + 1)), str(err)


def _in_flight(stage: str) -> float:
    return REGISTRY.get_sample_value("ledgers_in_flight", {"stage": stage}) or 0.0


def test_ledgers_in_flight_counts_read_ahead_and_returns_to_zero(
    source: SourceService, processor: ProcessorService
) -> None:
    with fl.connect(processor.uri) as client:
        reader = client.do_get(_ticket(stream="ledgers", start_ledger=FIRST, end_ledger=LAST))
        reader.read_chunk()  # then stop reading: the services read ahead into their bounded buffers
        deadline = time.monotonic() + 20
        while _in_flight("source") < 1 or _in_flight("processor") < 1:
            assert time.monotonic() < deadline, (_in_flight("source"), _in_flight("processor"))
            time.sleep(0.05)
        assert _in_flight("source") <= LAST - FIRST + 1
        reader.cancel()
    deadline = time.monotonic() + 20
    while _in_flight("source") or _in_flight("processor"):
        assert time.monotonic() < deadline, (_in_flight("source"), _in_flight("processor"))
        time.sleep(0.05)


def test_the_sink_has_no_ledger_in_flight_once_everything_is_committed(
    source: SourceService, processor: ProcessorService, tmp_path: Path
) -> None:
    options = SinkSettings(flush_interval_s=3600)
    sink = SinkService(
        DatasetSink(tmp_path, {"token_transfers": TOKEN_TRANSFERS_SCHEMA}, options),
        (TableUpstream("token_transfers", processor.uri),),
        start_ledger=FIRST,
        end_ledger=FIRST + 4,
    )
    try:
        sink.start()
        assert sink.loop.done.wait(60), sink.loop.error
        assert sink.sink.snapshot() == FIRST + 5
        assert _in_flight("sink") == 0
    finally:
        sink.stop()


def test_lake_downloads_share_the_process_bulkhead(sample_lake: Path) -> None:
    downloads = bulkhead_for("downloads", 1, max_wait_s=30.0)
    peak = 0
    done = threading.Event()

    def watch() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, downloads.in_use)
            time.sleep(0.001)

    def read(into: list[int]) -> None:
        with DataLakeLedgerSource(str(sample_lake), workers=4, max_downloads=1) as lake:
            into.extend(r.ledger_sequence for r in lake.ledgers(FIRST, LAST))

    watcher = threading.Thread(target=watch)
    watcher.start()
    got: list[list[int]] = [[], []]
    readers = [threading.Thread(target=read, args=(into,)) for into in got]
    for t in readers:
        t.start()
    for t in readers:
        t.join(60)
    done.set()
    watcher.join()
    assert got == [list(range(FIRST, LAST + 1))] * 2
    assert peak == 1 and downloads.in_use == 0


def test_a_download_without_a_slot_in_time_fails_busy(sample_lake: Path) -> None:
    held = bulkhead_for("downloads", 1, max_wait_s=0.0)
    held.acquire()  # another stream's download in progress
    try:
        lake = DataLakeLedgerSource(str(sample_lake), max_downloads=1, download_wait_s=0.0)
        with lake, pytest.raises(BusyError, match="downloads"):
            next(iter(lake.ledgers(FIRST, LAST)))
    finally:
        held.release()


def test_in_process_decodes_wait_for_a_decoder_slot() -> None:
    decoders = Bulkhead("decoders_test", 1, max_wait_s=30)
    running, peak, lock = 0, 0, threading.Lock()

    def decode(value: int) -> int:
        nonlocal running, peak
        with lock:
            running += 1
            peak = max(peak, running)
        time.sleep(0.005)
        with lock:
            running -= 1
        return value * 2

    pool: OrderedPool[int, int] = OrderedPool(decode, workers=0, decoders=decoders)
    results: list[list[tuple[int, int]]] = [[], [], []]

    def stream(into: list[tuple[int, int]]) -> None:
        into.extend(pool.ordered(((i, i) for i in range(40)), in_flight=4))

    threads = [threading.Thread(target=stream, args=(into,)) for into in results]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert results == [[(i, 2 * i) for i in range(40)]] * 3
    assert peak == 1
