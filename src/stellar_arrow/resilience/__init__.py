"""Surviving faulty upstreams: one transient/terminal verdict, one retry layer, breakers, rate limits.

* :mod:`~stellar_arrow.resilience.classify`: :func:`is_transient`, ``Retry-After`` parsing;
* :mod:`~stellar_arrow.resilience.retry`: :class:`RetryPolicy` and :func:`retrying` (tenacity);
* :mod:`~stellar_arrow.resilience.breaker`: :class:`UpstreamBreaker` per upstream (pybreaker);
* :mod:`~stellar_arrow.resilience.ratelimit`: the one token bucket (:class:`TokenBucket`,
  :class:`KeyedBuckets` per client, :class:`RequestRateLimit` on outgoing requests);
* :mod:`~stellar_arrow.resilience.bulkhead`: :class:`Bulkhead` / :class:`AsyncBulkhead` (bounded concurrency);
* :mod:`~stellar_arrow.resilience.timeouts`: :class:`NetworkTimeouts` (connect, read, whole call).
"""

from __future__ import annotations

from stellar_arrow.resilience.breaker import BreakerSettings, UpstreamBreaker, breaker_for
from stellar_arrow.resilience.bulkhead import AsyncBulkhead, Bulkhead, bulkhead_for
from stellar_arrow.resilience.classify import is_transient, is_transient_status, retry_after_seconds
from stellar_arrow.resilience.ratelimit import KeyedBuckets, RequestRateLimit, TokenBucket
from stellar_arrow.resilience.retry import RetryPolicy, retrying
from stellar_arrow.resilience.timeouts import NetworkTimeouts

__all__ = [
    "AsyncBulkhead",
    "BreakerSettings",
    "Bulkhead",
    "KeyedBuckets",
    "NetworkTimeouts",
    "RequestRateLimit",
    "RetryPolicy",
    "TokenBucket",
    "UpstreamBreaker",
    "breaker_for",
    "bulkhead_for",
    "is_transient",
    "is_transient_status",
    "retry_after_seconds",
    "retrying",
]
