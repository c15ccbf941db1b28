"""THE filter of ``token_transfers`` rows: one frozen, validated model for every surface.

Flight tickets (``filters``), WebSocket ``subscribe`` messages and REST query parameters all parse into a
:class:`TransferFilter` (:mod:`stellar_arrow.query.parse`); :mod:`stellar_arrow.query.arrow` applies it
to Arrow data and :mod:`stellar_arrow.query.sql` turns it into a parameterised DuckDB predicate.

Semantics: conditions are AND-ed; the values of one list are OR-ed; an empty list or ``None`` is no
condition. ``assets`` hold the table's form (``native``, ``credit_alphanum4:CODE:ISSUER``, ...) matched
against ``asset``, or contract C-strkeys matched against ``contract_id``; ``accounts`` match ``from``,
``to`` or ``to_muxed``; amount bounds are inclusive and exact, in raw units (``amount_raw``); the ledger
range is inclusive; ``start_time`` is inclusive and ``end_time`` exclusive (on ``closed_at``).
``operation_types`` match the ``operation_type`` column (the operation that produced the event; fee
events have none and never match). ``named`` are names of pre-built filters
(:mod:`stellar_arrow.query.named`), each AND-ed with the rest. ``where`` is a filter expression
(:func:`stellar_arrow.query.where.compile_where`) checked against the ``token_transfers`` schema.
Applying a condition to rows without its column is a :class:`RequestError`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from datetime import datetime
from typing import Any, Final, TypeVar

from stellar_arrow.errors import RequestError
from stellar_arrow.query.named import parse_named_filter
from stellar_arrow.query.values import (
    I128_MAX,
    TIME_MAX,
    TIME_MIN,
    format_amount,
    format_time,
    parse_asset,
    parse_asset_code,
    parse_event_type,
    parse_ledger,
    parse_operation_type,
    parse_strkey,
    parse_transaction_hash,
)
from stellar_arrow.query.where import Where
from stellar_arrow.vocabulary import EventType

__all__ = ["MAX_VALUES", "TransferFilter"]

#: The most values one list condition may hold.
MAX_VALUES: Final = 1000
_TABLE: Final = "token_transfers"

_T = TypeVar("_T")


def _values(
    name: str, items: tuple[Any, ...], parse: Callable[[object, str], _T], low: int = 0
) -> tuple[_T, ...]:
    if not isinstance(items, tuple):
        msg = f"{name} must be a tuple of values, not {type(items).__name__}"
        raise RequestError(msg, field=name)
    if len(items) > MAX_VALUES:
        msg = f"{name} has {len(items)} values; at most {MAX_VALUES} are allowed"
        raise RequestError(msg, field=name)
    for item in items:
        if parse(item, name) != item:
            msg = f"{name} value {item!r} is not in canonical form (got {parse(item, name)!r})"
            raise RequestError(msg, field=name)
    return tuple(sorted(set(items), key=str))


def _amount(name: str, raw: int | None) -> None:
    if raw is not None and (isinstance(raw, bool) or not isinstance(raw, int) or not 0 <= raw <= I128_MAX):
        msg = f"{name} must be a raw amount between 0 and 2^127 - 1, not {raw!r}"
        raise RequestError(msg, field=name)


def _time(name: str, moment: datetime | None) -> None:
    if moment is None:
        return
    if not isinstance(moment, datetime) or moment.tzinfo is None or not TIME_MIN <= moment <= TIME_MAX:
        msg = f"{name} must be an aware datetime in years 1970-9999, not {moment!r}"
        raise RequestError(msg, field=name)


@dataclass(frozen=True, slots=True)
class TransferFilter:
    """Which ``token_transfers`` rows to keep. Every field is validated and normalised on construction."""

    event_types: tuple[EventType, ...] = ()
    assets: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    asset_codes: tuple[str, ...] = ()
    transaction_hash: str | None = None
    min_amount: int | None = None
    max_amount: int | None = None
    from_ledger: int | None = None
    to_ledger: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    operation_types: tuple[str, ...] = ()
    named: tuple[str, ...] = ()
    where: Where | None = None

    def __post_init__(self) -> None:
        normal = {
            "event_types": _values("event_types", self.event_types, parse_event_type),
            "assets": _values("assets", self.assets, parse_asset),
            "accounts": _values("accounts", self.accounts, parse_strkey),
            "asset_codes": _values("asset_codes", self.asset_codes, parse_asset_code),
            "operation_types": _values("operation_types", self.operation_types, parse_operation_type),
            "named": _values("named", self.named, parse_named_filter),
        }
        for name, value in normal.items():
            object.__setattr__(self, name, value)
        if self.transaction_hash is not None:
            parse_transaction_hash(self.transaction_hash, "transaction_hash")
        _amount("min_amount", self.min_amount)
        _amount("max_amount", self.max_amount)
        for name in ("from_ledger", "to_ledger"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or parse_ledger(value, name) != value):
                msg = f"{name} must be an int ledger sequence, not {value!r}"
                raise RequestError(msg, field=name)
        _time("start_time", self.start_time)
        _time("end_time", self.end_time)
        if self.where is not None and (not isinstance(self.where, Where) or self.where.table != _TABLE):
            msg = f"where must be an expression compiled against the {_TABLE} schema, not {self.where!r:.80}"
            raise RequestError(msg, field="where")
        if self.min_amount is not None and self.max_amount is not None and self.min_amount > self.max_amount:
            low, high = format_amount(self.min_amount), format_amount(self.max_amount)
            msg = f"min_amount {low} is above max_amount {high}: no event can match"
            raise RequestError(msg, field="min_amount")
        if self.from_ledger is not None and self.to_ledger is not None and self.from_ledger > self.to_ledger:
            msg = f"from_ledger {self.from_ledger} is after to_ledger {self.to_ledger}"
            raise RequestError(msg, field="from_ledger")
        if self.start_time is not None and self.end_time is not None and self.end_time <= self.start_time:
            start, end = format_time(self.start_time), format_time(self.end_time)
            msg = f"end_time {end} is not after start_time {start} (end_time is exclusive)"
            raise RequestError(msg, field="end_time")

    @property
    def is_empty(self) -> bool:
        """True when the filter keeps every row."""
        return self == _EVERYTHING

    @property
    def classic_assets(self) -> tuple[str, ...]:
        """The ``asset`` column values of :attr:`assets` (``native`` and issued assets)."""
        return tuple(a for a in self.assets if not a.startswith("C"))

    @property
    def contract_ids(self) -> tuple[str, ...]:
        """The contract C-strkeys of :attr:`assets` (matched against ``contract_id``)."""
        return tuple(a for a in self.assets if a.startswith("C"))

    def to_json(self) -> dict[str, object]:
        """The filter as the JSON object :func:`~stellar_arrow.query.parse.filter_from_json` reads back.

        Only conditions that are set appear; amounts are decimal strings of whole units, times ISO-8601.
        """
        body: dict[str, object] = {}
        for spec in fields(self):
            value = getattr(self, spec.name)
            if value is None or value == ():
                continue
            if isinstance(value, tuple):
                body[spec.name] = list(value)
            elif spec.name in ("min_amount", "max_amount"):
                body[spec.name] = format_amount(value)
            elif isinstance(value, datetime):
                body[spec.name] = format_time(value)
            elif isinstance(value, Where):
                body[spec.name] = value.text
            else:
                body[spec.name] = value
        return body


_EVERYTHING: Final = TransferFilter()
