"""The ``source`` resilience settings reach the ledger sources the pipeline builds."""

from __future__ import annotations

import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.pipeline.components import ledger_source_factory
from stellar_arrow.resilience import BreakerSettings, NetworkTimeouts, RetryPolicy
from stellar_arrow.resilience.settings import source_resilience
from stellar_arrow.source.rpc import RpcLedgerSource


def test_defaults_fail_a_dead_endpoint_well_under_a_minute() -> None:
    cfg = load_settings().source
    options = source_resilience(cfg)
    limits, policy = options["timeouts"], options["retry"]
    assert limits == NetworkTimeouts(5.0, 10.0, 30.0)
    assert policy == RetryPolicy(attempts=5, budget_s=20.0)
    assert options["breaker"] == BreakerSettings(5, 30.0)
    # no attempt starts after the budget, and an attempt that never gets an answer ends at the read timeout
    assert policy.budget_s + limits.read_s < 60


def test_rpc_endpoints_rate_and_limits_reach_the_source() -> None:
    settings = load_settings(
        source={
            "source_type": "rpc",
            "rpc_endpoint": "http://127.0.0.1:9/a",
            "rpc_endpoints": ["http://127.0.0.1:9/b", "http://127.0.0.1:9/a"],
            "rpc_requests_per_second": 3,
            "read_timeout_s": 2,
            "call_timeout_s": 4,
            "retry_attempts": 2,
        }
    )
    source = ledger_source_factory(settings)()
    assert isinstance(source, RpcLedgerSource)
    try:
        assert source.urls == ("http://127.0.0.1:9/a", "http://127.0.0.1:9/b")
        transport = source._transport
        assert transport.timeouts == NetworkTimeouts(5.0, 2.0, 4.0)
        assert all(e.limit is not None and e.limit.per_second == 3 for e in transport.endpoints)
    finally:
        source.close()


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ({"rpc_endpoints": ["ftp://x"]}, "source.rpc_endpoints"),
        ({"rpc_requests_per_second": 0}, "source.rpc_requests_per_second"),
        ({"read_timeout_s": 0}, "source.read_timeout_s"),
        ({"retry_attempts": 0}, "source.retry_attempts"),
        ({"breaker_reset_s": -1}, "source.breaker_reset_s"),
        ({"health_port": 70000}, "source.health_port"),
    ],
)
def test_bad_values_name_the_key(section: dict[str, object], key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(source=section)
    assert info.value.key == key
