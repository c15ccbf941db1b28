"""RPC faults on loopback: 5xx (plain and JSON), 429 with Retry-After, hangs, slow replies, failover."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from starlette.responses import Response

from stellar_arrow.errors import CircuitOpenError, NetworkMismatchError, RpcTransientError
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.resilience import BreakerSettings, NetworkTimeouts, RetryPolicy
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.source.rpc import RpcLedgerSource
from stellar_arrow.source.rpc_replay import ReplayLake

from .conftest import LAKES, PUBNET, AppServer, RpcProxy

pytestmark = pytest.mark.integration
FIRST, LAST = 63092982, 63093001
FAST = RetryPolicy(attempts=6, first_wait_s=0.01, max_wait_s=0.05, budget_s=10)


def _value(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


@pytest.fixture(scope="module")
def lake_ledgers() -> dict[int, bytes]:
    return dict(DataLakeLedgerSource(str(LAKES / "pubnet-p26")).ledgers(FIRST, LAST))


def _reply(status: int, body: bytes, headers: dict[str, str] | None = None, media: str = "text/plain") -> Any:
    return lambda method, request, reply: Response(
        body, status_code=status, headers=headers, media_type=media
    )


@pytest.mark.parametrize(
    "fault",
    [
        _reply(500, b"Internal Server Error"),
        _reply(500, orjson.dumps({"error": "upstream core unavailable"}), media="application/json"),
        _reply(502, b"<html>bad gateway</html>", media="text/html"),
        _reply(504, b""),
    ],
    ids=["500 plain", "500 json", "502 html", "504 empty"],
)
def test_5xx_bursts_are_retried_to_the_same_ledgers(
    proxy: tuple[RpcProxy, str], lake_ledgers: dict[int, bytes], fault: Any
) -> None:
    rpc, url = proxy
    before = _value("retry_attempts_total", operation="rpc_getLedgers")
    rpc.faults = [None, None, fault, fault, fault]  # getNetwork, getHealth pass; three getLedgers fail
    with RpcLedgerSource(url, network_passphrase=PUBNET, page_size=10, retry=FAST) as source:
        got = dict(source.ledgers(FIRST, LAST))
    assert got == lake_ledgers
    assert _value("retry_attempts_total", operation="rpc_getLedgers") - before == 3


def test_429_retry_after_is_honoured(proxy: tuple[RpcProxy, str]) -> None:
    rpc, url = proxy
    rpc.faults = [_reply(429, b"slow down", headers={"Retry-After": "1"})]
    with RpcLedgerSource(url, retry=FAST) as source:
        started = time.monotonic()
        assert source.latest_ledger() == LAST
        elapsed = time.monotonic() - started
    assert elapsed >= 1.0  # the backoff alone would have been ~10 ms
    assert rpc.methods() == ["getHealth", "getHealth"]


def test_persistent_5xx_stops_with_the_cause(proxy: tuple[RpcProxy, str]) -> None:
    rpc, url = proxy
    rpc.faults = [_reply(500, b"database is locked")] * 20
    policy = RetryPolicy(attempts=3, first_wait_s=0.01, max_wait_s=0.02, budget_s=5)
    with (
        RpcLedgerSource(url, retry=policy) as source,
        pytest.raises(RpcTransientError, match=r"getHealth at .*: HTTP 500 .*database is locked") as info,
    ):
        source.get_health()
    assert info.value.code == 500


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A TCP port that accepts connections (kernel backlog) and never answers."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(64)
        yield sock.getsockname()[1]


def test_an_endpoint_that_never_answers_fails_within_the_timeouts(silent_port: int) -> None:
    limits = NetworkTimeouts(connect_s=1, read_s=0.5, call_s=2)
    policy = RetryPolicy(attempts=10, first_wait_s=0.05, max_wait_s=0.1, budget_s=2)
    started = time.monotonic()
    with (
        RpcLedgerSource(f"http://127.0.0.1:{silent_port}/", timeouts=limits, retry=policy) as source,
        pytest.raises(RpcTransientError, match="ReadTimeout"),
    ):
        source.get_health()
    assert time.monotonic() - started < 4


def test_a_reply_that_trickles_past_the_call_timeout(replay_lake: ReplayLake) -> None:
    import asyncio

    from starlette.applications import Starlette
    from starlette.responses import StreamingResponse
    from starlette.routing import Route

    async def trickle(request: Any) -> StreamingResponse:
        async def body() -> Any:
            for _ in range(100):
                yield b" "
                await asyncio.sleep(0.1)

        return StreamingResponse(body(), media_type="application/json")

    app = Starlette(routes=[Route("/", trickle, methods=["POST"])])
    limits = NetworkTimeouts(connect_s=1, read_s=1, call_s=0.5)
    policy = RetryPolicy(attempts=2, first_wait_s=0.01, max_wait_s=0.01, budget_s=1)
    with AppServer(app) as server, RpcLedgerSource(server.url, timeouts=limits, retry=policy) as source:
        started = time.monotonic()
        with pytest.raises(RpcTransientError, match=r"not complete within 0.5 s"):
            source.get_health()
        assert time.monotonic() - started < 3


def test_failover_to_a_second_endpoint(
    proxy: tuple[RpcProxy, str], silent_port: int, lake_ledgers: dict[int, bytes]
) -> None:
    rpc, good = proxy
    dead = f"http://127.0.0.1:{silent_port}/"
    limits = NetworkTimeouts(connect_s=1, read_s=3, call_s=30)  # generous for the good one on a busy host
    breaker = BreakerSettings(failures=1, reset_s=60)
    with RpcLedgerSource(
        [dead, good], network_passphrase=PUBNET, timeouts=limits, retry=FAST, breaker=breaker, page_size=20
    ) as source:
        assert dict(source.ledgers(FIRST, LAST)) == lake_ledgers
    assert _value("circuit_breaker_state", name=f"rpc:http://127.0.0.1:{silent_port}") == 1  # the dead one
    assert rpc.methods()[:3] == ["getNetwork", "getHealth", "getLedgers"]


def test_failover_checks_the_network_of_the_next_endpoint(
    proxy: tuple[RpcProxy, str], silent_port: int
) -> None:
    testnet = RpcProxy(ReplayLake(str(LAKES / "testnet" / "2025-06-18")))
    with AppServer(testnet.app()) as other:
        rpc, good = proxy
        rpc.faults = [None] + [_reply(503, b"down")] * 50  # getNetwork passes, then the first one fails
        breaker = BreakerSettings(failures=1, reset_s=60)
        with (
            RpcLedgerSource(
                [good, other.url], network_passphrase=PUBNET, retry=FAST, breaker=breaker
            ) as source,
            pytest.raises(NetworkMismatchError, match=rf"{other.url} serves network 'Test SDF Network"),
        ):
            list(source.ledgers(FIRST, FIRST))


def test_all_breakers_open_is_a_clear_error(silent_port: int) -> None:
    dead = f"http://127.0.0.1:{silent_port}/x"
    limits = NetworkTimeouts(connect_s=1, read_s=0.2, call_s=1)
    policy = RetryPolicy(attempts=5, first_wait_s=0.01, max_wait_s=0.02, budget_s=1.5)
    with (
        RpcLedgerSource(dead, timeouts=limits, retry=policy, breaker=BreakerSettings(2, 30)) as source,
        pytest.raises(CircuitOpenError, match=r"every RPC endpoint's circuit breaker is open .*ReadTimeout"),
    ):
        source.get_health()


def test_rate_limit_paces_outgoing_requests(proxy: tuple[RpcProxy, str]) -> None:
    rpc, url = proxy
    with RpcLedgerSource(url, requests_per_second=5, page_size=1) as source:
        started = time.monotonic()
        assert len(list(source.ledgers(FIRST, FIRST + 9))) == 10
        elapsed = time.monotonic() - started
    assert len(rpc.calls) == 12  # getNetwork, getHealth, 10 pages
    assert elapsed >= 1.2  # 12 requests: a burst of 5, then 7 more at 5/s
    assert _value("rate_limit_rejections_total", name=f"rpc:{url.rstrip('/')}") >= 1
