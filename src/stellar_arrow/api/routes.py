"""REST routes under ``/api/v1`` (Horizon-style paging: ``cursor``, ``limit`` <= 200, ``order``)."""

from __future__ import annotations

from typing import Annotated, Any, Final
from urllib.parse import urlencode

import pyarrow as pa
from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from stellar_arrow.api.filters import (
    FILTER_FIELDS,
    PAGING_FIELDS,
    check_known,
    parse_event_id,
    parse_limit,
    parse_paging,
)
from stellar_arrow.api.hub import add_event_ids
from stellar_arrow.api.render import JsonResponse, negotiate, table_response
from stellar_arrow.api.store import Interval, TransferStore
from stellar_arrow.errors import RequestError
from stellar_arrow.query import (
    TransferFilter,
    filter_from_query,
    filter_mask,
    parse_ledger,
    parse_strkey,
    parse_transaction_hash,
)
from stellar_arrow.schema import ledger_column
from stellar_arrow.sink.textfiles import to_rows
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_TABLE as TT
from stellar_arrow.vocabulary import NON_FEE_EVENT_TYPES

__all__ = ["NotFoundError", "build_router"]

Q = Annotated[str | None, Query()]
#: Filter expression, named filters and operation types (documented here, parsed with the other filters).
WHERE = Annotated[
    str | None, Query(description="filter expression, e.g. amount >= 100 AND asset_code = 'USDC'")
]
NAMED = Annotated[
    str | None, Query(alias="filter", description="named filters: successful_payments,large_amounts")
]
OPERATION_TYPE = Annotated[str | None, Query(description="comma list of operation types, e.g. payment")]
_EXPRESSION_FIELDS: Final = ("where", "filter", "operation_type")


def _filter(store: TransferStore, params: dict[str, str]) -> TransferFilter:
    """The one filter model from query parameters, ``where`` checked against the served ``token_transfers``.

    Data written by an older version may lack a column (``operation_type`` before schema version 3): the
    filter is tried on an empty table of the served schema, so such a condition is a 400 naming the field.
    """
    schema = store.schema(TT) if store.has_table(TT) else TOKEN_TRANSFERS_SCHEMA
    rows = filter_from_query(params, schema=schema)
    filter_mask(schema.empty_table(), rows)
    return rows


_INTERVALS: Final[dict[str, Interval]] = {
    "ledger": "ledger",
    "minute": "minute",
    "hour": "hour",
    "day": "day",
}


class NotFoundError(LookupError):
    """-> HTTP 404 with this message."""


def _records(rows: pa.Table) -> list[dict[str, Any]]:
    records = to_rows(add_event_ids(rows))
    for record in records:
        record["paging_token"] = record["id"] = str(record["id"])
    return records


def _page(request: Request, rows: pa.Table, fixed: dict[str, str]) -> Response:
    kind = negotiate(request)
    if kind != "json":
        return table_response(add_event_ids(rows), kind)
    records = _records(rows)
    query = {k: v for k, v in request.query_params.items() if k != "cursor"}
    base = str(request.url.replace(query=""))
    links: dict[str, Any] = {"self": {"href": str(request.url)}}
    if records:
        nxt = {**query, "cursor": records[-1]["id"]}
        order = query.get("order", "asc")
        prev = {**query, "cursor": records[0]["id"], "order": "desc" if order == "asc" else "asc"}
        links["next"] = {"href": f"{base}?{urlencode(nxt)}"}
        links["prev"] = {"href": f"{base}?{urlencode(prev)}"}
    return JsonResponse({"_links": links, "_embedded": {"records": records}, **fixed})


def _query(request: Request, allowed: tuple[str, ...]) -> dict[str, str]:
    """The query parameters, each known and given once (a repeated name is refused, not overwritten)."""
    names = [name for name, _ in request.query_params.multi_items()]
    check_known(names, allowed)
    for name in names:
        if names.count(name) > 1:
            msg = f"query parameter {name!r} is given {names.count(name)} times; give it once"
            raise RequestError(msg, field=name)
    return dict(request.query_params.items())


