"""Load check (issue #11): 50 Flight streams + 50 WebSocket replays from cursor 0 against one sink process.

Every stream and replay gets exactly the expected rows or a clear busy refusal; the sink's peak RSS stays
under :data:`PEAK_RSS_MIB`; REST keeps answering (200 or 429, never an error or a timeout). Figures are
printed (``-s``); ``bench/bench_load.py`` runs the same scenario; docs/performance.md ("Load") has them.
Measured on the shared 2-core machine: peak 400-470 MiB from ~290 MiB at rest (the same load took the sink
from 345 MB to 1.27 GB before streaming reads and bulkheads).
"""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow.flight as fl
import pytest

from tests.integration.load.scenario import SinkProcess, build_output, run_load
from tests.unit.sink.realdata import LAST

pytestmark = [pytest.mark.integration, pytest.mark.timeout(180)]

#: The sink process's peak resident memory under the load must stay below this (MiB).
PEAK_RSS_MIB = 700
#: ... and grow by at most this much over its resting peak (MiB).
GROWTH_MIB = 400
#: REST under this load: the 95th percentile must stay below this (ms; the machine runs other work too).
REST_P95_MS = 8000


def test_fifty_streams_and_fifty_replays_keep_the_sink_bounded(tmp_path: Path) -> None:
    sink = SinkProcess(build_output(tmp_path / "out"), tmp_path)
    try:
        with fl.connect(sink.flight_uri) as client:
            status = json.loads(next(iter(client.do_action(fl.Action("status", b"")))).body.to_pybytes())
        result = run_load(sink, streams=50, replays=50)
    finally:
        sink.stop()
    print(result.summary())
    assert status["memory_pool"] == "system" and status["max_streams"] == 32  # what serve sets by default
    assert status["done"] and status["checkpoint"] == LAST
    assert set(result.flight) <= {"ok", "busy"}, result.flight
    assert set(result.websocket) <= {"ok", "busy"}, result.websocket
    assert sum(result.flight.values()) == 50 and sum(result.websocket.values()) == 50
    assert result.flight["ok"] >= 1 and result.websocket["ok"] >= 1  # the bulkheads admit their capacity
    peak = result.rss_after_kib["VmHWM"] / 1024
    rest = result.rss_before_kib["VmHWM"] / 1024
    assert peak < PEAK_RSS_MIB, result.summary()
    assert peak - rest < GROWTH_MIB, result.summary()
    assert set(result.rest_status) <= {200, 429} and result.rest_status[200] >= 1, result.rest_status
    assert result.rest_percentile(0.95) < REST_P95_MS, result.summary()
