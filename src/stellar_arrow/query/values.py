"""Parsers of single filter values: text or JSON in, one exact typed value out.

Every parser takes the value as it arrived (a query parameter string or a JSON value) and the name of the
field it came from, and either returns a canonical value or raises :class:`~stellar_arrow.errors.RequestError`
naming that field. Only ASCII digits count as digits (``²`` or ``٣`` are refused, not converted), amounts
never pass through floats, and every number is range-checked before it is used. Pure: no I/O, no clock.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Final

from stellar_arrow.errors import RequestError
from stellar_arrow.vocabulary import EVENT_TYPES, OPERATION_TYPE_BY_NAME, EventType
from stellar_arrow.xdr.strkey import decode_strkey

__all__ = [
    "AMOUNT_DECIMALS",
    "I128_MAX",
    "LEDGER_MAX",
    "MAX_TEXT",
    "TIME_MAX",
    "TIME_MIN",
    "format_amount",
    "format_time",
    "parse_amount",
    "parse_asset",
    "parse_asset_code",
    "parse_event_type",
    "parse_ledger",
    "parse_operation_type",
    "parse_strkey",
    "parse_time",
    "parse_transaction_hash",
]

#: Amounts are whole token units with at most this many fraction digits (``amount_raw`` = units * 10^7).
AMOUNT_DECIMALS: Final = 7
I128_MAX: Final = (1 << 127) - 1
LEDGER_MAX: Final = (1 << 32) - 1
#: The longest text any single filter value may have (a strkey is 56 or 69 characters).
MAX_TEXT: Final = 128
TIME_MIN: Final = datetime(1970, 1, 1, tzinfo=UTC)
TIME_MAX: Final = datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
_TIME_MAX_SECONDS: Final = 253402300799  # 9999-12-31T23:59:59Z

_AMOUNT: Final = re.compile(r"(?P<whole>[0-9]{1,39})(?:\.(?P<fraction>[0-9]{1,7}))?")
_DIGITS: Final = re.compile(r"[0-9]{1,20}")
_HEX64: Final = re.compile(r"[0-9a-f]{64}")
_ASSET_CODE: Final = re.compile(r"[A-Za-z0-9]{1,12}")
_STRKEY_KINDS: Final = frozenset("GMCLB")
_ASSET_TYPES: Final = ("credit_alphanum4", "credit_alphanum12")


def _text(value: object, field: str, what: str) -> str:
    if not isinstance(value, str):
        msg = f"{field} must be {what} (a string), not {type(value).__name__} {value!r:.60}"
        raise RequestError(msg, field=field)
    if not value or len(value) > MAX_TEXT or not value.isascii() or not value.isprintable():
        msg = f"{field} {value!r:.80} is not {what}"
        raise RequestError(msg, field=field)
    return value


def _number_text(value: object, field: str, what: str) -> str:
    """An integer JSON value or a string, as text (``True`` and floats are refused: they are not exact)."""
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        msg = f'{field} {value!r} is a floating-point number; give {what} as a string such as "12.5"'
        raise RequestError(msg, field=field)
    return _text(value, field, what)


def parse_event_type(value: object, field: str) -> EventType:
    text = _text(value, field, "an event type")
    for kind in EVENT_TYPES:
        if kind == text:
            return kind
    msg = f"{field} {text!r} is not an event type; use {', '.join(EVENT_TYPES)}"
    raise RequestError(msg, field=field)


def parse_operation_type(value: object, field: str) -> str:
    """An operation type name as Hubble spells it (``payment``, ``path_payment_strict_send``...)."""
    text = _text(value, field, "an operation type")
    if text not in OPERATION_TYPE_BY_NAME:
        msg = f"{field} {text!r} is not an operation type (such as payment or create_claimable_balance)"
        raise RequestError(msg, field=field)
    return text


def parse_strkey(value: object, field: str, *, kinds: str = "GMCLB") -> str:
    """A canonical strkey of one of ``kinds`` (G account, M muxed, C contract, L pool, B claimable balance).

    The checksum and length are checked, and the text must be the canonical encoding of its payload
    (:func:`~stellar_arrow.xdr.strkey.decode_strkey` decodes nothing else). Secret seeds (``S...``) and
    other key kinds are refused.
    """
    text = _text(value, field, "a strkey")
    if text[0] not in kinds or text[0] not in _STRKEY_KINDS:
        names = ", ".join(f"{k}..." for k in kinds)
        msg = f"{field} {text[:12]!r}... is not an address of the right kind ({names})"
        raise RequestError(msg, field=field)
    try:
        decode_strkey(text)
    except ValueError as exc:
        msg = f"{field} {text!r} is not a valid strkey: {exc}"
        raise RequestError(msg, field=field) from None
    return text


def parse_asset_code(value: object, field: str) -> str:
    text = _text(value, field, "an asset code")
    if _ASSET_CODE.fullmatch(text) is None:
        msg = f"{field} {text!r} is not an asset code (1 to 12 letters and digits)"
        raise RequestError(msg, field=field)
    return text


def parse_asset(value: object, field: str) -> str:
    """``native``, ``CODE:ISSUER``, ``credit_alphanum4|12:CODE:ISSUER`` or a contract ``C...`` address.

    Returns the form of the ``token_transfers`` table: ``native``, ``credit_alphanum4:CODE:ISSUER`` /
    ``credit_alphanum12:CODE:ISSUER`` for classic assets (issuer a valid G-strkey), or the C-strkey of a
    contract token (matched against ``contract_id``).
    """
    text = _text(value, field, "an asset")
    if text == "native":
        return text
    if ":" not in text:
        if text[0] == "C":
            return parse_strkey(text, field, kinds="C")
        msg = f"{field} {text!r} is not an asset; use native, CODE:ISSUER or a contract C... address"
        raise RequestError(msg, field=field)
    parts = text.split(":")
    kind = None
    if len(parts) == 3:
        kind, parts = parts[0], parts[1:]
    if len(parts) != 2 or (kind is not None and kind not in _ASSET_TYPES):
        msg = f"{field} {text!r} is not an asset; use native, CODE:ISSUER or a contract C... address"
        raise RequestError(msg, field=field)
    code = parse_asset_code(parts[0], field)
    issuer = parse_strkey(parts[1], field, kinds="G")
    fitting = _ASSET_TYPES[0] if len(code) <= 4 else _ASSET_TYPES[1]
    if kind is not None and kind != fitting:
        msg = f"{field} {text!r}: a {len(code)}-character code is a {fitting} asset, not {kind}"
        raise RequestError(msg, field=field)
    return f"{fitting}:{code}:{issuer}"


def parse_amount(value: object, field: str) -> int:
    """Whole token units (``"12.5"``, at most 7 fraction digits, or a JSON integer) -> exact raw units.

    ``"12.5"`` -> ``125000000``. Signs, exponents, floats, non-ASCII digits and values above the i128
    range are refused.
    """
    text = _number_text(value, field, "an amount")
    found = _AMOUNT.fullmatch(text)
    if found is None:
        if text.startswith("-"):
            msg = f"{field} {text!r:.60} is negative; amount bounds are 0 or more"
        else:
            msg = (
                f"{field} {text!r:.60} is not an amount: use a plain decimal number of token units "
                f"with at most {AMOUNT_DECIMALS} fraction digits, such as 12.5"
            )
        raise RequestError(msg, field=field)
    fraction = (found["fraction"] or "").ljust(AMOUNT_DECIMALS, "0")
    raw = int(found["whole"]) * 10**AMOUNT_DECIMALS + int(fraction)
    if raw > I128_MAX:
        msg = f"{field} {text!r:.60} is above the largest token amount (2^127 - 1 raw units)"
        raise RequestError(msg, field=field)
    return raw


def format_amount(raw: int) -> str:
    """Raw units -> the shortest whole-unit decimal text that :func:`parse_amount` reads back exactly."""
    whole, fraction = divmod(raw, 10**AMOUNT_DECIMALS)
    tail = f"{fraction:0{AMOUNT_DECIMALS}d}".rstrip("0")
    return f"{whole}.{tail}" if tail else str(whole)


def parse_ledger(value: object, field: str, *, low: int = 1) -> int:
    """A ledger sequence, ``low`` (1) to 2^32 - 1 (a JSON integer or a string of ASCII digits)."""
    text = _number_text(value, field, "a ledger sequence")
    if _DIGITS.fullmatch(text) is None or not low <= int(text) <= LEDGER_MAX:
        msg = f"{field} {text!r:.60} is not a ledger sequence ({low} to {LEDGER_MAX})"
        raise RequestError(msg, field=field)
    return int(text)


def parse_time(value: object, field: str) -> datetime:
    """Unix seconds (integer) or ISO-8601 text -> an aware UTC datetime in years 1970-9999.

    ISO text without an offset is UTC; ``Z`` is accepted.
    """
    text = _number_text(value, field, "a time")
    what = "a time: use unix seconds or ISO-8601 such as 2026-01-31T12:00:00Z, years 1970 to 9999"
    if _DIGITS.fullmatch(text) is not None:
        seconds = int(text)
        if seconds > _TIME_MAX_SECONDS:
            msg = f"{field} {text!r} is not {what}"
            raise RequestError(msg, field=field)
        return datetime.fromtimestamp(seconds, tz=UTC)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
        moment = parsed.astimezone(UTC) if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
    except (ValueError, OverflowError):
        moment = None
    if moment is None or not TIME_MIN <= moment <= TIME_MAX:
        msg = f"{field} {text!r:.60} is not {what}"
        raise RequestError(msg, field=field)
    return moment


def format_time(moment: datetime) -> str:
    """``2026-01-31T12:00:00Z`` (microseconds only when there are some); read back by :func:`parse_time`."""
    text = moment.astimezone(UTC).replace(tzinfo=None).isoformat()
    return f"{text}Z"


def parse_transaction_hash(value: object, field: str) -> str:
    text = _text(value, field, "a transaction hash")
    if _HEX64.fullmatch(text) is None:
        msg = f"{field} {text!r:.80} is not a transaction hash (64 lowercase hex characters)"
        raise RequestError(msg, field=field)
    return text
