"""The HTTP server's bulkhead on queries: a FastAPI dependency, and the 429 answer of a full bulkhead.

``Depends(query_slot(bulkhead))`` on a router (``app.include_router(router, dependencies=[...])``) holds
one slot of the ``api_queries`` :class:`~stellar_arrow.resilience.bulkhead.AsyncBulkhead` while a request
of that router runs; when every slot stays taken for ``api.query_wait_s`` the request is answered
``429 Too Many Requests`` with ``Retry-After`` (:func:`busy_response`), counted in
``bulkhead_rejections_total{name="api_queries"}``. Route modules need nothing else.
"""

from __future__ import annotations

import math
from collections.abc import AsyncIterator, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from stellar_arrow.api.render import JsonResponse
from stellar_arrow.config import ApiSettings
from stellar_arrow.errors import BusyError
from stellar_arrow.resilience.bulkhead import AsyncBulkhead

__all__ = ["busy_response", "query_bulkhead", "query_slot"]


def query_bulkhead(options: ApiSettings) -> AsyncBulkhead:
    """The ``api_queries`` bulkhead of one app (``api.max_queries`` slots, ``api.query_wait_s`` wait)."""
    return AsyncBulkhead("api_queries", options.max_queries, max_wait_s=options.query_wait_s)


def query_slot(bulkhead: AsyncBulkhead) -> Callable[[], AsyncIterator[None]]:
    """A dependency holding one slot of ``bulkhead`` for the request (raises :class:`BusyError`)."""

    async def slot() -> AsyncIterator[None]:
        async with bulkhead.slot():
            yield

    return slot


async def busy_response(request: Request, exc: Any) -> Response:
    """``429`` with ``Retry-After`` (whole seconds) and a body naming the full bulkhead."""
    assert isinstance(exc, BusyError)
    retry = max(1, math.ceil(exc.retry_after or 1))
    body = {"status": 429, "title": "Too Many Requests", "detail": str(exc), "bulkhead": exc.name}
    return JsonResponse(body, status_code=429, headers={"Retry-After": str(retry)})
