"""The sink's HTTP server: REST under ``/api/v1``, WebSocket ``/ws``, dashboard ``/``, ``/metrics``, health.

``create_app(options, store)`` wires everything to one :class:`~stellar_arrow.api.store.TransferStore` and
its :class:`~stellar_arrow.sink.base.TableReader`: every batch the reader delivers live is pushed to the
WebSocket hub (through ``loop.call_soon_threadsafe``: the pipeline may write from any thread), and the
reader's counters (``None`` for a finished folder) feed ``/api/v1/status`` and ``/metrics``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib.util
import logging
import os
import time
from collections.abc import AsyncIterator, Callable
from importlib import resources
from typing import Any

import pyarrow as pa
from fastapi import Depends, FastAPI, Request, WebSocket
from fastapi.openapi.docs import get_swagger_ui_html
from fastapi.staticfiles import StaticFiles
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import FileResponse, Response

from stellar_arrow import __version__
from stellar_arrow.analytics import ResultCache, RollingWindows, UnknownAggregationError, seed_windows
from stellar_arrow.api.analytics import build_analytics_router
from stellar_arrow.api.busy import busy_response, query_bulkhead, query_slot
from stellar_arrow.api.hub import Hub, HubLimits
from stellar_arrow.api.metrics import ApiMetrics, MetricsMiddleware
from stellar_arrow.api.progress import LedgerProgress
from stellar_arrow.api.render import JsonResponse
from stellar_arrow.api.replay import ReplayHistory
from stellar_arrow.api.routes import NotFoundError, build_router
from stellar_arrow.api.store import TransferStore
from stellar_arrow.api.ws import serve_websocket
from stellar_arrow.config import ApiSettings, SecuritySettings
from stellar_arrow.errors import AuthorizationError, BusyError, ConfigError, RequestError
from stellar_arrow.security.http import ApiSecurity, SecurityMiddleware
from stellar_arrow.security.metrics import SecurityMetrics
from stellar_arrow.security.routes import build_security_router
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_TABLE

__all__ = ["Readiness", "create_app"]

log = logging.getLogger(__name__)

Readiness = Callable[[], str | None]
"""Returns ``None`` when ready, else why not (e.g. "upstream Flight service unreachable")."""


def _static_dir() -> str:
    return str(resources.files("stellar_arrow.api").joinpath("static"))


def _swagger_ui_dir() -> str:
    """Swagger UI 5 assets shipped by the swagger-ui-py wheel (found without importing that package)."""
    spec = importlib.util.find_spec("swagger_ui")
    if spec is None or not spec.submodule_search_locations:
        msg = "swagger-ui-py is not installed: /docs needs its bundled Swagger UI assets"
        raise ConfigError(msg, key="api")
    return os.path.join(next(iter(spec.submodule_search_locations)), "static")


def create_app(
    options: ApiSettings,
    store: TransferStore,
    *,
    readiness: Readiness | None = None,
    progress: LedgerProgress | None = None,
    security: SecuritySettings | None = None,
) -> FastAPI:
    """Build the ASGI app. ``progress`` may be shared with the pipeline (``note_source_tip``).

    ``security`` (default: the embedded settings, auth off) configures authentication, roles, CORS,
    the Host/Origin checks, security headers, size and rate limits (:mod:`stellar_arrow.security.http`).
    """
    reader = store.reader
    metrics = ApiMetrics(reader.stats)
    windows = RollingWindows(await_seed=True)  # counted from the live feed once seeded from the store
    results = ResultCache(options.result_cache_bytes, metrics.registry)
    Gauge(
        "api_file_cache_bytes", "Decoded rows of committed files the API keeps (api.file_cache_bytes)",
        registry=metrics.registry,
    ).set_function(lambda: store.files.bytes)  # fmt: skip
    progress = progress or LedgerProgress()

    history = ReplayHistory(reader, page_rows=options.ws_replay_page_rows)
    limits = HubLimits(
        max_connections=options.ws_max_connections,
        max_connections_per_ip=options.ws_max_connections_per_ip,
        queue_messages=options.ws_queue_messages,
        replay_page_rows=options.ws_replay_page_rows,
        max_replays=options.ws_max_replays,
        replay_wait_s=options.ws_replay_wait_s,
        replay_stall_s=options.ws_replay_stall_s,
    )
    hub = Hub(
        limits,
        history.after,
        on_evict=lambda kind: metrics.ws_evicted.labels(kind).inc(),
        on_sent=lambda n: metrics.ws_messages_sent.inc(n),
    )

    def analytics_frame() -> dict[str, Any]:
        return {"type": "analytics", "windows": windows.snapshots()}

    hub.analytics_snapshot = analytics_frame

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()

        def on_rows(table: str, rows: pa.Table) -> None:
            if table == TOKEN_TRANSFERS_TABLE:
                try:  # on the writer's thread: analytics must never break the sink's write path
                    windows.add(rows)
                except Exception:
                    log.exception("rolling windows: a batch of %d rows could not be counted", rows.num_rows)

            def deliver() -> None:
                progress.observe(table, rows, time.monotonic())
                if table == TOKEN_TRANSFERS_TABLE:
                    hub.publish(rows)

            with contextlib.suppress(RuntimeError):  # loop already closed during shutdown
                loop.call_soon_threadsafe(deliver)

        unsubscribe = reader.subscribe(on_rows)
        progress.seed(await asyncio.to_thread(store.recent_ledgers, 20))
        try:
            await asyncio.to_thread(seed_windows, windows, store)
        except Exception:  # the API still serves; the windows then count the live feed only
            log.exception("rolling windows: seeding from the store failed")
            windows.seed({}, -1, None)

        async def status_loop() -> None:
            pushed = -1
            while True:
                await asyncio.sleep(options.status_interval_s)
                hub.broadcast_status(progress.status(time.monotonic()))
                if windows.version != pushed and hub.analytics_clients():
                    pushed = windows.version
                    hub.broadcast_analytics(analytics_frame())

        ticker = loop.create_task(status_loop())
        try:
            yield
        finally:
            ticker.cancel()
            unsubscribe()
            await hub.close_all(1001, "server shutting down")

    app = FastAPI(
        title="stellar-arrow sink API",
        version=__version__,
        description="Token transfer events of the Stellar network: REST queries, a live WebSocket stream.",
        lifespan=lifespan,
        default_response_class=JsonResponse,
        docs_url=None,  # served below from local assets: FastAPI's default page loads Swagger UI from a CDN
        redoc_url=None,
    )
    app.state.hub = hub
    app.state.progress = progress
    app.state.metrics = metrics
    app.state.store = store
    app.state.windows = windows
    app.state.results = results
    app.add_middleware(MetricsMiddleware, metrics=metrics)
    guard = ApiSecurity.from_settings(security or SecuritySettings(), SecurityMetrics(metrics.registry))
    app.state.security = guard
    app.add_middleware(SecurityMiddleware, security=guard)
    if guard.settings.cors_origins:  # outermost: answers preflights; reads stay authenticated
        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(guard.settings.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["authorization", "x-api-key", "content-type"],
        )
    app.include_router(build_security_router(guard))

    @app.exception_handler(RequestError)
    async def bad_request(request: Request, exc: RequestError) -> Response:
        body = {"status": 400, "title": "Bad Request", "field": exc.field, "detail": str(exc)}
        return JsonResponse(body, status_code=400)

    @app.exception_handler(NotFoundError)
    async def not_found(request: Request, exc: NotFoundError) -> Response:
        return JsonResponse({"status": 404, "title": "Not Found", "detail": str(exc)}, status_code=404)

    @app.exception_handler(UnknownAggregationError)
    async def unknown_aggregation(request: Request, exc: UnknownAggregationError) -> Response:
        body = {"status": 404, "title": "Not Found", "detail": str(exc), "aggregations": exc.names}
        return JsonResponse(body, status_code=404)

    @app.exception_handler(AuthorizationError)
    async def forbidden(request: Request, exc: AuthorizationError) -> Response:
        return JsonResponse({"status": 403, "title": "Forbidden", "detail": str(exc)}, status_code=403)

    app.add_exception_handler(BusyError, busy_response)
    queries = query_bulkhead(options)
    app.state.query_bulkhead = queries
    slot = [Depends(query_slot(queries))]
    app.include_router(build_analytics_router(store, windows, results, options), dependencies=slot)
    app.include_router(build_router(store), dependencies=slot)

    @app.get("/api/v1/status", tags=["api"], summary="Sink counters and live ledger progress")
    def status() -> Response:
        body: dict[str, Any] = {"progress": progress.status(time.monotonic())}
        current = reader.stats()
        if current is not None:
            body["sink"] = {
                "rows_received": current.rows_received,
                "rows_buffered": current.rows_buffered,
                "rows_written": current.rows_written,
                "files_written": current.files_written,
                "commits": current.commits,
                "checkpoint": current.checkpoint,
            }
        return JsonResponse(body)

    @app.websocket("/ws")
    async def websocket(ws: WebSocket) -> None:
        await serve_websocket(ws, hub, options, metrics)

    @app.get("/health", tags=["ops"], summary="Liveness")
    async def health() -> Response:
        return JsonResponse({"status": "ok", "version": __version__})

    @app.get("/ready", tags=["ops"], summary="Readiness: data readable and upstream reachable")
    def ready() -> Response:
        try:
            reader.view(TOKEN_TRANSFERS_TABLE)
        except Exception as exc:  # any failure to read means not ready; the reason is reported
            return JsonResponse(
                {"status": "not ready", "reason": f"store unreadable: {exc}"}, status_code=503
            )
        reason = readiness() if readiness is not None else None
        if reason is not None:
            return JsonResponse({"status": "not ready", "reason": reason}, status_code=503)
        return JsonResponse({"status": "ready"})

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics")
    async def prometheus() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/", include_in_schema=False)
    async def dashboard() -> Response:
        return FileResponse(f"{_static_dir()}/index.html", media_type="text/html")

    app.mount("/static", StaticFiles(directory=_static_dir()), name="static")
    app.mount("/docs-assets", StaticFiles(directory=_swagger_ui_dir()), name="docs-assets")

    @app.get("/docs", include_in_schema=False)
    async def docs() -> Response:
        return get_swagger_ui_html(
            openapi_url="/openapi.json",
            title="stellar-arrow sink API",
            swagger_js_url="/docs-assets/swagger-ui-bundle.js",
            swagger_css_url="/docs-assets/swagger-ui.css",
            swagger_favicon_url="/docs-assets/favicon-32x32.png",
        )

    return app
