"""The one retry layer: tenacity with exponential backoff, full jitter, ``Retry-After`` and a time budget.

:class:`RetryPolicy` is a small value object (attempts, first and longest wait, total budget, longest
``Retry-After`` honoured). :func:`retrying` builds the tenacity ``Retrying`` for one named operation:
only failures that :func:`~stellar_arrow.resilience.classify.is_transient` accepts are retried; the wait
before the next attempt is the larger of the jittered backoff and the upstream's ``Retry-After``
(an exception's ``retry_after`` attribute); an upstream asking for more than ``max_retry_after_s`` is
not waited for. Every retry counts in ``retry_attempts_total{operation}`` and is logged once.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tenacity import (
    RetryCallState,
    Retrying,
    stop_after_attempt,
    stop_before_delay,
    wait_random_exponential,
)

from stellar_arrow.errors import ConfigError
from stellar_arrow.observability.logs import get_logger
from stellar_arrow.observability.metrics import RETRY_ATTEMPTS
from stellar_arrow.resilience.classify import is_transient

__all__ = ["RetryPolicy", "retrying"]

log = get_logger(__name__)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How often and how long to retry a transient failure.

    ``attempts`` counts the first try; ``budget_s`` bounds the time since the first try after which
    no new attempt starts (with per-attempt timeouts this bounds the whole call).
    """

    attempts: int = 5
    first_wait_s: float = 0.5
    max_wait_s: float = 8.0
    budget_s: float = 20.0
    max_retry_after_s: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            msg = f"retry attempts must be >= 1, got {self.attempts}"
            raise ConfigError(msg, key="retry_attempts")
        if self.first_wait_s < 0 or self.max_wait_s < self.first_wait_s or self.budget_s <= 0:
            msg = (
                f"retry waits must satisfy 0 <= first ({self.first_wait_s}) <= max ({self.max_wait_s}) "
                f"and budget ({self.budget_s}) > 0"
            )
            raise ConfigError(msg, key="retry_wait")


def _retry_after(state: RetryCallState) -> float | None:
    exc = state.outcome.exception() if state.outcome is not None else None
    value = getattr(exc, "retry_after", None)
    return float(value) if isinstance(value, (int, float)) else None


class _Wait:
    """Full-jitter exponential backoff, raised to the upstream's ``Retry-After`` when it gives one."""

    def __init__(self, policy: RetryPolicy) -> None:
        self._backoff = wait_random_exponential(multiplier=policy.first_wait_s, max=policy.max_wait_s)

    def __call__(self, state: RetryCallState) -> float:
        backoff = float(self._backoff(state))
        asked = _retry_after(state)
        return backoff if asked is None else max(asked, backoff)


def retrying(policy: RetryPolicy, operation: str, **context: Any) -> Retrying:
    """A tenacity ``Retrying`` for ``operation`` (the ``retry_attempts_total`` label and log field)."""

    def should_retry(state: RetryCallState) -> bool:
        if state.outcome is None or not state.outcome.failed:
            return False
        exc = state.outcome.exception()
        if exc is None or not is_transient(exc):
            return False
        asked = _retry_after(state)
        return asked is None or asked <= policy.max_retry_after_s

    def before_sleep(state: RetryCallState) -> None:
        RETRY_ATTEMPTS.labels(operation).inc()
        exc = state.outcome.exception() if state.outcome is not None else None
        wait = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            "retrying",
            operation=operation,
            attempt=state.attempt_number,
            wait_s=round(wait, 3),
            error=f"{type(exc).__name__}: {exc}",
            **context,
        )

    return Retrying(
        stop=stop_after_attempt(policy.attempts) | stop_before_delay(policy.budget_s),
        wait=_Wait(policy),
        retry=should_retry,
        before_sleep=before_sleep,
        reraise=True,
    )
