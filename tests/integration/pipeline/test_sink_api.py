"""The sink service's HTTP API in process: port binding, readiness from the upstreams, the source tip."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.pipeline.components import build_processor, build_sink, build_source
from stellar_arrow.pipeline.sink_api import bind_api_socket, start_sink_api

pytestmark = pytest.mark.integration


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_taken_api_port_fails_naming_the_key_unless_fallback_is_set() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(ConfigError) as info:
            bind_api_socket("127.0.0.1", port, fallback=False)
        assert info.value.key == "api.api_port"
        assert f"127.0.0.1:{port}" in str(info.value)
        with bind_api_socket("127.0.0.1", port, fallback=True) as moved:
            assert moved.getsockname()[1] not in (0, port)
            with socket.create_connection(moved.getsockname(), timeout=2):
                pass  # listening


def _ready(http: httpx.Client, want: int, contains: str = "", timeout: float = 15) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        response = http.get("/ready")
        body: dict[str, Any] = response.json()
        if response.status_code == want and contains in body.get("reason", ""):
            return body
        assert time.monotonic() < deadline, body
        time.sleep(0.1)


def test_readiness_follows_the_processor_and_the_lag_follows_the_source(tmp_path: Path, kit: Any) -> None:
    processor_port = _free_port()  # nothing listens there yet
    settings = load_settings(
        source={"datalake_uri": str(kit.sample_lake), "flight_port": 0, "health_port": 0, "table_workers": 0},
        api={"api_port": 0},
    )
    source = build_source(settings)
    settings = load_settings(
        source={"datalake_uri": str(kit.sample_lake), "table_workers": 0},
        processor={"source_endpoint": source.uri},
        sink={
            "source_endpoint": source.uri,
            "processor_endpoint": f"grpc://127.0.0.1:{processor_port}",
            "output_dir": str(tmp_path / "out"),
        },
        api={"api_port": 0},
    )
    sink = build_sink(settings, port=0)
    api = start_sink_api(sink, settings.api, source_endpoint=source.uri)
    processor = None
    port = api.server.port
    try:
        http = httpx.Client(base_url=api.base_url, timeout=10)
        body = _ready(http, 503, f"127.0.0.1:{processor_port}")  # the processor is down: not ready
        assert source.uri not in body["reason"]  # the source answers
        deadline = time.monotonic() + 15
        while http.get("/api/v1/status").json()["progress"]["source_tip"] != kit.last:
            assert time.monotonic() < deadline, "the source tip never reached the dashboard status"
            time.sleep(0.1)
        processor = build_processor(settings, port=processor_port)
        assert _ready(http, 200) == {"status": "ready"}
        assert http.get("/").headers["content-type"].startswith("text/html")
        http.close()
    finally:
        api.stop()
        sink.stop()
        if processor is not None:
            processor.stop()
        source.stop()
    with pytest.raises(OSError), socket.create_connection(("127.0.0.1", port), timeout=2):
        pass
