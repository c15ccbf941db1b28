"""Paging of REST lists and the checks on query parameters that are not filters.

The filter itself is :class:`stellar_arrow.query.TransferFilter`, parsed by
:func:`stellar_arrow.query.filter_from_query`. Every parse error is a
:class:`~stellar_arrow.errors.RequestError` naming the offending field. The paging token (``id``) of an
event is ``ledger_sequence << 32 | event_index``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Final, Literal

from stellar_arrow.errors import RequestError
from stellar_arrow.query import QUERY_FIELDS

__all__ = [
    "DEFAULT_LIMIT",
    "FILTER_FIELDS",
    "MAX_LIMIT",
    "PAGING_FIELDS",
    "Order",
    "Paging",
    "check_known",
    "event_id",
    "parse_event_id",
    "parse_limit",
    "parse_paging",
    "split_event_id",
]

MAX_LIMIT: Final = 200
DEFAULT_LIMIT: Final = 10
Order = Literal["asc", "desc"]
FILTER_FIELDS: Final = QUERY_FIELDS
PAGING_FIELDS: Final = ("cursor", "limit", "order")
_DIGITS: Final = re.compile(r"[0-9]{1,20}")


def event_id(ledger_sequence: int, event_index: int) -> int:
    """The paging token of an event (also its ``id``)."""
    return (ledger_sequence << 32) | event_index


def split_event_id(token: int) -> tuple[int, int]:
    return token >> 32, token & 0xFFFFFFFF


def parse_event_id(text: str, *, field: str = "id") -> int:
    """A paging token: ASCII digits, below 2^63."""
    if _DIGITS.fullmatch(text) is None or int(text) >= 1 << 63:
        msg = f"{field} {text!r:.60} is not an event id (a decimal paging token below 2^63)"
        raise RequestError(msg, field=field)
    return int(text)


def parse_limit(text: str, *, field: str = "limit", high: int = MAX_LIMIT) -> int:
    if _DIGITS.fullmatch(text) is None or not 1 <= int(text) <= high:
        msg = f"{field} {text!r:.60} must be an integer in [1, {high}]"
        raise RequestError(msg, field=field)
    return int(text)


@dataclass(frozen=True, slots=True)
class Paging:
    cursor: int | None = None
    limit: int = DEFAULT_LIMIT
    order: Order = "asc"


def check_known(params: Iterable[str], allowed: Iterable[str]) -> None:
    known = set(allowed)
    for name in params:
        if name not in known:
            msg = f"unknown query parameter {name!r:.60} (allowed: {', '.join(sorted(known))})"
            raise RequestError(msg, field=name[:60])


def parse_paging(params: Mapping[str, str]) -> Paging:
    cursor = parse_event_id(params["cursor"], field="cursor") if "cursor" in params else None
    limit = parse_limit(params["limit"]) if "limit" in params else DEFAULT_LIMIT
    order = params.get("order", "asc")
    if order not in ("asc", "desc"):
        msg = f"order {order!r:.60} must be asc or desc"
        raise RequestError(msg, field="order")
    return Paging(cursor, limit, "asc" if order == "asc" else "desc")
