"""Typed, versioned parameters of a Flight stream request, carried as JSON in tickets and descriptors.

A :class:`StreamRequest` names the stream, the first ledger, the last ledger (or ``None`` with
``live=True`` to follow the tip), the token transfer filters and a resume cursor (the last ledger the
consumer already holds). The same JSON object is the ticket bytes and the command of a CMD
descriptor; a PATH descriptor ``[stream]`` means "the whole stream with default parameters".

Pure: no I/O. Bad input raises :class:`TicketError` naming the field.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from decimal import Decimal, InvalidOperation
from typing import Any

from stellar_arrow.errors import TicketError
from stellar_arrow.ttp.filters import EventFilter

__all__ = [
    "STREAMS",
    "TICKET_VERSION",
    "StreamRequest",
    "TicketError",
    "TransferFilter",
    "decode_request",
    "encode_request",
]

TICKET_VERSION = 1

#: Every stream name a service of stellar-arrow may serve.
STREAMS = ("ledger_close_meta", "ledgers", "transactions", "operations", "token_transfers")

_EVENT_TYPES = ("transfer", "mint", "burn", "clawback", "fee")
_MAX_LEDGER = 2**32 - 1


@dataclass(frozen=True, slots=True)
class TransferFilter:
    """Token transfer filters: empty tuples mean "everything".

    Semantics are those of :class:`stellar_arrow.ttp.filters.EventFilter`: ``assets`` holds ``native``,
    ``CODE`` or ``CODE:ISSUER``; ``accounts`` match ``from``, ``to`` or ``to_muxed``; ``min_amount`` and
    ``max_amount`` are inclusive bounds in whole units, as decimal strings (exact, never floats).
    """

    event_types: tuple[str, ...] = ()
    assets: tuple[str, ...] = ()
    accounts: tuple[str, ...] = ()
    min_amount: str | None = None
    max_amount: str | None = None

    @property
    def is_empty(self) -> bool:
        bounds = self.min_amount is not None or self.max_amount is not None
        return not (self.event_types or self.assets or self.accounts or bounds)

    def event_filter(self) -> EventFilter:
        """The equivalent :class:`~stellar_arrow.ttp.filters.EventFilter`."""
        return EventFilter.build(
            event_types=self.event_types or None,
            assets=self.assets or None,
            accounts=self.accounts or None,
            min_amount=self.min_amount,
            max_amount=self.max_amount,
        )


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
    body: dict[str, Any] = {"v": TICKET_VERSION, **asdict(request)}
    body["filters"] = {
        k: list(v) if isinstance(v, tuple) else v for k, v in asdict(request.filters).items() if v
    }
    if not body["filters"]:
        del body["filters"]
    return json.dumps(body, sort_keys=True, separators=(",", ":")).encode()


def decode_request(raw: bytes) -> StreamRequest:
    """Parse and validate ticket or command bytes."""
    try:
        doc = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = (
            f"ticket is not JSON ({exc.__class__.__name__}: {exc}); expected an object with 'v' and 'stream'"
        )
        raise TicketError(msg, field="ticket") from None
    if not isinstance(doc, dict):
        msg = f"ticket must be a JSON object, not {type(doc).__name__}"
        raise TicketError(msg, field="ticket")
    version = doc.pop("v", None)
    if version != TICKET_VERSION:
        msg = f"unsupported ticket version {version!r}; this server speaks version {TICKET_VERSION}"
        raise TicketError(msg, field="v")
    known = {"stream", "start_ledger", "end_ledger", "live", "filters", "resume_after"}
    unknown = sorted(set(doc) - known)
    if unknown:
        msg = f"unknown ticket field(s) {unknown}; known fields: {sorted(known)}"
        raise TicketError(msg, field=unknown[0])
    stream = doc.get("stream")
    if stream not in STREAMS:
        msg = f"unknown stream {stream!r}; streams: {', '.join(STREAMS)}"
        raise TicketError(msg, field="stream")
    start = _ledger(doc, "start_ledger")
    end = _ledger(doc, "end_ledger")
    resume = _ledger(doc, "resume_after")
    live = doc.get("live", False)
    if not isinstance(live, bool):
        msg = f"live must be true or false, not {live!r}"
        raise TicketError(msg, field="live")
    if start is not None and end is not None and end < start:
        msg = f"end_ledger {end} is before start_ledger {start}"
        raise TicketError(msg, field="end_ledger")
    if live and end is not None:
        msg = "a live stream has no end_ledger"
        raise TicketError(msg, field="live")
    return StreamRequest(
        stream=stream,
        start_ledger=start,
        end_ledger=end,
        live=live,
        filters=_filters(doc.get("filters")),
        resume_after=resume,
    )


def _ledger(doc: dict[str, Any], name: str) -> int | None:
    value = doc.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= _MAX_LEDGER:
        msg = f"{name} must be a ledger sequence between 1 and {_MAX_LEDGER}, not {value!r}"
        raise TicketError(msg, field=name)
    return value


def _filters(value: Any) -> TransferFilter:
    if value is None:
        return TransferFilter()
    if not isinstance(value, dict):
        msg = f"filters must be an object, not {type(value).__name__}"
        raise TicketError(msg, field="filters")
    known = ("event_types", "assets", "accounts", "min_amount", "max_amount")
    unknown = sorted(set(value) - set(known))
    if unknown:
        msg = f"unknown filter(s) {unknown}; filters: {', '.join(known)}"
        raise TicketError(msg, field=f"filters.{unknown[0]}")
    bounds: dict[str, str | None] = {}
    for name in ("min_amount", "max_amount"):
        bound = value.get(name)
        if bound is not None and not (isinstance(bound, str) and _is_decimal(bound)):
            msg = f'filters.{name} must be a decimal string such as "12.5", not {bound!r}'
            raise TicketError(msg, field=f"filters.{name}")
        bounds[name] = bound
    parts: dict[str, tuple[str, ...]] = {}
    for name in ("event_types", "assets", "accounts"):
        items = value.get(name, [])
        if not isinstance(items, list) or not all(isinstance(i, str) and i for i in items):
            msg = f"filters.{name} must be a list of non-empty strings, not {items!r}"
            raise TicketError(msg, field=f"filters.{name}")
        parts[name] = tuple(items)
    bad = [e for e in parts["event_types"] if e not in _EVENT_TYPES]
    if bad:
        msg = f"unknown event type(s) {bad} in filters.event_types; use {', '.join(_EVENT_TYPES)}"
        raise TicketError(msg, field="filters.event_types")
    rules = TransferFilter(
        event_types=parts["event_types"],
        assets=parts["assets"],
        accounts=parts["accounts"],
        min_amount=bounds["min_amount"],
        max_amount=bounds["max_amount"],
    )
    try:
        rules.event_filter()
    except ValueError as exc:
        msg = f"filters: {exc}"
        raise TicketError(msg, field="filters.assets") from None
    return rules


def _is_decimal(text: str) -> bool:
    try:
        number = Decimal(text)
    except InvalidOperation:
        return False
    return number.is_finite()