def build_router(store: TransferStore) -> APIRouter:
    router = APIRouter(prefix="/api/v1", tags=["api"])

    @router.get("/transfers", summary="Token transfer events, filtered and paged")
    def transfers(
        request: Request,
        account: Q = None,
        asset: Q = None,
        asset_code: Q = None,
        event_type: Q = None,
        transaction_hash: Q = None,
        from_ledger: Q = None,
        to_ledger: Q = None,
        start_time: Q = None,
        end_time: Q = None,
        min_amount: Q = None,
        max_amount: Q = None,
        where: WHERE = None,
        named: NAMED = None,
        operation_type: OPERATION_TYPE = None,
        cursor: Q = None,
        limit: Q = None,
        order: Q = None,
    ) -> Response:
        """``account`` matches ``from`` or ``to``; ``asset`` is ``native``, ``CODE:ISSUER`` or a C-strkey;
        ``event_type`` a comma list; amounts are exact decimals (7 places); ``cursor`` an event id."""
        params = _query(request, FILTER_FIELDS + PAGING_FIELDS)
        rows = store.transfers(_filter(store, params), parse_paging(params))
        return _page(request, rows, {})

    @router.get("/transfers/{event_id}", summary="One token transfer event by id (paging token)")
    def transfer(request: Request, event_id: Annotated[str, Path()]) -> Response:
        _query(request, ())
        rows = store.transfer(parse_event_id(event_id, field="event_id"))
        if rows.num_rows == 0:
            msg = f"no token transfer event with id {event_id}"
            raise NotFoundError(msg)
        kind = negotiate(request)
        if kind != "json":
            return table_response(add_event_ids(rows), kind)
        return JsonResponse(_records(rows)[0])

    @router.get("/accounts/{account_id}/transfers", summary="Events where the account sends or receives")
    def account_transfers(
        request: Request,
        account_id: Annotated[str, Path()],
        asset: Q = None,
        asset_code: Q = None,
        event_type: Q = None,
        transaction_hash: Q = None,
        from_ledger: Q = None,
        to_ledger: Q = None,
        start_time: Q = None,
        end_time: Q = None,
        min_amount: Q = None,
        max_amount: Q = None,
        where: WHERE = None,
        named: NAMED = None,
        operation_type: OPERATION_TYPE = None,
        cursor: Q = None,
        limit: Q = None,
        order: Q = None,
    ) -> Response:
        allowed = tuple(f for f in FILTER_FIELDS if f != "account") + PAGING_FIELDS
        params = _query(request, allowed)
        params["account"] = parse_strkey(account_id, "account_id")
        rows = store.transfers(_filter(store, params), parse_paging(params))
        return _page(request, rows, {"account": account_id})

    @router.get(
        "/ledgers/{sequence}", summary="A ledger: its row (if the ledgers table is sunk) and its events"
    )
    def ledger(request: Request, sequence: Annotated[str, Path()]) -> Response:
        _query(request, ())
        seq = parse_ledger(sequence, "sequence")
        row = None
        if store.has_table("ledgers"):
            schema = store.schema("ledgers")
            column = ledger_column(schema) or "sequence"
            found = store.lookup("ledgers", column, seq)
            row = to_rows(found)[0] if found.num_rows else None
        counts = store.ledger_transfers(seq).to_pylist()
        if row is None and not counts:
            msg = f"ledger {seq} is not in the sink's data"
            raise NotFoundError(msg)
        closed = counts[0]["closed_at"] if counts else None
        return JsonResponse(
            {
                "sequence": seq,
                "closed_at": None if closed is None else closed.strftime("%Y-%m-%dT%H:%M:%SZ"),
                "ledger": row,
                "transfers": {
                    "count": sum(c["events"] for c in counts),
                    "by_event_type": {c["event_type"]: c["events"] for c in counts},
                },
                "_links": {"transfers": {"href": f"/api/v1/transfers?from_ledger={seq}&to_ledger={seq}"}},
            }
        )

    @router.get(
        "/transactions/{tx_hash}", summary="A transaction (if sunk) with all its token transfer events"
    )
    def transaction(request: Request, tx_hash: Annotated[str, Path()]) -> Response:
        _query(request, ())
        parse_transaction_hash(tx_hash, "tx_hash")
        row = None
        if store.has_table("transactions"):
            schema = store.schema("transactions")
            column = next((c for c in ("transaction_hash", "hash", "tx_hash") if c in schema.names), None)
            if column is not None:
                found = store.lookup("transactions", column, tx_hash)
                row = to_rows(found)[0] if found.num_rows else None
        events = store.transaction_events(tx_hash)
        if row is None and events.num_rows == 0:
            msg = f"transaction {tx_hash} is not in the sink's data"
            raise NotFoundError(msg)
        return JsonResponse({"hash": tx_hash, "transaction": row, "events": _records(events)})

    @router.get("/stats/volume", summary="Event count and exact volume per asset and time bucket")
    def volume(
        request: Request,
        asset: Q = None,
        interval: Q = None,
        event_type: Q = None,
        from_ledger: Q = None,
        to_ledger: Q = None,
        start_time: Q = None,
        end_time: Q = None,
        where: WHERE = None,
        named: NAMED = None,
        operation_type: OPERATION_TYPE = None,
    ) -> Response:
        """``interval``: ledger, minute, hour (default) or day; ``event_type`` defaults to all but fee."""
        params = _query(
            request,
            (
                *("asset", "interval", "event_type", "from_ledger", "to_ledger", "start_time", "end_time"),
                *_EXPRESSION_FIELDS,
            ),
        )
        span = params.pop("interval", "hour")
        if span not in _INTERVALS:
            msg = f"interval {span!r:.60} must be one of {', '.join(_INTERVALS)}"
            raise RequestError(msg, field="interval")
        params.setdefault("event_type", ",".join(NON_FEE_EVENT_TYPES))
        table = store.volume(_filter(store, params), _INTERVALS[span])
        kind = negotiate(request)
        if kind != "json":
            return table_response(table, kind)
        return JsonResponse({"interval": span, "buckets": to_rows(table)})

    @router.get("/stats/assets", summary="Most active assets by event count, with exact volume")
    def assets(
        request: Request,
        event_type: Q = None,
        limit: Q = None,
        where: WHERE = None,
        named: NAMED = None,
        operation_type: OPERATION_TYPE = None,
    ) -> Response:
        params = _query(request, ("event_type", "limit", *_EXPRESSION_FIELDS))
        count = parse_limit(params.pop("limit", "20"))
        params.setdefault("event_type", ",".join(NON_FEE_EVENT_TYPES))
        table = store.top_assets(_filter(store, params), count)
        return JsonResponse({"assets": to_rows(table)})

    @router.get("/stats/summary", summary="Totals over everything the sink holds")
    def summary(request: Request) -> Response:
        _query(request, ())
        row = store.summary()
        for key in ("first_closed_at", "last_closed_at"):
            if row[key] is not None:
                row[key] = row[key].strftime("%Y-%m-%dT%H:%M:%SZ")
        return JsonResponse(row)

    return router
