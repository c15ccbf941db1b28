"""The circuit breaker of a Flight upstream, with real Flight services on loopback.

An upstream that is down opens its breaker (``circuit_breaker_state{name="flight:grpc://host:port"}``
= 1) while the stream keeps waiting within its reconnect budget; once the service is up the trial
succeeds, the breaker closes and every ledger arrives once. A terminal refusal of the upstream (a
ledger object it cannot read) stops the stream at once with :class:`UpstreamError` and does not count
against the breaker.
"""

from __future__ import annotations

import functools
import shutil
import socket
import threading
import time
from pathlib import Path

import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.errors import UpstreamError, UpstreamUnavailableError
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.stream import Cancellation
from stellar_arrow.flight.tickets import StreamRequest
from stellar_arrow.flight.upstream import UpstreamLedger, UpstreamStream
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.pipeline.components import flight_upstream_breaker
from stellar_arrow.resilience.breaker import UpstreamBreaker
from stellar_arrow.source.keys import LakeSchema
from stellar_arrow.source.lake import DataLakeLedgerSource
from tests.conftest import DATA

pytestmark = pytest.mark.integration
FIRST, LAST = 63092982, 63093001
LAKE = DATA / "lakes" / "pubnet-p26"


def _value(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _source(lake: Path, port: int = 0) -> SourceService:
    return SourceService(functools.partial(DataLakeLedgerSource, str(lake)), first_ledger=FIRST, port=port)


def test_a_down_upstream_opens_its_breaker_and_a_recovered_one_closes_it() -> None:
    port = _free_port()
    name = f"flight:grpc://127.0.0.1:{port}"
    breaker = UpstreamBreaker(name, failures=2, reset_s=0.5)
    stream = UpstreamStream(
        f"grpc://127.0.0.1:{port}",
        StreamRequest("ledger_close_meta", start_ledger=FIRST, end_ledger=FIRST + 4),
        Cancellation(threading.Event()),
        reconnect_timeout_s=30,
        breaker=breaker,
    )
    got: list[UpstreamLedger] = []
    errors: list[BaseException] = []

    def read() -> None:
        try:
            got.extend(stream)
        except BaseException as exc:  # reported below
            errors.append(exc)

    opened_before = _value("circuit_breaker_transitions_total", name=name, state="open")
    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    deadline = time.monotonic() + 15
    while _value("circuit_breaker_state", name=name) != 1 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _value("circuit_breaker_state", name=name) == 1  # open: the upstream is down
    assert breaker.state == "open" and not got
    server = _source(LAKE, port)  # the upstream comes up at its address
    try:
        reader.join(30)
    finally:
        server.stop()
    assert not reader.is_alive() and errors == []
    want = dict(DataLakeLedgerSource(str(LAKE)).ledgers(FIRST, FIRST + 4))
    assert [ledger.ledger_sequence for ledger in got] == list(want)
    assert _value("circuit_breaker_state", name=name) == 0  # closed again
    assert _value("circuit_breaker_transitions_total", name=name, state="open") - opened_before >= 1
    assert _value("circuit_breaker_transitions_total", name=name, state="half-open") >= 1
    assert _value("circuit_breaker_transitions_total", name=name, state="closed") >= 1
    assert stream.reconnects >= 2


def test_a_terminal_refusal_stops_at_once_without_tripping_the_breaker(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(LAKE, lake)
    broken = lake / LakeSchema(1, 64000, "zst").batch_key(FIRST + 2).key
    broken.write_bytes(b"not zstd at all")
    server = _source(lake)
    breaker = UpstreamBreaker(f"flight:{server.uri}-terminal", failures=1, reset_s=60)
    stream = UpstreamStream(
        server.uri,
        StreamRequest("ledger_close_meta", start_ledger=FIRST, end_ledger=FIRST + 4),
        Cancellation(threading.Event()),
        reconnect_timeout_s=30,
        breaker=breaker,
    )
    got: list[int] = []
    started = time.monotonic()
    try:
        with pytest.raises(UpstreamError) as refused:
            got.extend(ledger.ledger_sequence for ledger in stream)
    finally:
        server.stop()
    assert time.monotonic() - started < 5  # not the 30 s reconnect budget
    assert not isinstance(refused.value, UpstreamUnavailableError)  # terminal: exit status 1, not 3
    assert f"upstream {server.uri} refused stream 'ledger_close_meta'" in str(refused.value)
    assert broken.name in str(refused.value)
    assert got == [FIRST, FIRST + 1]
    assert breaker.state == "closed"


def test_the_services_share_one_breaker_per_upstream_with_the_flight_settings() -> None:
    settings = load_settings(flight={"breaker_failures": 7, "breaker_reset_s": 3.0})
    endpoint = f"grpc://127.0.0.1:{_free_port()}"
    breaker = flight_upstream_breaker(settings, endpoint)
    assert breaker.name == f"flight:{endpoint}"
    assert breaker.reset_s == 3.0
    stream = UpstreamStream(
        endpoint, StreamRequest("ledger_close_meta", start_ledger=FIRST), Cancellation(threading.Event())
    )
    assert stream.breaker is breaker
    assert _value("circuit_breaker_state", name=f"flight:{endpoint}") == 0
