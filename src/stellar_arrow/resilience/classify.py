"""Transient or terminal: one verdict for every failure of every upstream (RPC, object stores, Flight).

Transient (try again later, with backoff): timeouts, refused or reset connections, truncated replies,
HTTP 429 and 5xx (except 501 and 505, which a retry cannot change), throttling codes of object stores,
JSON-RPC -32001/-32003/-32603, Flight ``unavailable``/``timed out``/``cancelled``, and every
:class:`~stellar_arrow.errors.TransientError`. Everything else is terminal: a retry would get the same
answer (404 in a bounded range, malformed XDR, wrong network, gaps, invalid settings, refused requests).

:func:`retry_after_seconds` reads an HTTP ``Retry-After`` header (seconds or an HTTP date).
"""

from __future__ import annotations

import email.utils
import sys
import time
from collections.abc import Mapping

from stellar_arrow.errors import TerminalError, TransientError

__all__ = [
    "TRANSIENT_RPC_CODES",
    "is_transient",
    "is_transient_status",
    "retry_after_seconds",
]

#: JSON-RPC codes of Stellar RPC that mean "busy or behind": request limit, timeout, unhealthy node.
TRANSIENT_RPC_CODES = frozenset({-32001, -32003, -32603})

# Object-store error codes (S3 / GCS) that mean "slow down" or "try again", whatever the HTTP status.
_TRANSIENT_STORE_CODES = frozenset(
    {
        "SlowDown",
        "Throttling",
        "ThrottlingException",
        "RequestTimeout",
        "RequestTimeTooSkewed",
        "InternalError",
        "ServiceUnavailable",
        "RequestLimitExceeded",
        "TooManyRequests",
    }
)
# Names of transport exceptions of libraries imported only on demand (botocore, aiohttp, google).
_TRANSIENT_NAMES = frozenset(
    {
        "ConnectTimeoutError",
        "ReadTimeoutError",
        "EndpointConnectionError",
        "ConnectionClosedError",
        "ResponseStreamingError",
        "IncompleteReadError",
        "ServerTimeoutError",
        "ClientConnectionError",
        "ClientOSError",
        "ClientPayloadError",
        "ServerDisconnectedError",
        "ServerConnectionError",
        "FSTimeoutError",
        "TransportError",
    }
)


def is_transient_status(status: int) -> bool:
    """True for HTTP 408, 429 and 5xx other than 501 (not implemented) and 505 (HTTP version)."""
    return status in (408, 429) or (500 <= status <= 599 and status not in (501, 505))


def is_transient(exc: BaseException) -> bool:
    """The verdict for ``exc`` (and, for wrapped library errors, its cause chain)."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, TerminalError):
        return False
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        verdict = _own_verdict(current)
        if verdict is not None:
            return verdict
        current = current.__cause__ or current.__context__
    return False


def _own_verdict(exc: BaseException) -> bool | None:
    """The verdict from ``exc`` alone, or None to look at its cause."""
    if isinstance(exc, TransientError):
        return True
    if isinstance(exc, TerminalError):
        return False
    if isinstance(exc, (TimeoutError, ConnectionError)):
        return True
    flight = _flight_verdict(exc)
    if flight is not None:
        return flight
    httpx = sys.modules.get("httpx")
    if httpx is not None:
        if isinstance(exc, httpx.TransportError):
            return True
        if isinstance(exc, httpx.HTTPStatusError):
            return is_transient_status(exc.response.status_code)
    status = _status_of(exc)
    if status is not None:
        return is_transient_status(status)
    code = _store_code(exc)
    if code is not None:
        return code in _TRANSIENT_STORE_CODES
    if any(cls.__name__ in _TRANSIENT_NAMES for cls in type(exc).__mro__):
        return True
    return None


def _flight_verdict(exc: BaseException) -> bool | None:
    flight = sys.modules.get("pyarrow.flight") or sys.modules.get("pyarrow._flight")
    if flight is None or not isinstance(exc, flight.FlightError):
        return None
    transient = (flight.FlightUnavailableError, flight.FlightTimedOutError, flight.FlightCancelledError)
    return isinstance(exc, transient)


def _status_of(exc: BaseException) -> int | None:
    """The HTTP status carried by aiohttp / botocore / google errors, if any."""
    status = getattr(exc, "status", None)
    if isinstance(status, int) and 100 <= status <= 599:
        return status
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        meta = response.get("ResponseMetadata")
        code = _store_code(exc)
        if code is not None and code in _TRANSIENT_STORE_CODES:
            return 503
        if isinstance(meta, Mapping) and isinstance(meta.get("HTTPStatusCode"), int):
            return int(meta["HTTPStatusCode"])
    code = getattr(exc, "code", None)
    if isinstance(code, int) and 400 <= code <= 599 and "google" in type(exc).__module__:
        return code
    return None


def _store_code(exc: BaseException) -> str | None:
    response = getattr(exc, "response", None)
    if isinstance(response, Mapping):
        error = response.get("Error")
        if isinstance(error, Mapping) and isinstance(error.get("Code"), str):
            return str(error["Code"])
    return None


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds asked by a ``Retry-After`` header value (delta-seconds or HTTP date); None if absent/bad."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    if text.isascii() and text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)
