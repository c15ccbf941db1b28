"""Prometheus metrics of the API server on a private registry, and a pure-ASGI middleware for HTTP timing.

Names keep the original design's sink metrics (``analytics_sink_*``); HTTP metrics are labelled with the
templated route path (``/api/v1/transfers/{event_id}``), so cardinality stays bounded.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stellar_arrow.observability.metrics import WEBSOCKET_CLIENTS
from stellar_arrow.sink.base import SinkStats

__all__ = ["ApiMetrics", "MetricsMiddleware"]


class _SinkCollector(Collector):
    def __init__(self, stats: Callable[[], SinkStats | None]) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Any]:
        stats = self._stats()
        if stats is None:
            return
        received = CounterMetricFamily(
            "analytics_sink_events_received", "Rows accepted by the sink", labels=["table"]
        )
        for table, n in stats.rows_received.items():
            received.add_metric([table], n)
        written = CounterMetricFamily(
            "analytics_sink_events_written", "Rows committed to files", labels=["output_format"]
        )
        for fmt, n in stats.rows_written.items():
            written.add_metric([fmt], n)
        files = CounterMetricFamily(
            "analytics_sink_files_written", "Files committed", labels=["output_format"]
        )
        for fmt, n in stats.files_written.items():
            files.add_metric([fmt], n)
        yield received
        yield written
        yield files
        yield CounterMetricFamily("analytics_sink_commits", "Commits of the sink", value=stats.commits)
        yield CounterMetricFamily(
            "analytics_sink_rows_dropped_replayed",
            "Rows at or below the checkpoint dropped on arrival",
            value=stats.rows_dropped_replayed,
        )
        yield GaugeMetricFamily(
            "analytics_sink_buffer_depth", "Rows not yet committed", value=stats.rows_buffered
        )
        if stats.checkpoint is not None:
            yield GaugeMetricFamily(
                "analytics_sink_checkpoint_ledger", "Last committed ledger", value=stats.checkpoint
            )


class _ClientCount:
    """The app's WebSocket client gauge, mirrored in the process registry (``websocket_clients``)."""

    def __init__(self, gauge: Gauge) -> None:
        self._gauge = gauge

    def inc(self) -> None:
        self._gauge.inc()
        WEBSOCKET_CLIENTS.inc()

    def dec(self) -> None:
        self._gauge.dec()
        WEBSOCKET_CLIENTS.dec()


class ApiMetrics:
    """Every metric of one app instance (tests build many apps: no global registry)."""

    def __init__(self, sink_stats: Callable[[], SinkStats | None] = lambda: None) -> None:
        self.registry = CollectorRegistry()
        reg = self.registry
        self.http_requests = Counter(
            "http_requests", "HTTP requests", ["method", "route", "status"], registry=reg
        )
        self.http_seconds = Histogram(
            "http_request_duration_seconds",
            "HTTP request latency",
            ["route"],
            registry=reg,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
        )
        self.ws_connections = _ClientCount(
            Gauge("analytics_sink_websocket_connections", "Open WebSocket connections", registry=reg)
        )
        self.ws_rejected = Counter(
            "ws_connections_rejected", "WebSocket connections refused by a cap", ["reason"], registry=reg
        )
        self.ws_evicted = Counter(
            "ws_clients_evicted", "WebSocket clients disconnected by the server", ["reason"], registry=reg
        )
        self.ws_messages_sent = Counter("ws_messages_sent", "WebSocket frames sent", registry=reg)
        self.ws_bad_messages = Counter(
            "ws_client_errors", "Malformed or refused client messages", ["field"], registry=reg
        )
        reg.register(_SinkCollector(sink_stats))


class MetricsMiddleware:
    """Counts and times HTTP requests (pure ASGI: no BaseHTTPMiddleware, the body is not wrapped)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        start = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            path = getattr(route, "path", None) or "unmatched"
            self.metrics.http_requests.labels(scope["method"], path, str(status)).inc()
            self.metrics.http_seconds.labels(path).observe(time.perf_counter() - start)
