"""One parser from the outside world into a :class:`~stellar_arrow.query.filter.TransferFilter`.

Two spellings of the same fields:

* JSON (Flight ticket ``filters``, WebSocket ``subscribe`` ``filters``): lists are JSON arrays of strings,
  amounts decimal strings (or integers), ledgers integers, times unix seconds or ISO-8601 strings::

    {"event_types": ["transfer", "mint"], "assets": ["native", "USDC:G...", "C..."], "accounts": ["G..."],
     "asset_codes": ["USDC"], "transaction_hash": "ab...", "min_amount": "100.5", "max_amount": "1000",
     "from_ledger": 63092982, "to_ledger": 63093001, "start_time": "2026-01-31T00:00:00Z", "end_time": ...}

  plus ``"operation_types": ["payment", ...]``, ``"named": "successful_payments"`` (a name or an array of
  names, :mod:`stellar_arrow.query.named`) and ``"where": "amount >= 100 AND asset LIKE 'USDC:%'"``;

* query parameters (REST): singular names, lists comma-separated: ``event_type=mint,burn``,
  ``asset=native``, ``account=G...``, ``asset_code=USDC``, ``transaction_hash``, ``min_amount``,
  ``max_amount``, ``from_ledger``, ``to_ledger``, ``start_time``, ``end_time``, ``operation_type``,
  ``filter`` (named filters) and ``where``.

A ``where`` expression is compiled against the ``schema`` the caller passes (the ``token_transfers``
schema, which lives above this package); without one, ``where`` is refused.

Every error is a :class:`~stellar_arrow.errors.RequestError` whose ``field`` is the name the caller used
(``filters.min_amount`` for a ticket, ``min_amount`` for a query parameter).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final

import pyarrow as pa

from stellar_arrow.errors import RequestError
from stellar_arrow.query.filter import MAX_VALUES, TransferFilter
from stellar_arrow.query.named import parse_named_filter
from stellar_arrow.query.values import (
    parse_amount,
    parse_asset,
    parse_asset_code,
    parse_event_type,
    parse_ledger,
    parse_operation_type,
    parse_strkey,
    parse_time,
    parse_transaction_hash,
)
from stellar_arrow.query.where import Where, compile_where

__all__ = ["JSON_FIELDS", "QUERY_FIELDS", "filter_from_json", "filter_from_query"]

_Parse = Callable[[object, str], Any]

#: Model field -> parser of one value, for list fields and for single-value fields.
_LISTS: Final[dict[str, _Parse]] = {
    "event_types": parse_event_type,
    "assets": parse_asset,
    "accounts": parse_strkey,
    "asset_codes": parse_asset_code,
    "operation_types": parse_operation_type,
    "named": parse_named_filter,
}
_SINGLES: Final[dict[str, _Parse]] = {
    "transaction_hash": parse_transaction_hash,
    "min_amount": parse_amount,
    "max_amount": parse_amount,
    "from_ledger": parse_ledger,
    "to_ledger": parse_ledger,
    "start_time": parse_time,
    "end_time": parse_time,
}
#: The keys of a JSON filter object (the model's own field names).
JSON_FIELDS: Final = (*_LISTS, *_SINGLES, "where")
#: Query parameter -> model field.
_QUERY_NAMES: Final = {
    "event_type": "event_types",
    "asset": "assets",
    "account": "accounts",
    "asset_code": "asset_codes",
    **{name: name for name in _SINGLES},
    "operation_type": "operation_types",
    "filter": "named",
    "where": "where",
}
QUERY_FIELDS: Final = tuple(_QUERY_NAMES)
_MAX_QUERY_TEXT: Final = 64 * 1024


def _build(values: dict[str, Any], names: Mapping[str, str]) -> TransferFilter:
    """Construct the model, renaming the field of a cross-field error to the caller's spelling."""
    try:
        return TransferFilter(**values)
    except RequestError as exc:
        field = names.get(exc.field, exc.field)
        message = str(exc).replace(exc.field, field, 1)
        raise RequestError(message, field=field) from None


def _where(text: object, field: str, schema: pa.Schema | None) -> Where:
    if schema is None:
        msg = f"{field}: filter expressions are not accepted here"
        raise RequestError(msg, field=field)
    if not isinstance(text, str):
        msg = f"{field} must be a string holding a filter expression, not {type(text).__name__}"
        raise RequestError(msg, field=field)
    return compile_where(text, schema, field=field)


def filter_from_json(
    doc: object, *, prefix: str = "filters.", schema: pa.Schema | None = None
) -> TransferFilter:
    """Parse a JSON filter object (``None`` = no filter); error fields are ``prefix + key``.

    ``schema``: the ``token_transfers`` schema a ``where`` expression is checked against.
    """
    if doc is None:
        return TransferFilter()
    where = prefix.rstrip(".") or "filters"
    if not isinstance(doc, Mapping):
        msg = f"{where} must be a JSON object, not {type(doc).__name__}"
        raise RequestError(msg, field=where)
    unknown = sorted(str(k) for k in doc if k not in JSON_FIELDS)
    if unknown:
        msg = f"unknown filter {unknown[0]!r:.60}; filters are {', '.join(JSON_FIELDS)}"
        raise RequestError(msg, field=f"{prefix}{unknown[0]:.60}")
    values: dict[str, Any] = {}
    for key, raw in doc.items():
        field = f"{prefix}{key}"
        if raw is None:  # null is "no condition", as an absent key
            continue
        if key == "where":
            values[key] = _where(raw, field, schema)
            continue
        if key == "named" and isinstance(raw, str):
            raw = [raw]
        if key in _LISTS:
            if not isinstance(raw, list) or not 1 <= len(raw) <= MAX_VALUES:
                msg = f"{field} must be a JSON array of 1 to {MAX_VALUES} strings"
                raise RequestError(msg, field=field)
            values[key] = tuple(_LISTS[key](item, field) for item in raw)
        else:
            values[key] = _SINGLES[key](raw, field)
    return _build(values, {name: f"{prefix}{name}" for name in JSON_FIELDS})


def filter_from_query(params: Mapping[str, str], *, schema: pa.Schema | None = None) -> TransferFilter:
    """Parse REST query parameters; names that are not filter fields are ignored (check them first).

    ``schema``: the ``token_transfers`` schema a ``where`` expression is checked against.
    """
    values: dict[str, Any] = {}
    for name, key in _QUERY_NAMES.items():
        text = params.get(name)
        if text is None:
            continue
        if len(text) > _MAX_QUERY_TEXT:
            msg = f"{name} is {len(text)} characters long; at most {_MAX_QUERY_TEXT} are allowed"
            raise RequestError(msg, field=name)
        if key == "where":
            values[key] = _where(text, name, schema)
        elif key in _LISTS:
            items = [item.strip() for item in text.split(",")]
            if not 1 <= len(items) <= MAX_VALUES:
                msg = f"{name} must list 1 to {MAX_VALUES} comma-separated values"
                raise RequestError(msg, field=name)
            values[key] = tuple(_LISTS[key](item, name) for item in items)
        else:
            values[key] = _SINGLES[key](text, name)
    return _build(values, {key: name for name, key in _QUERY_NAMES.items()})
