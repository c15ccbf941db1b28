"""Every Prometheus metric of stellar-arrow, declared once on one process registry.

Names follow the original design (``ledgers_processed_total{source_type,status}``,
``files_written_total{format}``, ``circuit_breaker_state{name}`` ...); each service process exposes
:data:`REGISTRY` on its health port (``/metrics``), so the component is the scrape job, not a label.
Counters are cumulative per process; ``*_created`` series are turned off.
"""

from __future__ import annotations

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
    generate_latest,
)

__all__ = [
    "API_KEY_USAGE",
    "AUTH_ATTEMPTS",
    "BATCHES_GENERATED",
    "BULKHEAD_REJECTIONS",
    "CIRCUIT_BREAKER_STATE",
    "CIRCUIT_BREAKER_TRANSITIONS",
    "CONTENT_TYPE_LATEST",
    "CURRENT_LEDGER",
    "EVENTS_PROCESSED",
    "EXPORT_DURATION",
    "EXPORT_ERRORS",
    "FILES_WRITTEN",
    "LEDGERS_IN_FLIGHT",
    "LEDGERS_PROCESSED",
    "LEDGER_LAG",
    "LIFECYCLE_ACTIONS",
    "LIFECYCLE_ACTION_BYTES",
    "LIFECYCLE_BYTES",
    "NETWORK_TIP",
    "PROCESSING_DURATION",
    "RATE_LIMIT_REJECTIONS",
    "REGISTRY",
    "RETRY_ATTEMPTS",
    "UPSTREAM_REQUESTS",
    "WEBSOCKET_CLIENTS",
    "exposition",
]

disable_created_metrics()  # type: ignore[no-untyped-call]

REGISTRY = CollectorRegistry(auto_describe=True)
"""The registry of this process (private: tests and embedding applications keep their own default one)."""

_SECONDS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)

LEDGERS_PROCESSED = Counter(
    "ledgers_processed",
    "Ledgers handled by a stage; status is ok or error",
    ["source_type", "status"],
    registry=REGISTRY,
)
BATCHES_GENERATED = Counter(
    "batches_generated", "Arrow record batches produced", ["source_type"], registry=REGISTRY
)
PROCESSING_DURATION = Histogram(
    "processing_duration_seconds",
    "Time spent per ledger or object, by operation (fetch, decode, derive, commit)",
    ["source_type", "operation"],
    buckets=_SECONDS,
    registry=REGISTRY,
)
CURRENT_LEDGER = Gauge(
    "current_ledger", "Newest ledger sequence handled by this stage", ["source_type"], registry=REGISTRY
)
NETWORK_TIP = Gauge(
    "network_tip_ledger",
    "Newest ledger the upstream (lake, RPC) can serve",
    ["source_type"],
    registry=REGISTRY,
)
LEDGER_LAG = Gauge(
    "ledger_lag",
    "Ledgers between the upstream tip and the newest ledger handled",
    ["source_type"],
    registry=REGISTRY,
)
LEDGERS_IN_FLIGHT = Gauge(
    "ledgers_in_flight",
    "Ledgers fetched or being decoded but not yet delivered",
    ["stage"],
    registry=REGISTRY,
)
EVENTS_PROCESSED = Counter(
    "events_processed",
    "Token transfer events produced (rate() gives events/s)",
    ["event_type"],
    registry=REGISTRY,
)
FILES_WRITTEN = Counter("files_written", "Output files committed", ["format"], registry=REGISTRY)
EXPORT_ERRORS = Counter(
    "export_errors",
    "Exports or commits that failed, by error class",
    ["format", "error_type"],
    registry=REGISTRY,
)
EXPORT_DURATION = Histogram(
    "export_duration_seconds",
    "Time to write and commit one output chunk",
    ["format"],
    buckets=_SECONDS,
    registry=REGISTRY,
)
CIRCUIT_BREAKER_STATE = Gauge(
    "circuit_breaker_state",
    "Breaker state per upstream: 0 closed, 1 open, 2 half-open",
    ["name"],
    registry=REGISTRY,
)
CIRCUIT_BREAKER_TRANSITIONS = Counter(
    "circuit_breaker_transitions",
    "Breaker state changes per upstream, by new state",
    ["name", "state"],
    registry=REGISTRY,
)
RETRY_ATTEMPTS = Counter(
    "retry_attempts", "Retries of transient upstream failures", ["operation"], registry=REGISTRY
)
UPSTREAM_REQUESTS = Counter(
    "upstream_requests",
    "Requests to an upstream by outcome (ok, transient, terminal)",
    ["name", "outcome"],
    registry=REGISTRY,
)
BULKHEAD_REJECTIONS = Counter(
    "bulkhead_rejections",
    "Requests refused because a concurrency limit was full",
    ["name"],
    registry=REGISTRY,
)
AUTH_ATTEMPTS = Counter(
    "auth_attempts",
    "Authentication attempts by credential type and outcome (Flight services)",
    ["type", "status"],
    registry=REGISTRY,
)
API_KEY_USAGE = Counter(
    "api_key_usage", "Authenticated calls per API key id (Flight services)", ["key_id"], registry=REGISTRY
)
RATE_LIMIT_REJECTIONS = Counter(
    "rate_limit_rejections", "Requests refused or deferred by a rate limit", ["name"], registry=REGISTRY
)
WEBSOCKET_CLIENTS = Gauge("websocket_clients", "Connected WebSocket clients", registry=REGISTRY)


def exposition() -> tuple[bytes, str]:
    """The text exposition of :data:`REGISTRY` and its content type (for ``/metrics``)."""
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST


LIFECYCLE_BYTES = Gauge(
    "lifecycle_bytes",
    "Bytes per storage tier of a sink output: live (committed, in the tables), retired (taken out, in their "
    "grace period), archive; and free bytes on the output's file system",
    ["tier"],
    registry=REGISTRY,
)
LIFECYCLE_ACTIONS = Counter(
    "lifecycle_actions_total",
    "Lifecycle actions finished, by action (compact, archive, delete, purge, sweep, delete_log, delta_*) and "
    "outcome (committed, rolled_back, failed)",
    ["action", "outcome"],
    registry=REGISTRY,
)
LIFECYCLE_ACTION_BYTES = Counter(
    "lifecycle_action_bytes_total",
    "Bytes handled by committed lifecycle actions",
    ["action"],
    registry=REGISTRY,
)
