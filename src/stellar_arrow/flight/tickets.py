"""Typed, versioned parameters of a Flight stream request, carried as JSON in tickets and descriptors.

A :class:`StreamRequest` names the stream, the first ledger, the last ledger (or ``None`` with
``live=True`` to follow the tip), the token transfer filters, a ``where`` filter expression over the
stream's table and a resume cursor (the last ledger the consumer already holds). ``where`` is checked
against the schema of the ticket's table (raw XDR columns included); for ``token_transfers`` it becomes
``filters.where`` (either spelling is accepted, not both); ``ledger_close_meta`` has no table to filter.
The same JSON object is the ticket bytes and the command of a CMD
descriptor; a PATH descriptor ``[stream]`` means "the whole stream with default parameters".

Pure: no I/O. Bad input raises :class:`TicketError` naming the field.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields, replace
from typing import Any, TypeVar

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.build import table_schema
from stellar_arrow.errors import RequestError, TicketError
from stellar_arrow.query import (
    TransferFilter,
    Where,
    compile_where,
    filter_expression,
    filter_from_json,
    filter_rows,
    filter_where,
)
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA

__all__ = [
    "FILTERED_STREAM",
    "STREAMS",
    "TABLE_STREAMS",
    "TICKET_VERSION",
    "StreamRequest",
    "TicketError",
    "decode_request",
    "encode_request",
]

TICKET_VERSION = 1

#: Every stream name a service of stellar-arrow may serve.
STREAMS = ("ledger_close_meta", "ledgers", "transactions", "operations", "token_transfers")

_MAX_LEDGER = 2**32 - 1
#: The only stream whose rows ``filters`` apply to.
FILTERED_STREAM = "token_transfers"
#: Streams that are tables, whose rows a ``where`` expression may filter.
TABLE_STREAMS = ("ledgers", "transactions", "operations", "token_transfers")

Rows = TypeVar("Rows", pa.RecordBatch, pa.Table)


@dataclass(frozen=True, slots=True)
class StreamRequest:
    """What a consumer asks a service for.

    ``end_ledger`` is inclusive; ``None`` means "up to the last ledger available when the stream
    starts" unless ``live`` is set, in which case the stream follows the tip until cancelled.
    ``resume_after`` is the last ledger the consumer has committed: the stream starts after it.
    """

    stream: str
    start_ledger: int | None = None
    end_ledger: int | None = None
    live: bool = False
    filters: TransferFilter = field(default_factory=TransferFilter)
    resume_after: int | None = None
    where: Where | None = None  # for tables other than token_transfers (there: ``filters.where``)

    def keep(self, rows: Rows) -> Rows:
        """The rows of this request's table that its ``filters`` (token_transfers) and ``where`` keep."""
        if self.stream == FILTERED_STREAM:
            return rows if self.filters.is_empty else filter_rows(rows, self.filters)
        return filter_where(rows, self.where)

    def expression(self, schema: pa.Schema) -> pc.Expression | None:
        """What :meth:`keep` keeps, as one ``pyarrow.dataset`` filter (``None``: every row)."""
        if self.stream == FILTERED_STREAM:
            return None if self.filters.is_empty else filter_expression(self.filters, schema)
        return None if self.where is None else self.where.arrow

    @property
    def first_ledger(self) -> int | None:
        """The first ledger this request will deliver, after applying the resume cursor."""
        if self.resume_after is None:
            return self.start_ledger
        if self.start_ledger is None:
            return self.resume_after + 1
        return max(self.start_ledger, self.resume_after + 1)

    def resumed(self, resume_after: int) -> StreamRequest:
        """The same request continuing after ``resume_after``."""
        return replace(self, resume_after=resume_after)

    def contains(self, ledger_sequence: int) -> bool:
        first = self.first_ledger
        if first is not None and ledger_sequence < first:
            return False
        return self.end_ledger is None or ledger_sequence <= self.end_ledger


