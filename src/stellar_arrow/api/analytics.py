"""Routes ``/api/v1/analytics/*`` and ``POST /api/v1/query`` (aggregations, rolling windows, read-only SQL).

* ``GET /api/v1/analytics``: the aggregation names and the windows;
* ``GET /api/v1/analytics/realtime?window=1h``: the rolling window (``1m``, ``1h``, ``24h``) per asset;
* ``GET /api/v1/analytics/{name}?where=...&start_time=...&end_time=...&from_ledger=...&to_ledger=...``
  (``limit`` for ``top_accounts``): an exact aggregation (:mod:`stellar_arrow.analytics.aggregations`);
* ``POST /api/v1/query`` with ``{"sql": "SELECT ..."}``: one read-only query over the pipeline's tables
  (:func:`stellar_arrow.query.run_sql`), with the time and row limits of the ``api`` settings; with
  authentication on, for the ``reader`` and ``admin`` roles only.

Aggregation and query answers are cached (:class:`~stellar_arrow.analytics.ResultCache`) under the data
version they were computed from; a commit drops the cache. Amounts are exact decimal strings throughout.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Annotated, Any, Final

import orjson
import pyarrow as pa
from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from stellar_arrow.analytics import (
    AGGREGATIONS,
    WINDOWS,
    ResultCache,
    RollingWindows,
    UnknownAggregationError,
    parse_analytics_query,
    parse_window,
    run_aggregation,
)
from stellar_arrow.api.routes import NotFoundError
from stellar_arrow.api.store import TransferStore
from stellar_arrow.config import ApiSettings
from stellar_arrow.errors import AuthorizationError, RequestError
from stellar_arrow.security.roles import Principal
from stellar_arrow.sink.textfiles import json_ready
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_TABLE

__all__ = ["QueryGuard", "build_analytics_router", "sql_rows"]

_SQL_ROLES: Final = frozenset({"reader", "admin"})
_BODY_KEYS: Final = frozenset({"sql"})

Q = Annotated[str | None, Query()]

QueryGuard = Callable[[Callable[[], bytes]], Any]
"""Runs a blocking query function (in a worker thread) and returns its awaitable result; a bulkhead may
replace the default (:func:`asyncio.to_thread`) to bound concurrent API queries."""


def _params(request: Request) -> dict[str, str]:
    names = [name for name, _ in request.query_params.multi_items()]
    for name in names:
        if names.count(name) > 1:
            msg = f"query parameter {name[:60]!r} is given {names.count(name)} times; give it once"
            raise RequestError(msg, field=name[:60])
    return dict(request.query_params.items())


def sql_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Result rows in the API's text form (exact decimals and 64-bit integers as strings); columns of
    other types (lists, intervals...) as their DuckDB-independent text."""
    columns: list[pa.ChunkedArray | pa.Array] = []
    for i in range(table.num_columns):
        column = table.column(i)
        try:
            columns.append(json_ready(pa.table([column], names=["c"])).column(0))
            orjson.dumps(columns[-1].slice(0, 1).to_pylist())
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError, TypeError, OverflowError):
            columns[-1:] = [
                pa.array([None if v is None else str(v) for v in column.to_pylist()], pa.string())
            ]
    rows: list[dict[str, Any]] = pa.table(columns, names=table.column_names).to_pylist()
    return rows


def _principal_may_query(principal: Principal | None) -> None:
    if principal is None or principal.kind == "anonymous":
        return  # authentication off
    if not _SQL_ROLES.intersection(principal.roles):
        roles = ", ".join(principal.roles)
        msg = f"POST /api/v1/query needs the reader or admin role; {principal.subject!r} has {roles}"
        raise AuthorizationError(msg, permission="read_ledgers", subject=principal.subject)


async def _sql_text(request: Request) -> str:
    body = await request.body()
    try:
        message = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        msg = f'the body must be JSON {{"sql": "SELECT ..."}}: {str(exc)[:120]}'
        raise RequestError(msg, field="body") from None
    if not isinstance(message, dict) or not isinstance(message.get("sql"), str):
        msg = 'the body must be a JSON object {"sql": "SELECT ..."} with the query as a string'
        raise RequestError(msg, field="sql")
    for key in message:
        if key not in _BODY_KEYS:
            msg = f"unknown field {str(key)[:60]!r} in the body (allowed: sql)"
            raise RequestError(msg, field=str(key)[:60])
    text: str = message["sql"]
    return text


