"""Typed filters and paging for token transfer queries, parsed from request parameters.

Every parse error is a :class:`~stellar_arrow.errors.RequestError` naming the offending field. Amount bounds
are exact: ``min_amount=12.5`` means ``amount_raw >= 125000000`` (7 decimals, like ``amount``); at most 7
fraction digits are accepted. The paging token (``id``) of an event is
``ledger_sequence << 32 | event_index``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Final, Literal

from stellar_arrow.errors import RequestError
from stellar_arrow.ttp.events import Asset
from stellar_arrow.vocabulary import EVENT_TYPES
from stellar_arrow.xdr.strkey import decode_strkey

__all__ = [
    "MAX_LIMIT",
    "Order",
    "Paging",
    "TransferFilter",
    "event_id",
    "parse_account",
    "parse_event_id",
    "parse_paging",
    "parse_transfer_filter",
    "split_event_id",
]

MAX_LIMIT: Final = 200
DEFAULT_LIMIT: Final = 10
Order = Literal["asc", "desc"]
FILTER_FIELDS: Final = (
    "account",
    "asset",
    "asset_code",
    "event_type",
    "transaction_hash",
    "from_ledger",
    "to_ledger",
    "start_time",
    "end_time",
    "min_amount",
    "max_amount",
)
PAGING_FIELDS: Final = ("cursor", "limit", "order")


def event_id(ledger_sequence: int, event_index: int) -> int:
    """The paging token of an event (also its ``id``)."""
    return (ledger_sequence << 32) | event_index


def split_event_id(token: int) -> tuple[int, int]:
    return token >> 32, token & 0xFFFFFFFF


def parse_event_id(text: str, *, field: str = "id") -> int:
    if not text.isdigit() or len(text) > 20:
        msg = f"{field} {text!r} is not an event id (a decimal paging token)"
        raise RequestError(msg, field=field)
    value = int(text)
    if value >= 1 << 63:
        msg = f"{field} {text!r} is out of range"
        raise RequestError(msg, field=field)
    return value


def parse_account(text: str, *, field: str = "account") -> str:
    """A G/M/C/L/B strkey with a valid checksum."""
    try:
        decode_strkey(text)
    except (ValueError, TypeError) as exc:
        msg = f"{field} {text!r} is not a valid strkey: {exc}"
        raise RequestError(msg, field=field) from exc
    return text


@dataclass(frozen=True, slots=True)
class TransferFilter:
    """Conditions on ``token_transfers`` rows; ``None`` means no condition."""

    account: str | None = None
    asset: str | None = None  # table form: native | credit_alphanum4:CODE:ISSUER | ...
    contract_id: str | None = None
    asset_code: str | None = None
    event_types: tuple[str, ...] | None = None
    transaction_hash: str | None = None
    from_ledger: int | None = None
    to_ledger: int | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    min_amount_raw: int | None = None
    max_amount_raw: int | None = None


@dataclass(frozen=True, slots=True)
class Paging:
    cursor: int | None = None
    limit: int = DEFAULT_LIMIT
    order: Order = "asc"


def _int(text: str, field: str, *, low: int = 0, high: int = (1 << 32) - 1) -> int:
    try:
        value = int(text)
    except ValueError:
        msg = f"{field} {text!r} is not an integer"
        raise RequestError(msg, field=field) from None
    if not low <= value <= high:
        msg = f"{field} {value} is out of range [{low}, {high}]"
        raise RequestError(msg, field=field)
    return value


def _time(text: str, field: str) -> datetime:
    if text.isdigit():
        return datetime.fromtimestamp(int(text), tz=UTC)
    try:
        value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        msg = f"{field} {text!r} is not an ISO-8601 time or unix seconds"
        raise RequestError(msg, field=field) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def parse_amount_raw(text: str, field: str) -> int:
    """``"12.5"`` -> 125000000 exactly (integer arithmetic, no decimal context rounding).

    More than 7 fraction digits, or a value outside the i128 range, is an error naming ``field``.
    """
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        value = None
    if value is None or not value.is_finite():
        msg = f"{field} {text!r} is not a decimal amount"
        raise RequestError(msg, field=field)
    sign, digits, exponent = value.as_tuple()
    if not isinstance(exponent, int):  # pragma: no cover - excluded by is_finite above
        msg = f"{field} {text!r} is not a decimal amount"
        raise RequestError(msg, field=field)
    if len(digits) + exponent > 40:
        msg = f"{field} {text!r} is outside the i128 range"
        raise RequestError(msg, field=field)
    coefficient = int("".join(map(str, digits)) or "0")
    shift = exponent + 7
    raw: int
    if shift >= 0:
        raw = coefficient * int("1" + "0" * shift)
    else:
        raw, rest = divmod(coefficient, int("1" + "0" * -shift))
        if rest:
            msg = f"{field} {text!r} has more than 7 fraction digits"
            raise RequestError(msg, field=field)
    raw = -raw if sign else raw
    if not -(1 << 127) <= raw < 1 << 127:
        msg = f"{field} {text!r} is outside the i128 range"
        raise RequestError(msg, field=field)
    return raw


def _asset(text: str) -> tuple[str | None, str | None]:
    """``(asset, contract_id)`` from ``native``, ``CODE:ISSUER``, ``TYPE:CODE:ISSUER`` or a C-strkey."""
    if text.startswith("C") and ":" not in text:
        return None, parse_account(text, field="asset")
    try:
        asset = Asset.parse(text)
    except ValueError as exc:
        msg = f"asset {text!r}: {exc}"
        raise RequestError(msg, field="asset") from exc
    if asset.issuer is not None:
        parse_account(asset.issuer, field="asset")
    return asset.qualified, None


def _event_types(text: str) -> tuple[str, ...]:
    kinds = tuple(k.strip() for k in text.split(",") if k.strip())
    for kind in kinds:
        if kind not in EVENT_TYPES:
            msg = f"event_type {kind!r} is not one of {', '.join(EVENT_TYPES)}"
            raise RequestError(msg, field="event_type")
    if not kinds:
        msg = "event_type is empty"
        raise RequestError(msg, field="event_type")
    return kinds


def check_known(params: Iterable[str], allowed: Iterable[str]) -> None:
    known = set(allowed)
    for name in params:
        if name not in known:
            msg = f"unknown query parameter {name!r} (allowed: {', '.join(sorted(known))})"
            raise RequestError(msg, field=name)


def parse_transfer_filter(params: Mapping[str, str]) -> TransferFilter:
    """Filter from query parameters (unknown names are the caller's business, see :func:`check_known`)."""
    get = params.get
    asset, contract = _asset(params["asset"]) if "asset" in params else (None, None)
    tx_hash = get("transaction_hash")
    if tx_hash is not None and (len(tx_hash) != 64 or any(c not in "0123456789abcdef" for c in tx_hash)):
        msg = f"transaction_hash {tx_hash!r} is not 64 lowercase hex characters"
        raise RequestError(msg, field="transaction_hash")
    low = parse_amount_raw(params["min_amount"], "min_amount") if "min_amount" in params else None
    high = parse_amount_raw(params["max_amount"], "max_amount") if "max_amount" in params else None
    found = TransferFilter(
        account=parse_account(params["account"]) if "account" in params else None,
        asset=asset,
        contract_id=contract,
        asset_code=get("asset_code"),
        event_types=_event_types(params["event_type"]) if "event_type" in params else None,
        transaction_hash=tx_hash,
        from_ledger=_int(params["from_ledger"], "from_ledger") if "from_ledger" in params else None,
        to_ledger=_int(params["to_ledger"], "to_ledger") if "to_ledger" in params else None,
        start_time=_time(params["start_time"], "start_time") if "start_time" in params else None,
        end_time=_time(params["end_time"], "end_time") if "end_time" in params else None,
        min_amount_raw=low,
        max_amount_raw=high,
    )
    if found.from_ledger is not None and found.to_ledger is not None and found.from_ledger > found.to_ledger:
        msg = f"from_ledger {found.from_ledger} is after to_ledger {found.to_ledger}"
        raise RequestError(msg, field="from_ledger")
    return found


def parse_paging(params: Mapping[str, str]) -> Paging:
    cursor = parse_event_id(params["cursor"], field="cursor") if "cursor" in params else None
    limit = _int(params["limit"], "limit", low=1, high=MAX_LIMIT) if "limit" in params else DEFAULT_LIMIT
    order = params.get("order", "asc")
    if order not in ("asc", "desc"):
        msg = f"order {order!r} must be asc or desc"
        raise RequestError(msg, field="order")
    return Paging(cursor, limit, "asc" if order == "asc" else "desc")
