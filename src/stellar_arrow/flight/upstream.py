"""Reading a stellar-arrow Flight stream as whole ledgers, reconnecting after upstream restarts.

:class:`UpstreamStream` opens ``do_get`` on a service, groups messages into ledgers by their
watermark, and yields one :class:`UpstreamLedger` per complete ledger. If the connection breaks
(the upstream was killed or restarted), it reconnects with a fresh client and continues after the
last complete ledger (the ticket's resume cursor), so no ledger is lost or repeated. Refusals
(invalid ticket, unknown stream, upstream data errors: Flight ``FlightServerError``, which a service
sends for every terminal error) are not retried: :class:`UpstreamError` at once. An upstream's internal
error (a bug, or a transport glitch) is retried at most ``_INTERNAL_RETRIES`` times without progress.

Each upstream has a circuit breaker (``flight:grpc://host:port``, state in
``circuit_breaker_state{name}``): failed connections count, a delivered ledger closes it; while it is
open the stream waits for the trial instead of reconnecting.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.flight as fl

from stellar_arrow.build import StreamCancelled
from stellar_arrow.errors import UpstreamError, UpstreamUnavailableError
from stellar_arrow.flight.stream import Cancellation, decode_watermark
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.resilience.breaker import UpstreamBreaker, breaker_for, upstream_name
from stellar_arrow.security.flight import FlightClientSecurity

__all__ = ["ActionCaller", "UpstreamLedger", "UpstreamStream", "upstream_action"]

log = logging.getLogger(__name__)

_RETRYABLE = (
    fl.FlightUnavailableError,
    fl.FlightCancelledError,
    fl.FlightTimedOutError,
    fl.FlightInternalError,
)
_INTERNAL_RETRIES = 3
_ALIGNED = pa.ipc.IpcReadOptions(ensure_alignment=pa.ipc.Alignment.DataTypeSpecific)


@dataclass(frozen=True, slots=True)
class UpstreamLedger:
    """All rows of one ledger received from an upstream stream (possibly none)."""

    ledger_sequence: int
    batches: tuple[pa.RecordBatch, ...]

    @property
    def num_rows(self) -> int:
        return sum(b.num_rows for b in self.batches)


class UpstreamStream:
    """Iterate ``request`` on ``endpoint`` ledger by ledger, surviving upstream restarts.

    ``reconnect_timeout_s`` bounds the time without progress spent reconnecting before
    :class:`UpstreamUnavailableError` is raised. ``breaker``: the upstream's circuit breaker (default:
    the process-wide one of ``flight:<endpoint>``).
    """

    def __init__(
        self,
        endpoint: str,
        request: StreamRequest,
        cancel: Cancellation,
        *,
        reconnect_timeout_s: float = 60.0,
        connect_timeout_s: float = 5.0,
        client: FlightClientSecurity | None = None,
        breaker: UpstreamBreaker | None = None,
    ) -> None:
        self.endpoint = endpoint
        self.breaker = breaker or breaker_for(upstream_name("flight", endpoint))
        self._connect = client.connect if client is not None else fl.connect
        self.request = request
        self._cancel = cancel
        self._reconnect_timeout_s = reconnect_timeout_s
        self._connect_timeout_s = connect_timeout_s
        self._reader: fl.FlightStreamReader | None = None
        self._lock = threading.Lock()
        self._closed = False
        self.last_ledger: int | None = request.resume_after
        self.reconnects = 0

    def close(self) -> None:
        """Cancel the current call from any thread (unblocks a pending read)."""
        with self._lock:
            self._closed = True
            if self._reader is not None:
                self._reader.cancel()

    def _finished(self) -> bool:
        end = self.request.end_ledger
        return end is not None and self.last_ledger is not None and self.last_ledger >= end

    def __iter__(self) -> Iterator[UpstreamLedger]:
        last_progress = time.monotonic()
        backoff = 0.05
        internal = 0
        while not self._finished():
            if self._closed or self._cancel.is_set:
                raise StreamCancelled
            request = self.request if self.last_ledger is None else self.request.resumed(self.last_ledger)
            try:
                for ledger in self._attempt(request):
                    self.last_ledger = ledger.ledger_sequence
                    last_progress = time.monotonic()
                    backoff = 0.05
                    internal = 0
                    self.breaker.record_success()
                    yield ledger
                return
            except _RETRYABLE as exc:
                if self._closed or self._cancel.is_set:
                    raise StreamCancelled from None
                self.breaker.record_failure(exc)
                if isinstance(exc, fl.FlightInternalError):
                    internal += 1
                    if internal > _INTERNAL_RETRIES:
                        msg = (
                            f"upstream {self.endpoint} failed stream {request.stream!r} with an internal "
                            f"error {internal} times after ledger {self.last_ledger}: {_first_line(exc)}"
                        )
                        raise UpstreamError(
                            msg, endpoint=self.endpoint, ledger_sequence=self.last_ledger
                        ) from None
                waited = time.monotonic() - last_progress
                if waited > self._reconnect_timeout_s:
                    msg = (
                        f"upstream {self.endpoint} stream {request.stream!r} unavailable for {waited:.1f} s "
                        f"after ledger {self.last_ledger} (circuit breaker {self.breaker.name} "
                        f"{self.breaker.state}): {_first_line(exc)}"
                    )
                    raise UpstreamUnavailableError(
                        msg, endpoint=self.endpoint, ledger_sequence=self.last_ledger
                    ) from None
                log.info(
                    "upstream %s: %s; reconnecting after %s",
                    self.endpoint,
                    _first_line(exc),
                    self.last_ledger,
                )
                self.reconnects += 1
                if self._cancel.wait(max(backoff, self.breaker.seconds_until_trial())):
                    raise StreamCancelled from None
                backoff = min(backoff * 2, 1.0)
            except fl.FlightError as exc:
                msg = f"upstream {self.endpoint} refused stream {request.stream!r}: {_first_line(exc)}"
                raise UpstreamError(msg, endpoint=self.endpoint, ledger_sequence=self.last_ledger) from None

    def _attempt(self, request: StreamRequest) -> Iterator[UpstreamLedger]:
        client = self._connect(self.endpoint)
        try:
            options = fl.FlightCallOptions(read_options=_ALIGNED)
            reader = client.do_get(fl.Ticket(encode_request(request)), options)
            with self._lock:
                if self._closed:
                    reader.cancel()
                self._reader = reader
            pending: list[pa.RecordBatch] = []
            while True:
                try:
                    chunk = reader.read_chunk()
                except StopIteration:
                    return
                if chunk.data is not None and chunk.data.num_rows:
                    pending.append(chunk.data)
                mark = decode_watermark(chunk.app_metadata.to_pybytes() if chunk.app_metadata else None)
                if mark is not None and mark.complete:
                    if self.last_ledger is not None and mark.ledger_sequence <= self.last_ledger:
                        pending = []
                        continue  # already delivered before a reconnect
                    yield UpstreamLedger(mark.ledger_sequence, tuple(pending))
                    pending = []
        finally:
            with self._lock:
                self._reader = None
            client.close()


def _first_line(exc: BaseException) -> str:
    text = str(exc)
    for cut in (". gRPC client debug context", ". Detail:"):
        text = text.split(cut, 1)[0]
    return text.strip()


def upstream_action(
    endpoint: str,
    name: str,
    *,
    timeout_s: float = 10.0,
    client: FlightClientSecurity | None = None,
    flight: fl.FlightClient | None = None,
) -> dict[str, object]:
    """The JSON answer of action ``name`` on ``endpoint``; unreachable -> UpstreamUnavailableError.

    ``client``: TLS material and the service API key to connect with (plain ``grpc://`` without).
    ``flight``: an open client of ``endpoint`` to call through (kept open), instead of a new one.
    """
    try:
        if flight is not None:
            (result,) = flight.do_action(fl.Action(name, b""), fl.FlightCallOptions(timeout=timeout_s))
        else:
            connect = client.connect if client is not None else fl.connect
            with connect(endpoint) as fresh:
                (result,) = fresh.do_action(fl.Action(name, b""), fl.FlightCallOptions(timeout=timeout_s))
    except _RETRYABLE as exc:
        msg = f"upstream {endpoint} did not answer action {name!r}: {_first_line(exc)}"
        raise UpstreamUnavailableError(msg, endpoint=endpoint) from None
    except fl.FlightError as exc:
        msg = f"upstream {endpoint} refused action {name!r}: {_first_line(exc)}"
        raise UpstreamError(msg, endpoint=endpoint) from None
    body: dict[str, object] = json.loads(result.body.to_pybytes())
    return body


class ActionCaller:
    """Calls actions of upstream services through one kept client per endpoint (a poller's helper).

    A new gRPC channel per call costs about three times the call itself; a client is dropped after any
    error, so the next call reconnects.
    """

    def __init__(self, client: FlightClientSecurity | None = None) -> None:
        self._client = client
        self._lock = threading.Lock()
        self._open: dict[str, fl.FlightClient] = {}

    def __call__(self, endpoint: str, name: str, *, timeout_s: float) -> dict[str, object]:
        with self._lock:
            flight = self._open.get(endpoint)
            if flight is None:
                connect = self._client.connect if self._client is not None else fl.connect
                flight = self._open[endpoint] = connect(endpoint)
        try:
            return upstream_action(endpoint, name, timeout_s=timeout_s, flight=flight)
        except BaseException:
            self.drop(endpoint)
            raise

    def drop(self, endpoint: str) -> None:
        with self._lock:
            flight = self._open.pop(endpoint, None)
        if flight is not None:
            flight.close()

    def close(self) -> None:
        """Close every kept client."""
        for endpoint in list(self._open):
            self.drop(endpoint)