def build_analytics_router(
    store: TransferStore,
    windows: RollingWindows,
    cache: ResultCache,
    options: ApiSettings,
    *,
    guard: QueryGuard | None = None,
) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["analytics"])
    run = guard or (lambda fn: asyncio.to_thread(fn))

    def cached(kind: str, key: tuple[object, ...], compute: Callable[[], Any]) -> bytes:
        committed, current = store.data_version()
        cache.commit_seen(committed)
        return cache.get_or_compute(kind, (kind, key, current), lambda: orjson.dumps(compute()))

    @router.get("/analytics", summary="The aggregations and rolling windows served under /api/v1/analytics")
    def index(request: Request) -> Response:
        _params(request)
        if request.query_params:
            msg = "this route takes no query parameters"
            raise RequestError(msg, field=next(iter(request.query_params)))
        body = {"aggregations": list(AGGREGATIONS), "windows": list(WINDOWS)}
        return Response(orjson.dumps(body), media_type="application/json")

    @router.get("/analytics/realtime", summary="Rolling window per asset (window=1m, 1h or 24h)")
    def realtime(request: Request, window: Q = None) -> Response:
        params = _params(request)
        for key in params:
            if key != "window":
                msg = f"unknown query parameter {key[:60]!r}: use window"
                raise RequestError(msg, field=key[:60])
        name = parse_window(params.get("window", "1h"))
        return Response(orjson.dumps(windows.snapshot(name)), media_type="application/json")

    @router.get(
        "/analytics/{name}", summary="An exact aggregation of token transfers (see /api/v1/analytics)"
    )
    async def aggregation(
        request: Request,
        name: str,
        where: Q = None,
        start_time: Q = None,
        end_time: Q = None,
        from_ledger: Q = None,
        to_ledger: Q = None,
        limit: Q = None,
    ) -> Response:
        """``where``: a filter expression; times unix seconds or ISO-8601 (end exclusive); ledgers inclusive;
        ``limit`` (1-1000) for ``top_accounts`` only."""
        if name not in AGGREGATIONS:
            raise UnknownAggregationError(name)
        if not store.has_table(TOKEN_TRANSFERS_TABLE):
            msg = "this server holds no token_transfers table to aggregate"
            raise NotFoundError(msg)
        params = _params(request)
        query = parse_analytics_query(name, params, store.schema(TOKEN_TRANSFERS_TABLE))

        def compute() -> bytes:
            return cached("aggregation", (name, query.key), lambda: {
                "aggregation": name,
                "rows": run_aggregation(store, name, query),
            })  # fmt: skip

        body = await run(compute)
        return Response(body, media_type="application/json")

    @router.post("/query", summary="One read-only SQL query over the pipeline's tables (DuckDB dialect)")
    async def sql_query(request: Request) -> Response:
        _principal_may_query(getattr(request.state, "principal", None))
        _params(request)
        if request.query_params:
            msg = 'this route takes no query parameters; send {"sql": ...} as the body'
            raise RequestError(msg, field=next(iter(request.query_params)))
        text = await _sql_text(request)

        def answer() -> dict[str, Any]:
            tables = {name: store.dataset(name) for name in store.reader.tables()}
            from stellar_arrow.query import run_sql  # DuckDB and sqlglot: loaded by the first SQL query

            result = run_sql(text, tables, timeout_s=options.sql_timeout_s, max_rows=options.sql_max_rows)
            return {
                "columns": [{"name": f.name, "type": str(f.type)} for f in result.table.schema],
                "rows": sql_rows(result.table),
                "row_count": result.table.num_rows,
                "truncated": result.truncated,
                "max_rows": options.sql_max_rows,
            }

        body = await run(lambda: cached("sql", (text,), answer))
        return Response(body, media_type="application/json")

    return router
