"""Ledgers from Stellar RPC (``getLedgers`` with cursor pagination), over one or more endpoints.

The network is checked once with ``getNetwork`` (and on each endpoint before failing over to it); the
retention window and the tip come from ``getHealth``. Past the tip the source sleeps
``poll_interval`` and asks ``getHealth`` again instead of sending an out-of-range ``startLedger``.
Requests go through :class:`~stellar_arrow.source.rpc_transport.RpcTransport`: timeouts, the one retry
layer (transient: timeouts, resets, HTTP 408/429/5xx with ``Retry-After``, -32001/-32003/-32603), a
circuit breaker per endpoint, failover and an optional token bucket; everything else is a typed
terminal error.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

import httpx

from stellar_arrow.errors import (
    ConfigError,
    LedgerMissingError,
    NetworkMismatchError,
    RpcRequestError,
    XdrDecodeError,
)
from stellar_arrow.resilience.breaker import BreakerSettings
from stellar_arrow.resilience.bulkhead import bulkhead_for
from stellar_arrow.resilience.retry import RetryPolicy
from stellar_arrow.resilience.timeouts import NetworkTimeouts
from stellar_arrow.source.base import RawLedger, check_range
from stellar_arrow.source.header import read_ledger_header
from stellar_arrow.source.rpc_models import HealthStatus, LatestLedger, LedgerPage, NetworkInfo, RpcLedger
from stellar_arrow.source.rpc_transport import RpcEndpoint, RpcTransport

__all__ = ["MAX_PAGE_SIZE", "RpcLedgerSource"]

MAX_PAGE_SIZE = 200


class RpcLedgerSource:
    """A :class:`~stellar_arrow.source.base.LedgerSource` over one or more Stellar RPC endpoints.

    ``url`` is one endpoint or several in preference order (failover, each checked with
    ``getNetwork`` before its first use). ``timeouts`` bound connect, read and each whole call
    (``timeout``, if given, is the whole-call limit); ``retry`` (default: from ``retry_attempts`` and
    ``retry_wait``) is the one retry layer; ``breaker`` sets each endpoint's circuit breaker;
    ``requests_per_second`` caps outgoing requests per endpoint (a token bucket).
    """

    def __init__(
        self,
        url: str | Sequence[str],
        *,
        network_passphrase: str | None = None,
        page_size: int = 20,
        poll_interval: float = 2.0,
        retry_attempts: int = 5,
        retry_wait: float = 0.5,
        timeout: float | None = None,
        timeouts: NetworkTimeouts | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerSettings | None = None,
        requests_per_second: float | None = None,
        headers: Mapping[str, str] | None = None,
        transport: httpx.BaseTransport | None = None,
        max_downloads: int | None = None,
        download_wait_s: float = 30.0,
    ) -> None:
        # every source of the process shares the ``downloads`` bulkhead (getLedgers pages; None: unbounded)
        self._downloads = (
            bulkhead_for("downloads", max_downloads, max_wait_s=download_wait_s)
            if max_downloads is not None
            else None
        )
        if not 1 <= page_size <= MAX_PAGE_SIZE:
            msg = f"page_size must be within 1..{MAX_PAGE_SIZE}, got {page_size}"
            raise ConfigError(msg, key="page_size")
        if poll_interval <= 0:
            msg = f"poll_interval must be > 0 seconds, got {poll_interval}"
            raise ConfigError(msg, key="poll_interval")
        limits = timeouts or NetworkTimeouts()
        if timeout is not None:
            limits = NetworkTimeouts(min(limits.connect_s, timeout), min(limits.read_s, timeout), timeout)
        self._stop = threading.Event()
        self._transport = RpcTransport(
            url,
            retry=retry or RetryPolicy(attempts=max(1, retry_attempts), first_wait_s=retry_wait),
            timeouts=limits,
            breaker=breaker,
            requests_per_second=requests_per_second,
            headers=headers,
            transport=transport,
            stop=self._stop,
        )
        self._transport.on_first_use = self._check_endpoint
        self.urls = tuple(e.url for e in self._transport.endpoints)
        self.url = self.urls[0]
        self.expected_passphrase = network_passphrase
        self.page_size = page_size
        self._poll_interval = poll_interval
        self._network: NetworkInfo | None = None

    # -- JSON-RPC transport -------------------------------------------------------------------------

    def call(self, method: str, params: Mapping[str, Any] | None = None) -> object:
        """One JSON-RPC call with retries on transient failures (and failover); returns ``result``."""
        return self._transport.call(method, params)

    def _check_endpoint(self, endpoint: RpcEndpoint) -> None:
        """Before an endpoint's first use after failover: it must serve the same network."""
        if self._network is None and self.expected_passphrase is None:
            return
        expected = self.expected_passphrase or (self._network.passphrase if self._network else None)
        network = NetworkInfo.parse(self._transport.call_once("getNetwork", endpoint=endpoint))
        if network.passphrase != expected:
            msg = f"{endpoint.url} serves network {network.passphrase!r}, expected {expected!r}"
            raise NetworkMismatchError(msg)

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
        if self._downloads is None:
            return LedgerPage.parse(self.call("getLedgers", params))
        with self._downloads.slot():
            return LedgerPage.parse(self.call("getLedgers", params))

    # -- LedgerSource -----------------------------------------------------------------------------

    def check_network(self) -> NetworkInfo:
        """Compare ``getNetwork``'s passphrase with the configured one (once)."""
        if self._network is None:
            network = self.get_network()
            served_by = self._transport.last_endpoint
            if self.expected_passphrase is not None and network.passphrase != self.expected_passphrase:
                expected = self.expected_passphrase
                msg = f"{served_by} serves network {network.passphrase!r}, expected {expected!r}"
                raise NetworkMismatchError(msg)
            self._network = network
            self._transport.verified.add(served_by)
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
        self._transport.close()

    def __enter__(self) -> RpcLedgerSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
