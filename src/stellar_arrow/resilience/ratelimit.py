"""The one token bucket of stellar-arrow, and the two ways it is used.

* :class:`TokenBucket`: ``rate`` tokens per second, at most ``burst`` saved (not locked: one owner).
* :class:`KeyedBuckets`: one bucket per key (client IP, API key id), at most ``max_keys`` tracked,
  thread-safe; :meth:`KeyedBuckets.take` answers the wait until the next token, for ``Retry-After``.
  Used by the REST/WebSocket middleware, the Flight services and the WebSocket message rate.
* :class:`RequestRateLimit`: a shared bucket on outgoing requests (``rpc_requests_per_second``);
  :meth:`RequestRateLimit.acquire` waits for a token (each wait counts once in
  ``rate_limit_rejections_total{name}``: a request deferred, not lost), bounded by ``max_wait_s`` and
  a stop event.

Hand-written on purpose: ``limits`` offers fixed/moving/sliding windows but no token bucket, and
``token-bucket`` keeps every key forever and cannot say how long to wait (both are needed here).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from stellar_arrow.observability.metrics import RATE_LIMIT_REJECTIONS

__all__ = ["KeyedBuckets", "RequestRateLimit", "TokenBucket", "rate_limit_for", "retry_after"]

Clock = Callable[[], float]


def _check(rate: float, burst: float) -> None:
    if not rate > 0 or math.isinf(rate) or not burst >= 1 or math.isinf(burst):
        msg = f"rate {rate} must be a positive number and burst {burst} at least 1"
        raise ValueError(msg)


class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved; starts full. Callers serialise access."""

    __slots__ = ("_clock", "burst", "rate", "stamp", "tokens")

    def __init__(self, rate: float, burst: float, *, clock: Clock = time.monotonic) -> None:
        _check(rate, burst)
        self.rate = rate
        self.burst = float(burst)
        self.tokens = float(burst)
        self._clock = clock
        self.stamp = clock()

    def _refill(self) -> None:
        now = self._clock()
        self.tokens = min(self.burst, self.tokens + max(0.0, now - self.stamp) * self.rate)
        self.stamp = now

    def take(self) -> bool:
        """Take one token if there is one."""
        self._refill()
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False

    @property
    def wait_s(self) -> float:
        """Seconds until one token is available (0.0 when one is)."""
        self._refill()
        return 0.0 if self.tokens >= 1.0 else (1.0 - self.tokens) / self.rate


def retry_after(wait: float) -> str:
    """A ``Retry-After`` value for a wait of ``wait`` seconds (whole seconds, at least 1)."""
    return str(max(1, math.ceil(wait)))


class KeyedBuckets:
    """A :class:`TokenBucket` per key, at most ``max_keys`` tracked (least recently seen forgotten
    first: a forgotten key starts again with a full bucket, so memory stays bounded under a flood of
    distinct keys)."""

    def __init__(
        self, rate: float, burst: int, *, max_keys: int = 10_000, clock: Clock = time.monotonic
    ) -> None:
        _check(rate, burst)
        if max_keys < 1:
            msg = f"max_keys {max_keys} must be at least 1"
            raise ValueError(msg)
        self.rate = rate
        self.burst = float(burst)
        self._max_keys = max_keys
        self._clock = clock
        self._buckets: OrderedDict[str, TokenBucket] = OrderedDict()
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """0.0 when a token was taken for ``key``, else the seconds until one is available."""
        with self._lock:
            bucket = self._buckets.pop(key, None)
            if bucket is None:
                bucket = TokenBucket(self.rate, self.burst, clock=self._clock)
            self._buckets[key] = bucket
            while len(self._buckets) > self._max_keys:
                self._buckets.popitem(last=False)
            return 0.0 if bucket.take() else bucket.wait_s

    retry_after = staticmethod(retry_after)

    def __len__(self) -> int:
        return len(self._buckets)


class RequestRateLimit:
    """At most ``per_second`` requests per second on average, bursts of up to ``burst``."""

    def __init__(self, name: str, per_second: float, *, burst: int | None = None) -> None:
        if not per_second > 0 or math.isinf(per_second):
            msg = f"requests per second must be a positive number, got {per_second}"
            raise ValueError(msg)
        self.name = name
        self.per_second = per_second
        self._bucket = TokenBucket(per_second, burst if burst is not None else max(1, math.ceil(per_second)))
        self._lock = threading.Lock()

    def _take(self) -> float:
        with self._lock:
            return 0.0 if self._bucket.take() else self._bucket.wait_s

    def acquire(self, *, max_wait_s: float = 60.0, stop: threading.Event | None = None) -> bool:
        """Take a token, waiting up to ``max_wait_s``; False if the wait ran out or ``stop`` was set."""
        wait = self._take()
        if wait == 0.0:
            return True
        RATE_LIMIT_REJECTIONS.labels(self.name).inc()
        waiter = stop if stop is not None else threading.Event()
        deadline = time.monotonic() + max_wait_s
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or waiter.wait(min(wait, left, 0.05)):
                return False
            wait = self._take()
            if wait == 0.0:
                return True


_SHARED: dict[tuple[str, float], RequestRateLimit] = {}
_SHARED_LOCK = threading.Lock()


def rate_limit_for(name: str, per_second: float) -> RequestRateLimit:
    """The process-wide bucket of ``name`` (every source reading one RPC endpoint shares it)."""
    with _SHARED_LOCK:
        limit = _SHARED.get((name, per_second))
        if limit is None:
            limit = _SHARED[(name, per_second)] = RequestRateLimit(name, per_second)
        return limit
