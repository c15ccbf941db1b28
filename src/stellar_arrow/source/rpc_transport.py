"""JSON-RPC over httpx to one or more Stellar RPC endpoints: timeouts, retries, breakers, failover.

:class:`RpcTransport.call` sends one JSON-RPC request and returns its ``result``. Each attempt goes to
the first endpoint (in preference order) whose circuit breaker is not open; after a transient failure
the next attempt prefers the next endpoint (failover). Transient: transport errors and timeouts,
truncated replies, HTTP 408/429/5xx (plain or JSON bodies; ``Retry-After`` honoured), JSON-RPC
-32001/-32003/-32603, a reply not complete within ``timeouts.call_s``. Terminal: other HTTP statuses,
other JSON-RPC errors, replies that are not JSON or not a JSON-RPC reply, replies over
``max_reply_bytes``. Outgoing requests share a token bucket per endpoint when
``requests_per_second`` is set.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import orjson

from stellar_arrow.errors import CircuitOpenError, ConfigError, RpcRequestError, RpcTransientError
from stellar_arrow.observability.metrics import PROCESSING_DURATION, UPSTREAM_REQUESTS
from stellar_arrow.resilience.breaker import BreakerSettings, UpstreamBreaker, breaker_for, upstream_name
from stellar_arrow.resilience.classify import TRANSIENT_RPC_CODES, is_transient, is_transient_status
from stellar_arrow.resilience.classify import retry_after_seconds as parse_retry_after
from stellar_arrow.resilience.ratelimit import RequestRateLimit, rate_limit_for
from stellar_arrow.resilience.retry import RetryPolicy, retrying
from stellar_arrow.resilience.timeouts import NetworkTimeouts

__all__ = ["DEFAULT_MAX_REPLY_BYTES", "RpcEndpoint", "RpcTransport"]

#: A getLedgers page of 200 large pubnet ledgers is ~500 MB of base64; bigger replies are refused.
DEFAULT_MAX_REPLY_BYTES = 768 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class RpcEndpoint:
    url: str
    breaker: UpstreamBreaker
    limit: RequestRateLimit | None


class RpcTransport:
    """JSON-RPC calls with the one retry layer, over ``urls`` in preference order."""

    def __init__(
        self,
        urls: str | Sequence[str],
        *,
        retry: RetryPolicy,
        timeouts: NetworkTimeouts,
        breaker: BreakerSettings | None = None,
        requests_per_second: float | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
        stop: threading.Event | None = None,
    ) -> None:
        names = [urls] if isinstance(urls, str) else list(dict.fromkeys(urls))
        if not names:
            msg = "at least one RPC endpoint is required"
            raise ConfigError(msg, key="source.rpc_endpoints")
        for url in names:
            if not url.startswith(("http://", "https://")):
                msg = f"RPC endpoint {url!r} must be an http:// or https:// URL"
                raise ConfigError(msg, key="source.rpc_endpoints")
        settings = breaker or BreakerSettings()
        self.endpoints = tuple(
            RpcEndpoint(
                url,
                breaker_for(upstream_name("rpc", url), failures=settings.failures, reset_s=settings.reset_s),
                rate_limit_for(upstream_name("rpc", url), requests_per_second)
                if requests_per_second
                else None,
            )
            for url in names
        )
        self.timeouts = timeouts
        self._policy = retry
        self._max_reply_bytes = max_reply_bytes
        self._client = httpx.Client(
            timeout=timeouts.httpx(), headers=dict(headers or {}), transport=transport
        )
        self._ids = itertools.count(1)
        self._preferred = 0
        self._stop = stop or threading.Event()
        self.last_endpoint: str = names[0]
        #: called once per endpoint before its first use after another one (failover): the network check
        self.on_first_use: Callable[[RpcEndpoint], None] | None = None
        self.verified: set[str] = set()

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> object:
        """``result`` of ``method``, retried on transient failures (moving to the next endpoint)."""
        return retrying(self._policy, f"rpc_{method}", method=method)(self.call_once, method, params)

    def call_once(
        self, method: str, params: Mapping[str, Any] | None = None, *, endpoint: RpcEndpoint | None = None
    ) -> object:
        """One attempt, through ``endpoint``'s breaker (default: the preferred closed endpoint)."""
        chosen = endpoint if endpoint is not None else self._choose()
        if self.on_first_use is not None and chosen.url not in self.verified and method != "getNetwork":
            self.on_first_use(chosen)
            self.verified.add(chosen.url)
        started = time.monotonic()
        try:
            result = chosen.breaker.call(self._post, chosen, method, params)
        except Exception as exc:
            transient = is_transient(exc)
            UPSTREAM_REQUESTS.labels(chosen.breaker.name, "transient" if transient else "terminal").inc()
            if transient and endpoint is None and len(self.endpoints) > 1:
                self._preferred = (self.endpoints.index(chosen) + 1) % len(self.endpoints)
            raise
        finally:
            PROCESSING_DURATION.labels("rpc", method).observe(time.monotonic() - started)
        UPSTREAM_REQUESTS.labels(chosen.breaker.name, "ok").inc()
        self.last_endpoint = chosen.url
        return result

    def _choose(self) -> RpcEndpoint:
        count = len(self.endpoints)
        order = [self.endpoints[(self._preferred + i) % count] for i in range(count)]
        for endpoint in order:
            if not endpoint.breaker.is_open:
                return endpoint
        soonest = min(order, key=lambda e: e.breaker.seconds_until_trial())
        wait = soonest.breaker.seconds_until_trial()
        names = ", ".join(e.url for e in order)
        last = soonest.breaker.last_failure
        msg = f"every RPC endpoint's circuit breaker is open ({names}); next trial in {wait:.1f} s"
        msg += f"; last failure: {last}" if last else ""
        raise CircuitOpenError(msg, name=soonest.breaker.name, retry_after=wait)

    def _post(self, endpoint: RpcEndpoint, method: str, params: Mapping[str, Any] | None) -> object:
        where = f"{method} at {endpoint.url}"
        if endpoint.limit is not None and not endpoint.limit.acquire(
            max_wait_s=self.timeouts.call_s, stop=self._stop
        ):
            msg = f"{where}: no request slot within {self.timeouts.call_s} s (rpc_requests_per_second)"
            raise RpcTransientError(msg, method=method)
        request_id = next(self._ids)
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            body["params"] = dict(params)
        deadline = time.monotonic() + self.timeouts.call_s
        try:
            with self._client.stream(
                "POST", endpoint.url, content=orjson.dumps(body), headers={"content-type": "application/json"}
            ) as response:
                status = response.status_code
                if is_transient_status(status):
                    raise _transient_status(response, where, method)
                content = self._read_body(response, deadline, where, method)
        except httpx.TransportError as exc:
            msg = f"{where}: transport error: {type(exc).__name__}: {exc}"
            raise RpcTransientError(msg, method=method) from exc
        return _result(content, status, request_id, where, method)

    def _read_body(self, response: httpx.Response, deadline: float, where: str, method: str) -> bytes:
        chunks: list[bytes] = []
        size = 0
        for chunk in response.iter_bytes():
            size += len(chunk)
            if size > self._max_reply_bytes:
                msg = f"{where}: reply larger than {self._max_reply_bytes} bytes; lower the page size"
                raise RpcRequestError(msg, method=method)
            if time.monotonic() > deadline:
                msg = f"{where}: reply not complete within {self.timeouts.call_s} s (call timeout)"
                raise RpcTransientError(msg, method=method)
            chunks.append(chunk)
        return b"".join(chunks)

    def close(self) -> None:
        self._stop.set()
        self._client.close()


