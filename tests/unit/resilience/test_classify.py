"""The one transient/terminal verdict, on real exceptions of the libraries the sources use."""

from __future__ import annotations

import email.utils

import httpx
import pyarrow.flight as fl
import pytest
from botocore.exceptions import ClientError, ConnectTimeoutError, EndpointConnectionError, ReadTimeoutError

from stellar_arrow.errors import (
    CircuitOpenError,
    ConfigError,
    LedgerMissingError,
    NetworkMismatchError,
    RpcRequestError,
    RpcTransientError,
    StorageError,
    XdrDecodeError,
)
from stellar_arrow.resilience.classify import is_transient, is_transient_status, retry_after_seconds


def _client_error(code: str, status: int) -> ClientError:
    return ClientError(
        {"Error": {"Code": code, "Message": code}, "ResponseMetadata": {"HTTPStatusCode": status}},
        "GetObject",
    )


def _http_status(status: int) -> httpx.HTTPStatusError:
    request = httpx.Request("POST", "http://rpc.invalid/")
    return httpx.HTTPStatusError("x", request=request, response=httpx.Response(status, request=request))


TRANSIENT = {
    "timeout": TimeoutError("timed out"),
    "connection reset": ConnectionResetError(104, "Connection reset by peer"),
    "connection refused": ConnectionRefusedError(111, "refused"),
    "httpx read timeout": httpx.ReadTimeout("read"),
    "httpx connect error": httpx.ConnectError("connect"),
    "httpx truncated body": httpx.RemoteProtocolError("peer closed connection without sending complete body"),
    "http 500": _http_status(500),
    "http 502": _http_status(502),
    "http 503": _http_status(503),
    "http 429": _http_status(429),
    "s3 slow down": _client_error("SlowDown", 503),
    "s3 internal error": _client_error("InternalError", 500),
    "s3 500 unknown code": _client_error("Whatever", 500),
    "botocore read timeout": ReadTimeoutError(endpoint_url="http://127.0.0.1:1/"),
    "botocore connect timeout": ConnectTimeoutError(endpoint_url="http://127.0.0.1:1/"),
    "botocore endpoint down": EndpointConnectionError(endpoint_url="http://127.0.0.1:1/"),
    "flight unavailable": fl.FlightUnavailableError("upstream gone"),
    "flight timed out": fl.FlightTimedOutError("deadline"),
    "rpc transient": RpcTransientError("busy", code=-32001),
    "storage": StorageError("io"),
    "breaker open": CircuitOpenError("open", name="rpc:x", retry_after=3.0),
}
TERMINAL = {
    "http 404": _http_status(404),
    "http 400": _http_status(400),
    "http 501": _http_status(501),
    "s3 access denied": _client_error("AccessDenied", 403),
    "s3 no such bucket": _client_error("NoSuchBucket", 404),
    "flight invalid request": fl.FlightServerError("invalid request"),
    "flight internal": fl.FlightInternalError("bug"),
    "missing ledger": LedgerMissingError("ledger 5 missing", ledger_sequence=5),
    "malformed xdr": XdrDecodeError("truncated"),
    "wrong network": NetworkMismatchError("pubnet vs testnet"),
    "bad setting": ConfigError("bad", key="source.start_ledger"),
    "rpc refused": RpcRequestError("-32602", code=-32602),
    "value error": ValueError("bad value"),
}


@pytest.mark.parametrize("name", sorted(TRANSIENT))
def test_transient(name: str) -> None:
    assert is_transient(TRANSIENT[name])


@pytest.mark.parametrize("name", sorted(TERMINAL))
def test_terminal(name: str) -> None:
    assert not is_transient(TERMINAL[name])


def test_cause_chain_decides_for_wrappers() -> None:
    try:
        try:
            raise ConnectionResetError(104, "reset")
        except ConnectionResetError as inner:
            raise RuntimeError("wrapped by a library") from inner
    except RuntimeError as outer:
        assert is_transient(outer)
    # a typed terminal error wrapping a transient cause stays terminal
    err = RpcRequestError("malformed")
    err.__cause__ = TimeoutError()
    assert not is_transient(err)


def test_statuses() -> None:
    assert [s for s in range(400, 600) if is_transient_status(s)] == [408, 429] + [
        s for s in range(500, 600) if s not in (501, 505)
    ]


def test_retry_after_forms() -> None:
    assert retry_after_seconds("3") == 3.0
    assert retry_after_seconds(" 0 ") == 0.0
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("") is None
    assert retry_after_seconds("soon") is None
    assert retry_after_seconds("-5") is None
    now = 1_800_000_000.0
    date = email.utils.formatdate(now + 7, usegmt=True)
    assert retry_after_seconds(date, now=now) == pytest.approx(7.0)
    assert retry_after_seconds(email.utils.formatdate(now - 60, usegmt=True), now=now) == 0.0
