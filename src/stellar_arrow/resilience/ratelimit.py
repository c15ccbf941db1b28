"""A token bucket on outgoing requests (``rpc_requests_per_second``), over the ``token-bucket`` package.

:meth:`RequestRateLimit.acquire` takes one token, waiting for it when the bucket is empty (each wait
counts once in ``rate_limit_rejections_total{name}``: a request deferred, not lost). The wait is
bounded by ``max_wait_s`` and a stop event; then it returns False so the caller can end cleanly.
"""

from __future__ import annotations

import math
import threading

import token_bucket

from stellar_arrow.observability.metrics import RATE_LIMIT_REJECTIONS

__all__ = ["RequestRateLimit", "rate_limit_for"]


class RequestRateLimit:
    """At most ``per_second`` requests per second on average, bursts of up to ``burst``."""

    def __init__(self, name: str, per_second: float, *, burst: int | None = None) -> None:
        if not per_second > 0 or math.isinf(per_second):
            msg = f"requests per second must be a positive number, got {per_second}"
            raise ValueError(msg)
        self.name = name
        self.per_second = per_second
        capacity = burst if burst is not None else max(1, math.ceil(per_second))
        self._limiter = token_bucket.Limiter(per_second, capacity, token_bucket.MemoryStorage())
        self._key = name.encode()

    def acquire(self, *, max_wait_s: float = 60.0, stop: threading.Event | None = None) -> bool:
        """Take a token, waiting up to ``max_wait_s``; False if the wait ran out or ``stop`` was set."""
        if self._limiter.consume(self._key):
            return True
        RATE_LIMIT_REJECTIONS.labels(self.name).inc()
        pause = min(0.05, 1.0 / self.per_second)
        waiter = stop if stop is not None else threading.Event()
        waited = 0.0
        while waited < max_wait_s:
            if waiter.wait(pause):
                return False
            waited += pause
            if self._limiter.consume(self._key):
                return True
        return False


_SHARED: dict[tuple[str, float], RequestRateLimit] = {}
_SHARED_LOCK = threading.Lock()


def rate_limit_for(name: str, per_second: float) -> RequestRateLimit:
    """The process-wide bucket of ``name`` (every source reading one RPC endpoint shares it)."""
    with _SHARED_LOCK:
        limit = _SHARED.get((name, per_second))
        if limit is None:
            limit = _SHARED[(name, per_second)] = RequestRateLimit(name, per_second)
        return limit
