"""WebSocket subscriptions: the client's message, parsed into the one filter model and an output format.

Client -> server (text frames, JSON)::

    {"type": "subscribe",
     "filters": {"event_types": ["transfer"], "assets": ["native", "USDC:G...", "C..."],
                 "accounts": ["G..."], "min_amount": "100.5", "operation_types": ["payment"],
                 "named": ["successful_payments"]},   # any field of stellar_arrow.query
     "where": "amount >= 100 AND asset_code = 'USDC'",   # optional filter expression (or filters.where)
     "format": "json" | "arrow",          # default json
     "compression": "none" | "zstd",      # default none
     "cursor": 63092990,                  # optional: replay every event of ledgers > cursor, then live
     "status": true}                      # optional: also receive {"type": "status"} once a second
    {"type": "unsubscribe"}   {"type": "ping"}   {"type": "pong"}

``filters`` are parsed by :func:`stellar_arrow.query.filter_from_json` (error fields ``filters.<name>``);
``where`` is checked against the ``token_transfers`` schema (error field ``where``, message with the
position) and AND-ed with the filters; it may also be given as ``filters.where``, not both.
A malformed message is answered with ``{"type": "error", "field": ..., "message": ...}`` and the connection
stays open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any, Final, Literal

from stellar_arrow.errors import RequestError
from stellar_arrow.query import TransferFilter, compile_where, filter_from_json, parse_ledger
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA

__all__ = ["Subscription", "parse_subscription"]

WireFormat = Literal["json", "arrow"]
Compression = Literal["none", "zstd"]
_SUBSCRIBE_KEYS: Final = frozenset({"type", "filters", "format", "compression", "cursor", "status", "where"})


@dataclass(frozen=True, slots=True)
class Subscription:
    filter: TransferFilter
    format: WireFormat = "json"
    compression: Compression = "none"
    cursor: int | None = None
    status: bool = False

    @property
    def group_key(self) -> tuple[object, ...]:
        """Subscribers with equal keys share one filtered, serialized payload."""
        return (self.filter, self.format, self.compression)


def parse_subscription(message: Mapping[str, Any]) -> Subscription:
    """Validate a ``subscribe`` message; ``RequestError`` names the first bad field."""
    for key in message:
        if key not in _SUBSCRIBE_KEYS:
            msg = f"unknown subscription field {key!r:.60} (allowed: {', '.join(sorted(_SUBSCRIBE_KEYS))})"
            raise RequestError(msg, field=str(key)[:60])
    fmt = message.get("format", "json")
    if fmt not in ("json", "arrow"):
        msg = f"format {fmt!r:.60} must be json or arrow"
        raise RequestError(msg, field="format")
    compression = message.get("compression", "none")
    if compression not in ("none", "zstd"):
        msg = f"compression {compression!r:.60} must be none or zstd"
        raise RequestError(msg, field="compression")
    raw_cursor = message.get("cursor")
    cursor = None if raw_cursor is None else parse_ledger(raw_cursor, "cursor", low=0)
    status = message.get("status", False)
    if not isinstance(status, bool):
        msg = "status must be true or false"
        raise RequestError(msg, field="status")
    rows = filter_from_json(message.get("filters"), prefix="filters.", schema=TOKEN_TRANSFERS_SCHEMA)
    text = message.get("where")
    if text is not None:
        if rows.where is not None:
            msg = "give the filter expression once: where or filters.where"
            raise RequestError(msg, field="where")
        if not isinstance(text, str):
            msg = f"where must be a string holding a filter expression, not {type(text).__name__}"
            raise RequestError(msg, field="where")
        rows = replace(rows, where=compile_where(text, TOKEN_TRANSFERS_SCHEMA, field="where"))
    return Subscription(rows, fmt, compression, cursor, status)
