"""Ledgers from Stellar RPC (``getLedgers`` with cursor pagination), over httpx.

The network is checked once with ``getNetwork``; the retention window and the tip come from
``getHealth``. Past the tip the source sleeps ``poll_interval`` and asks ``getHealth`` again instead of
sending an out-of-range ``startLedger``. Transient failures (-32001, -32603, -32003, HTTP 429/502/503/504,
transport errors) are retried with exponential backoff; everything else is a typed terminal error.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import httpx
import orjson
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from stellar_arrow.errors import (
    ConfigError,
    LedgerMissingError,
    NetworkMismatchError,
    RpcRequestError,
    RpcTransientError,
    XdrDecodeError,
)
from stellar_arrow.source.base import RawLedger, check_range
from stellar_arrow.source.header import read_ledger_header
from stellar_arrow.source.rpc_models import HealthStatus, LatestLedger, LedgerPage, NetworkInfo, RpcLedger

__all__ = ["MAX_PAGE_SIZE", "RpcLedgerSource"]

MAX_PAGE_SIZE = 200
_TRANSIENT_CODES = frozenset({-32001, -32003, -32603})
_TRANSIENT_HTTP = frozenset({429, 502, 503, 504})


class RpcLedgerSource:
    """A :class:`~stellar_arrow.source.base.LedgerSource` over one Stellar RPC endpoint."""

    def __init__(
        self,
        url: str,
        *,
        network_passphrase: str | None = None,
        page_size: int = 20,
        poll_interval: float = 2.0,
        retry_attempts: int = 5,
        retry_wait: float = 0.5,
        timeout: float = 60.0,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            msg = f"page_size must be within 1..{MAX_PAGE_SIZE}, got {page_size}"
            raise ConfigError(msg, key="page_size")
        if poll_interval <= 0:
            msg = f"poll_interval must be > 0 seconds, got {poll_interval}"
            raise ConfigError(msg, key="poll_interval")
        self.url = url
        self.expected_passphrase = network_passphrase
        self.page_size = page_size
        self._poll_interval = poll_interval
        self._client = httpx.Client(timeout=timeout, headers=dict(headers or {}), transport=transport)
        self._ids = itertools.count(1)
        self._stop = threading.Event()
        self._network: NetworkInfo | None = None
        self._retrying = Retrying(
            stop=stop_after_attempt(max(1, retry_attempts)),
            wait=wait_exponential(multiplier=retry_wait, max=10.0),
            retry=retry_if_exception_type(RpcTransientError),
            reraise=True,
        )

    # -- JSON-RPC transport -------------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> object:
        """One JSON-RPC call with retries on transient failures; returns ``result``."""
        return self._retrying(self._call_once, method, params)

    def _call_once(self, method: str, params: Mapping[str, Any] | None) -> object:
        request_id = next(self._ids)
        body: dict[str, Any] = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            body["params"] = dict(params)
        where = f"{method} at {self.url}"
        try:
            response = self._client.post(
                self.url, content=orjson.dumps(body), headers={"content-type": "application/json"}
            )
        except httpx.TransportError as exc:
            msg = f"{where}: transport error: {type(exc).__name__}: {exc}"
            raise RpcTransientError(msg, method=method) from exc
        if response.status_code in _TRANSIENT_HTTP:
            msg = f"{where}: HTTP {response.status_code} (server busy or unavailable)"
            raise RpcTransientError(msg, code=response.status_code, method=method)
        try:
            reply = orjson.loads(response.content)
        except orjson.JSONDecodeError as exc:
            msg = (
                f"{where}: HTTP {response.status_code} with a reply that is not JSON: {response.text[:80]!r}"
            )
            raise RpcRequestError(msg, code=response.status_code, method=method) from exc
        if not isinstance(reply, dict):
            msg = f"{where}: malformed reply: expected a JSON object, got {type(reply).__name__}"
            raise RpcRequestError(msg, code=response.status_code, method=method)
        error = reply.get("error")
        if error is not None:
            code = error.get("code") if isinstance(error, dict) else None
            message = error.get("message") if isinstance(error, dict) else error
            msg = f"{where}: JSON-RPC error {code}: {message}"
            if code in _TRANSIENT_CODES:
                raise RpcTransientError(msg, code=code, method=method)
            raise RpcRequestError(msg, code=code if isinstance(code, int) else None, method=method)
        if response.status_code != 200:
            msg = f"{where}: HTTP {response.status_code}"
            raise RpcRequestError(msg, code=response.status_code, method=method)
        if reply.get("id") != request_id or "result" not in reply:
            msg = f"{where}: malformed reply: missing result or id {reply.get('id')!r} != {request_id}"
            raise RpcRequestError(msg, method=method)
        return reply["result"]

    # -- methods --------------------------------------------------------------------------------------

    def get_network(self) -> NetworkInfo:
        return NetworkInfo.parse(self.call("getNetwork"))

    def get_health(self) -> HealthStatus:
        return HealthStatus.parse(self.call("getHealth"))

    def get_latest_ledger(self) -> LatestLedger:
        return LatestLedger.parse(self.call("getLatestLedger"))

    def get_ledgers(
        self, *, start: int | None = None, cursor: str | None = None, limit: int | None = None
    ) -> LedgerPage:
        """One ``getLedgers`` page, from ``start`` or after ``cursor``."""
        pagination: dict[str, Any] = {"limit": limit or self.page_size}
        params: dict[str, Any] = {"pagination": pagination, "xdrFormat": "base64"}
        if cursor is not None:
            pagination["cursor"] = cursor
        else:
            params["startLedger"] = start
        return LedgerPage.parse(self.call("getLedgers", params))

    # -- LedgerSource -----------------------------------------------------------------------------

    def check_network(self) -> NetworkInfo:
        """Compare ``getNetwork``'s passphrase with the configured one (once)."""
        if self._network is None:
            network = self.get_network()
            if self.expected_passphrase is not None and network.passphrase != self.expected_passphrase:
                msg = (
                    f"{self.url} serves network {network.passphrase!r}, expected {self.expected_passphrase!r}"
                )
                raise NetworkMismatchError(msg)
            self._network = network
        return self._network

    @property
    def network_passphrase(self) -> str:
        return self.check_network().passphrase

    def latest_ledger(self) -> int:
        """The RPC's newest ledger (``getHealth.latestLedger``)."""
        return self.get_health().latest_ledger

    def _wait_for(self, ledger_sequence: int) -> HealthStatus | None:
        """Poll ``getHealth`` until ``ledger_sequence`` is served; None when stopped."""
        while True:
            health = self.get_health()
            if health.latest_ledger >= ledger_sequence:
                return health
            if self._stop.wait(self._poll_interval):
                return None

    def ledgers(self, start: int, end: int | None = None) -> Iterator[RawLedger]:
        """Yield ``(ledger_sequence, lcm_bytes)`` for ``[start, end]`` in order, or follow the tip.

        The range is checked now; I/O starts at the first ``next()``. :meth:`stop` ends the iteration.
        """
        check_range(start, end)
        self._stop.clear()
        return self._iterate(start, end)

    def _iterate(self, start: int, end: int | None) -> Iterator[RawLedger]:
        self.check_network()
        health = self.get_health()
        if start < health.oldest_ledger:
            msg = (
                f"start ledger {start} is older than the oldest ledger {health.oldest_ledger} retained by "
                f"{self.url} (retention window {health.ledger_retention_window} ledgers, latest "
                f"{health.latest_ledger}); use a data lake for older ledgers"
            )
            raise RpcRequestError(msg, method="getLedgers", ledger_sequence=start)
        next_sequence = start
        known_latest = health.latest_ledger
        cursor: str | None = None
        while end is None or next_sequence <= end:
            if next_sequence > known_latest:
                waited = self._wait_for(next_sequence)
                if waited is None:
                    return
                known_latest = waited.latest_ledger
            limit = self.page_size if end is None else min(self.page_size, end - next_sequence + 1)
            page = self.get_ledgers(start=None if cursor else next_sequence, cursor=cursor, limit=limit)
            known_latest = page.latest_ledger
            if not page.ledgers:
                if page.latest_ledger >= next_sequence:
                    latest = page.latest_ledger
                    msg = f"{self.url} has no ledger {next_sequence} although its latest is {latest}"
                    raise LedgerMissingError(msg, ledger_sequence=next_sequence)
                continue
            for ledger in page.ledgers:
                self._check_entry(ledger, next_sequence)
                yield RawLedger(next_sequence, ledger.ledger_close_meta)
                next_sequence += 1
                if (end is not None and next_sequence > end) or self._stop.is_set():
                    return
            cursor = page.cursor

    def _check_entry(self, ledger: RpcLedger, expected: int) -> None:
        got, lcm, ledger_hash = ledger.ledger_sequence, ledger.ledger_close_meta, ledger.ledger_hash
        if got != expected:
            msg = f"{self.url}: getLedgers returned ledger {got} where ledger {expected} was expected"
            raise RpcRequestError(msg, method="getLedgers", ledger_sequence=expected)
        try:
            header = read_ledger_header(lcm, what=f"metadataXdr of ledger {expected} from {self.url}")
        except XdrDecodeError as exc:
            raise RpcRequestError(str(exc), method="getLedgers", ledger_sequence=expected) from exc
        if header.ledger_sequence != expected or header.ledger_hash.hex() != ledger_hash.lower():
            msg = (
                f"{self.url}: metadataXdr of ledger {expected} holds ledger {header.ledger_sequence} "
                f"with hash {header.ledger_hash.hex()}, reply says {ledger_hash}"
            )
            raise RpcRequestError(msg, method="getLedgers", ledger_sequence=expected)

    def stop(self) -> None:
        """Make a running :meth:`ledgers` iteration (e.g. tailing the tip) return soon."""
        self._stop.set()

    def close(self) -> None:
        self.stop()
        self._client.close()

    def __enter__(self) -> RpcLedgerSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
