"""The resilience objects of the ``source`` settings section (timeouts, retry policy, breaker)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from stellar_arrow.resilience.breaker import BreakerSettings
from stellar_arrow.resilience.retry import RetryPolicy
from stellar_arrow.resilience.timeouts import NetworkTimeouts

if TYPE_CHECKING:
    from stellar_arrow.config import SourceSettings

__all__ = ["source_resilience"]


def source_resilience(cfg: SourceSettings) -> dict[str, Any]:
    """Keyword arguments ``timeouts``, ``retry`` and ``breaker`` for a lake or RPC ledger source."""
    return {
        "timeouts": NetworkTimeouts(cfg.connect_timeout_s, cfg.read_timeout_s, cfg.call_timeout_s),
        "retry": RetryPolicy(attempts=cfg.retry_attempts, budget_s=cfg.retry_budget_s),
        "breaker": BreakerSettings(cfg.breaker_failures, cfg.breaker_reset_s),
    }
