"""The retry layer (backoff, Retry-After, budget), the breaker's states and metrics, the token bucket."""

from __future__ import annotations

import threading
import time

import pytest

from stellar_arrow.errors import CircuitOpenError, ConfigError, RpcRequestError, RpcTransientError
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.resilience import RequestRateLimit, RetryPolicy, UpstreamBreaker, retrying


def _value(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


class Flaky:
    """Fails with the given errors in turn, then returns "ok"; records when each call happened."""

    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.times: list[float] = []

    def __call__(self) -> str:
        self.times.append(time.monotonic())
        if self.errors:
            raise self.errors.pop(0)
        return "ok"


FAST = RetryPolicy(attempts=4, first_wait_s=0.01, max_wait_s=0.05, budget_s=5)


def test_transient_failures_are_retried_and_counted() -> None:
    before = _value("retry_attempts_total", operation="t_transient")
    flaky = Flaky(RpcTransientError("busy"), TimeoutError("slow"))
    assert retrying(FAST, "t_transient")(flaky) == "ok"
    assert len(flaky.times) == 3
    assert _value("retry_attempts_total", operation="t_transient") - before == 2


def test_terminal_failures_are_not_retried() -> None:
    flaky = Flaky(RpcRequestError("bad request"), RpcRequestError("never reached"))
    with pytest.raises(RpcRequestError, match="bad request"):
        retrying(FAST, "t_terminal")(flaky)
    assert len(flaky.times) == 1


def test_attempts_run_out_with_the_last_error() -> None:
    flaky = Flaky(*(RpcTransientError(f"busy {i}") for i in range(10)))
    with pytest.raises(RpcTransientError, match="busy 3"):
        retrying(FAST, "t_out")(flaky)
    assert len(flaky.times) == 4


def test_retry_after_is_honoured_and_bounded() -> None:
    asked = RpcTransientError("429")
    asked.retry_after = 0.4
    flaky = Flaky(asked)
    assert retrying(FAST, "t_after")(flaky) == "ok"
    assert flaky.times[1] - flaky.times[0] >= 0.4
    too_long = RpcTransientError("429 for an hour")
    too_long.retry_after = 3600
    flaky = Flaky(too_long)
    started = time.monotonic()
    with pytest.raises(RpcTransientError, match="an hour"):
        retrying(RetryPolicy(max_retry_after_s=60), "t_after_long")(flaky)
    assert time.monotonic() - started < 1 and len(flaky.times) == 1


def test_budget_stops_before_a_wait_past_it() -> None:
    policy = RetryPolicy(attempts=100, first_wait_s=0.2, max_wait_s=0.2, budget_s=0.5)
    flaky = Flaky(*(TimeoutError() for _ in range(100)))
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        retrying(policy, "t_budget")(flaky)
    assert time.monotonic() - started < 0.8  # no attempt starts after the 0.5 s budget
    assert len(flaky.times) >= 2


def test_policy_rejects_nonsense() -> None:
    with pytest.raises(ConfigError):
        RetryPolicy(attempts=0)
    with pytest.raises(ConfigError):
        RetryPolicy(first_wait_s=2, max_wait_s=1)


def test_breaker_opens_refuses_then_closes_after_a_trial() -> None:
    name = "test:breaker-cycle"
    breaker = UpstreamBreaker(name, failures=2, reset_s=0.3)
    opened_before = _value("circuit_breaker_transitions_total", name=name, state="open")
    for _ in range(2):
        with pytest.raises(TimeoutError):
            breaker.call(Flaky(TimeoutError("upstream slow")))
    assert breaker.state == "open"
    assert _value("circuit_breaker_state", name=name) == 1
    calls = Flaky()
    with pytest.raises(
        CircuitOpenError, match=r"test:breaker-cycle is open for another 0\.\d s.*upstream slow"
    ) as info:
        breaker.call(calls)
    assert calls.times == [] and 0 < info.value.retry_after <= 0.3
    time.sleep(0.35)
    assert breaker.call(calls) == "ok"
    assert breaker.state == "closed" and _value("circuit_breaker_state", name=name) == 0
    assert _value("circuit_breaker_transitions_total", name=name, state="open") - opened_before == 1
    assert _value("circuit_breaker_transitions_total", name=name, state="half-open") >= 1


def test_terminal_errors_do_not_trip_the_breaker() -> None:
    breaker = UpstreamBreaker("test:breaker-terminal", failures=1, reset_s=30)
    for _ in range(3):
        with pytest.raises(RpcRequestError):
            breaker.call(Flaky(RpcRequestError("-32602")))
    assert breaker.state == "closed"


def test_breaker_does_not_serialise_parallel_calls() -> None:
    breaker = UpstreamBreaker("test:breaker-parallel", failures=5, reset_s=30)
    inside = threading.Barrier(4, timeout=5)

    def meet() -> None:
        breaker.call(inside.wait)  # all four must be inside the guarded call at once

    threads = [threading.Thread(target=meet) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert not inside.broken


def test_breaker_wait_is_used_by_the_retry_layer() -> None:
    breaker = UpstreamBreaker("test:breaker-retry", failures=1, reset_s=0.3)
    flaky = Flaky(TimeoutError("first"))
    policy = RetryPolicy(attempts=5, first_wait_s=0.01, max_wait_s=0.02, budget_s=5)
    started = time.monotonic()
    assert retrying(policy, "t_breaker")(breaker.call, flaky) == "ok"
    assert time.monotonic() - started >= 0.25  # waited for the trial instead of hammering
    assert len(flaky.times) == 2


def test_token_bucket_paces_requests() -> None:
    limit = RequestRateLimit("test:bucket", 20.0, burst=1)
    before = _value("rate_limit_rejections_total", name="test:bucket")
    started = time.monotonic()
    for _ in range(11):
        assert limit.acquire(max_wait_s=5)
    elapsed = time.monotonic() - started
    assert elapsed >= 0.45  # 10 tokens at 20/s after the first
    assert _value("rate_limit_rejections_total", name="test:bucket") - before >= 5
    stop = threading.Event()
    stop.set()
    slow = RequestRateLimit("test:bucket-stop", 0.01, burst=1)
    assert slow.acquire()
    assert not slow.acquire(stop=stop)
    assert not slow.acquire(max_wait_s=0.1)
    with pytest.raises(ValueError, match="positive"):
        RequestRateLimit("test:bad", 0)
