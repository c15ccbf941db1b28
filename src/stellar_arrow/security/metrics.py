"""Prometheus counters of authentication, key use and refusals.

:class:`SecurityMetrics` lives on the API's private registry; the Flight services count the same
``auth_attempts_total{type,status}`` and ``api_key_usage_total{key_id}`` on the process registry
through :func:`observe_auth`.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from stellar_arrow.observability.metrics import API_KEY_USAGE, AUTH_ATTEMPTS
from stellar_arrow.security.roles import Principal

__all__ = ["SecurityMetrics", "observe_auth"]


def observe_auth(kind: str, status: str, principal: Principal | None) -> None:
    """Count one authentication in the process registry (the Flight services' ``/metrics``)."""
    AUTH_ATTEMPTS.labels(kind, status).inc()
    if principal is not None and principal.kind == "api_key":
        API_KEY_USAGE.labels(principal.subject).inc()


class SecurityMetrics:
    """``auth_attempts_total{type,status}``, ``api_key_usage_total{key_id}``,
    ``rate_limit_rejections_total{name}`` and ``http_security_refusals_total{status}``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.auth_attempts = Counter(
            "auth_attempts",
            "Authentication attempts by credential type and outcome",
            ["type", "status"],
            registry=registry,
        )
        self.api_key_usage = Counter(
            "api_key_usage", "Authenticated requests per API key id", ["key_id"], registry=registry
        )
        self.rate_limited = Counter(
            "rate_limit_rejections", "Requests refused by a rate limit", ["name"], registry=registry
        )
        self.refused = Counter(
            "http_security_refusals",
            "Requests or WebSocket handshakes refused by the security checks, by status or close code",
            ["status"],
            registry=registry,
        )

    def observe_auth(self, kind: str, status: str, principal: Principal | None) -> None:
        self.auth_attempts.labels(kind, status).inc()
        if principal is not None and principal.kind == "api_key":
            self.api_key_usage.labels(principal.subject).inc()