def encode_request(request: StreamRequest) -> bytes:
    """The canonical JSON bytes of ``request`` (sorted keys, version first)."""
    body: dict[str, Any] = {
        "v": TICKET_VERSION,
        **{f.name: getattr(request, f.name) for f in fields(request) if f.name not in ("filters", "where")},
    }
    if request.where is not None:
        body["where"] = request.where.text
    body["filters"] = request.filters.to_json()
    if not body["filters"]:
        del body["filters"]
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def decode_request(raw: bytes) -> StreamRequest:
    """Parse and validate ticket or command bytes."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        msg = (
            f"ticket is not JSON ({exc.__class__.__name__}: {exc}); expected an object with 'v' and 'stream'"
        )
        raise TicketError(msg, field="ticket") from None
    if not isinstance(doc, dict):
        msg = f"ticket must be a JSON object, not {type(doc).__name__}"
        raise TicketError(msg, field="ticket")
    version = doc.pop("v", None)
    if version != TICKET_VERSION:
        msg = f"unsupported ticket version {version!r:.60}; this server speaks version {TICKET_VERSION}"
        raise TicketError(msg, field="v")
    known = {"stream", "start_ledger", "end_ledger", "live", "filters", "resume_after", "where"}
    unknown = sorted(set(doc) - known)
    if unknown:
        msg = f"unknown ticket field {unknown[0]!r:.60}; known fields: {sorted(known)}"
        raise TicketError(msg, field=unknown[0][:60])
    stream = doc.get("stream")
    if stream not in STREAMS:
        msg = f"unknown stream {stream!r:.60}; streams: {', '.join(STREAMS)}"
        raise TicketError(msg, field="stream")
    start = _ledger(doc, "start_ledger")
    end = _ledger(doc, "end_ledger")
    resume = _ledger(doc, "resume_after")
    live = doc.get("live", False)
    if not isinstance(live, bool):
        msg = f"live must be true or false, not {live!r:.60}"
        raise TicketError(msg, field="live")
    if start is not None and end is not None and end < start:
        msg = f"end_ledger {end} is before start_ledger {start}"
        raise TicketError(msg, field="end_ledger")
    if live and end is not None:
        msg = "a live stream has no end_ledger"
        raise TicketError(msg, field="live")
    filters = _filters(doc.get("filters"))
    if not filters.is_empty and stream != FILTERED_STREAM:
        msg = f"filters apply to the {FILTERED_STREAM} stream only, not to {stream!r}"
        raise TicketError(msg, field="filters")
    where = _where(doc.get("where"), stream)
    if where is not None and stream == FILTERED_STREAM:
        if filters.where is not None:
            msg = "give the filter expression once: where or filters.where"
            raise TicketError(msg, field="where")
        filters, where = replace(filters, where=where), None
    return StreamRequest(
        stream=stream,
        start_ledger=start,
        end_ledger=end,
        live=live,
        filters=filters,
        resume_after=resume,
        where=where,
    )


def _ledger(doc: dict[str, Any], name: str) -> int | None:
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_LEDGER:
        msg = f"{name} must be a ledger sequence between 1 and {_MAX_LEDGER}, not {value!r:.60}"
        raise TicketError(msg, field=name)
    return value


def _filters(value: Any) -> TransferFilter:
    """The ticket's ``filters`` object, parsed by the one filter parser (fields ``filters.<name>``)."""
    try:
        return filter_from_json(value, prefix="filters.", schema=TOKEN_TRANSFERS_SCHEMA)
    except RequestError as exc:
        raise TicketError(str(exc), field=exc.field) from None


def _where(text: Any, stream: str) -> Where | None:
    """The ticket's ``where``, checked against the stream's table (raw XDR columns included)."""
    if text is None:
        return None
    if stream not in TABLE_STREAMS:
        msg = f"where applies to the table streams ({', '.join(TABLE_STREAMS)}), not to {stream!r}"
        raise TicketError(msg, field="where")
    if not isinstance(text, str):
        msg = f"where must be a string holding a filter expression, not {type(text).__name__}"
        raise TicketError(msg, field="where")
    try:
        return compile_where(text, table_schema(stream, include_xdr=True), field="where")
    except RequestError as exc:
        raise TicketError(str(exc), field=exc.field) from None
