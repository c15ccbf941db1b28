"""Object-store faults on loopback: an S3 endpoint that never answers; a moto S3 that stalls and recovers."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from stellar_arrow.errors import StorageError
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.resilience import BreakerSettings, NetworkTimeouts, RetryPolicy
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.source.storage import LakeStore
from tests.integration.resilience.tcp_faults import FaultyTcpProxy

from .conftest import BUCKET, LAKES, PUBNET, ROOT, s3_options

pytestmark = pytest.mark.integration
FIRST, LAST = 63092982, 63093001
# the tests against a silent endpoint name their own bucket: breakers are per bucket and process-wide, and
# their failures must not open the breaker of the stalling moto test
SILENT = "silent-endpoint"


def _value(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


@pytest.fixture
def silent_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def test_an_s3_endpoint_that_never_answers_fails_within_the_timeouts(silent_port: int) -> None:
    options = s3_options(f"http://127.0.0.1:{silent_port}")
    limits = NetworkTimeouts(connect_s=1, read_s=1, call_s=3)
    policy = RetryPolicy(attempts=10, first_wait_s=0.1, max_wait_s=0.2, budget_s=3)
    store = LakeStore(f"s3://{SILENT}/{ROOT}", storage_options=options, timeouts=limits, retry=policy)
    started = time.monotonic()
    with pytest.raises(StorageError, match=rf"s3://{SILENT}/{ROOT}/.config.json: read failed: .*[Tt]imeout"):
        store.read(".config.json")
    elapsed = time.monotonic() - started
    assert elapsed < 8, elapsed  # not 200 s: one retry layer, bounded attempts


def test_a_stalling_s3_recovers_and_the_bytes_are_complete(s3_endpoint: str) -> None:
    local = dict(DataLakeLedgerSource(str(LAKES / "pubnet-p26")).ledgers(FIRST, LAST))
    host, port = s3_endpoint.removeprefix("http://").split(":")
    retries_before = _value("retry_attempts_total", operation="lake_read")
    with FaultyTcpProxy((host, int(port)), fault="stall", count=3) as proxy:
        source = DataLakeLedgerSource(
            f"s3://{BUCKET}/{ROOT}",
            network_passphrase=PUBNET,
            storage_options=s3_options(f"http://127.0.0.1:{proxy.port}"),
            timeouts=NetworkTimeouts(connect_s=1, read_s=0.5, call_s=2),
            retry=RetryPolicy(attempts=8, first_wait_s=0.05, max_wait_s=0.2, budget_s=15),
            breaker=BreakerSettings(failures=10, reset_s=1),
            workers=2,
        )
        assert dict(source.ledgers(FIRST, LAST)) == local
    assert proxy.connections > 3
    assert _value("retry_attempts_total", operation="lake_read") - retries_before >= 1


def test_one_attempt_of_ours_is_one_request_to_s3(silent_port: int) -> None:
    """botocore's own retries are off: its ``max_attempts`` counts retries after the first request, so the
    store sets ``total_max_attempts: 1``; a stalled read is one connection, and our retry layer sees it."""
    with FaultyTcpProxy(("127.0.0.1", silent_port), fault="stall", count=100) as proxy:
        options = s3_options(f"http://127.0.0.1:{proxy.port}")
        limits = NetworkTimeouts(connect_s=1, read_s=0.3, call_s=3)
        store = LakeStore(
            f"s3://{SILENT}-1/{ROOT}", storage_options=options, timeouts=limits, retry_attempts=1
        )
        with pytest.raises(StorageError, match="read failed"):
            store.read(".config.json")
        assert proxy.connections == 1
        two = LakeStore(
            f"s3://{SILENT}-2/{ROOT}",
            storage_options=options,
            timeouts=limits,
            retry=RetryPolicy(attempts=2, first_wait_s=0.01, max_wait_s=0.01, budget_s=5),
            breaker=BreakerSettings(failures=10, reset_s=1),
        )
        with pytest.raises(StorageError, match="read failed"):
            two.read(".config.json")
        assert proxy.connections == 3