def _transient_status(response: httpx.Response, where: str, method: str) -> RpcTransientError:
    status = response.status_code
    head = b""
    for chunk in response.iter_bytes():  # a short excerpt of the body for the message
        head += chunk
        if len(head) >= 200:
            break
    excerpt = head[:120].decode("utf-8", "replace").strip()
    msg = f"{where}: HTTP {status} (server busy or failing)" + (f": {excerpt!r}" if excerpt else "")
    err = RpcTransientError(msg, code=status, method=method)
    err.retry_after = parse_retry_after(response.headers.get("retry-after"))
    return err


def _result(content: bytes, status: int, request_id: int, where: str, method: str) -> object:
    try:
        reply = orjson.loads(content)
    except orjson.JSONDecodeError as exc:
        excerpt = content[:80].decode("utf-8", "replace")
        msg = f"{where}: HTTP {status} with a reply that is not JSON: {excerpt!r}"
        raise RpcRequestError(msg, code=status, method=method) from exc
    if not isinstance(reply, dict):
        msg = f"{where}: malformed reply: expected a JSON object, got {type(reply).__name__}"
        raise RpcRequestError(msg, code=status, method=method)
    error = reply.get("error")
    if error is not None:
        code = error.get("code") if isinstance(error, dict) else None
        message = error.get("message") if isinstance(error, dict) else error
        msg = f"{where}: JSON-RPC error {code}: {message}"
        if code in TRANSIENT_RPC_CODES:
            raise RpcTransientError(msg, code=code, method=method)
        raise RpcRequestError(msg, code=code if isinstance(code, int) else None, method=method)
    if status != 200:
        msg = f"{where}: HTTP {status}"
        raise RpcRequestError(msg, code=status, method=method)
    if reply.get("id") != request_id or "result" not in reply:
        msg = f"{where}: malformed reply: missing result or id {reply.get('id')!r} != {request_id}"
        raise RpcRequestError(msg, method=method)
    return reply["result"]
