"""WebSocket subscriptions: the client's message, parsed into a typed filter and an output format.

Client -> server (text frames, JSON)::

    {"type": "subscribe",
     "filters": {"event_types": ["transfer"], "assets": ["native", "USDC:G...", "C..."],
                 "accounts": ["G..."], "min_amount": "100.5"},
     "format": "json" | "arrow",          # default json
     "compression": "none" | "zstd",      # default none
     "cursor": 63092990,                  # optional: replay every event of ledgers > cursor, then live
     "status": true}                      # optional: also receive {"type": "status"} once a second
    {"type": "unsubscribe"}   {"type": "ping"}   {"type": "pong"}

A malformed message is answered with ``{"type": "error", "field": ..., "message": ...}`` and the connection
stays open.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.api.filters import parse_account, parse_amount_raw
from stellar_arrow.errors import RequestError
from stellar_arrow.ttp.events import Asset
from stellar_arrow.vocabulary import EVENT_TYPES

__all__ = ["StreamFilter", "Subscription", "parse_subscription"]

WireFormat = Literal["json", "arrow"]
Compression = Literal["none", "zstd"]
_MAX_LIST: Final = 1000
_SUBSCRIBE_KEYS: Final = frozenset({"type", "filters", "format", "compression", "cursor", "status"})
_FILTER_KEYS: Final = frozenset({"event_types", "assets", "accounts", "min_amount"})


@dataclass(frozen=True, slots=True)
class StreamFilter:
    """Sets of allowed values (``None`` = any); an event passes when it matches every given set."""

    event_types: frozenset[str] | None = None
    assets: frozenset[str] | None = None  # table-form asset strings
    contracts: frozenset[str] | None = None  # C-strkeys (custom tokens or SACs)
    accounts: frozenset[str] | None = None
    min_amount_raw: int | None = None

    def mask(self, rows: pa.Table) -> pa.ChunkedArray | None:
        """Boolean mask of matching rows, or ``None`` when everything matches."""
        parts: list[Any] = []
        if self.event_types is not None:
            parts.append(pc.is_in(rows["event_type"], pa.array(sorted(self.event_types))))
        if self.assets is not None or self.contracts is not None:
            by_asset = pc.is_in(rows["asset"], pa.array(sorted(self.assets or ()), pa.string()))
            by_contract = pc.is_in(rows["contract_id"], pa.array(sorted(self.contracts or ()), pa.string()))
            parts.append(pc.or_(by_asset, by_contract))
        if self.accounts is not None:
            allowed = pa.array(sorted(self.accounts))
            parts.append(pc.or_(pc.is_in(rows["from"], allowed), pc.is_in(rows["to"], allowed)))
        if self.min_amount_raw is not None:
            parts.append(_amount_at_least(rows, self.min_amount_raw))
        if not parts:
            return None
        out = parts[0]
        for part in parts[1:]:
            out = pc.and_(out, part)
        return out

    def apply(self, rows: pa.Table) -> pa.Table:
        mask = self.mask(rows)
        return rows if mask is None else rows.filter(mask)


def _amount_at_least(rows: pa.Table, minimum: int) -> pa.ChunkedArray:
    """Exact ``amount_raw >= minimum``: decimal compare if every ``amount`` fits, else Python ints."""
    if abs(minimum) < 10**38 and rows["amount"].null_count == 0:
        bound = pa.scalar(Decimal(f"{minimum}e-7"), pa.decimal128(38, 7))
        return pc.greater_equal(rows["amount"], bound)
    values = [int(v) >= minimum for v in rows["amount_raw"].to_pylist()]
    return pa.chunked_array([pa.array(values, pa.bool_())])


@dataclass(frozen=True, slots=True)
class Subscription:
    filter: StreamFilter
    format: WireFormat = "json"
    compression: Compression = "none"
    cursor: int | None = None
    status: bool = False

    @property
    def group_key(self) -> tuple[object, ...]:
        """Subscribers with equal keys share one filtered, serialized payload."""
        return (self.filter, self.format, self.compression)


def _string_list(value: object, field: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        msg = f"{field} must be a list of strings"
        raise RequestError(msg, field=field)
    if not value or len(value) > _MAX_LIST:
        msg = f"{field} must have 1 to {_MAX_LIST} entries"
        raise RequestError(msg, field=field)
    return value


def _filters(raw: object) -> StreamFilter:
    if raw is None:
        return StreamFilter()
    if not isinstance(raw, Mapping):
        msg = "filters must be an object"
        raise RequestError(msg, field="filters")
    for key in raw:
        if key not in _FILTER_KEYS:
            msg = f"unknown filter {key!r} (allowed: {', '.join(sorted(_FILTER_KEYS))})"
            raise RequestError(msg, field=f"filters.{key}")
    kinds = assets = contracts = accounts = None
    if "event_types" in raw:
        kinds = frozenset(_string_list(raw["event_types"], "filters.event_types"))
        bad = sorted(kinds - set(EVENT_TYPES))
        if bad:
            msg = f"event type {bad[0]!r} is not one of {', '.join(EVENT_TYPES)}"
            raise RequestError(msg, field="filters.event_types")
    if "assets" in raw:
        found: set[str] = set()
        ids: set[str] = set()
        for text in _string_list(raw["assets"], "filters.assets"):
            if text.startswith("C") and ":" not in text:
                ids.add(parse_account(text, field="filters.assets"))
                continue
            try:
                found.add(Asset.parse(text).qualified)
            except ValueError as exc:
                msg = f"asset {text!r}: {exc}"
                raise RequestError(msg, field="filters.assets") from exc
        assets, contracts = frozenset(found), frozenset(ids)
    if "accounts" in raw:
        listed = _string_list(raw["accounts"], "filters.accounts")
        accounts = frozenset(parse_account(a, field="filters.accounts") for a in listed)
    minimum = None
    if "min_amount" in raw:
        if not isinstance(raw["min_amount"], str | int):
            msg = "min_amount must be a decimal string"
            raise RequestError(msg, field="filters.min_amount")
        minimum = parse_amount_raw(str(raw["min_amount"]), "filters.min_amount")
    return StreamFilter(kinds, assets, contracts, accounts, minimum)


def parse_subscription(message: Mapping[str, Any]) -> Subscription:
    """Validate a ``subscribe`` message; ``RequestError`` names the first bad field."""
    for key in message:
        if key not in _SUBSCRIBE_KEYS:
            msg = f"unknown subscription field {key!r} (allowed: {', '.join(sorted(_SUBSCRIBE_KEYS))})"
            raise RequestError(msg, field=key)
    fmt = message.get("format", "json")
    if fmt not in ("json", "arrow"):
        msg = f"format {fmt!r} must be json or arrow"
        raise RequestError(msg, field="format")
    compression = message.get("compression", "none")
    if compression not in ("none", "zstd"):
        msg = f"compression {compression!r} must be none or zstd"
        raise RequestError(msg, field="compression")
    cursor = message.get("cursor")
    if cursor is not None:
        if isinstance(cursor, str) and cursor.isdigit():
            cursor = int(cursor)
        if not isinstance(cursor, int) or isinstance(cursor, bool) or not 0 <= cursor < 1 << 32:
            msg = f"cursor {cursor!r} is not a ledger sequence"
            raise RequestError(msg, field="cursor")
    status = message.get("status", False)
    if not isinstance(status, bool):
        msg = "status must be true or false"
        raise RequestError(msg, field="status")
    return Subscription(_filters(message.get("filters")), fmt, compression, cursor, status)
