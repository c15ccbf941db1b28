"""The Flight server every stellar-arrow service is built on.

A :class:`LedgerFlightServer` serves a fixed set of :class:`StreamSpec` streams. It decodes and
validates tickets and descriptors (:mod:`stellar_arrow.flight.tickets`), advertises its real
location, streams lazily through a ``GeneratorStream`` (gRPC flow control is the backpressure), stops
every stream on client cancel or server stop, answers the ``status``/``current_ledger``/``health``
actions as JSON, and turns every failure into a Flight error class with a one-line message and a
JSON ``extra_info`` (``{"code": ..., "field": ...}``): never a server traceback. With ``security``
(:class:`~stellar_arrow.security.flight.FlightSecurity`) it serves TLS/mTLS, authenticates every call,
authorizes each action, rate-limits calls per principal and per peer IP, and ends an open stream
whose credential is revoked. At most ``max_streams``
``do_get`` streams run at once (:meth:`LedgerFlightServer.limit_streams`, a bulkhead named
``<service>_streams``); one more waits ``stream_wait_s``, then fails with ``FlightUnavailableError``
``{"code": "busy", "name": ..., "retry_after_s": ...}``.
"""

from __future__ import annotations

import json
import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pyarrow as pa
import pyarrow.flight as fl

from stellar_arrow.build import StreamCancelled
from stellar_arrow.errors import BusyError, ConfigError, RequestError, StellarArrowError, TransientError
from stellar_arrow.flight.stream import Cancellation, LedgerBatch, StreamSpec, Watermark, encode_watermark
from stellar_arrow.flight.tickets import StreamRequest, TicketError, decode_request, encode_request
from stellar_arrow.observability.metrics import BATCHES_GENERATED, CURRENT_LEDGER, LEDGERS_PROCESSED
from stellar_arrow.resilience.bulkhead import Bulkhead
from stellar_arrow.security.flight import FlightSecurity

__all__ = ["LedgerFlightServer", "flight_error", "install_signal_handlers"]

log = logging.getLogger(__name__)


def flight_error(exc: BaseException, *, service: str, stream: str | None = None) -> fl.FlightError:
    """The Flight error a client should see for ``exc`` (message without traceback)."""
    where = f"{service}/{stream}" if stream else service
    if isinstance(exc, fl.FlightError):
        return exc
    if isinstance(exc, RequestError):  # a TicketError, or a filter the rows cannot answer
        invalid = {"code": "invalid_argument", "field": exc.field}
        return fl.FlightServerError(f"invalid request to {where}: {exc}", json.dumps(invalid).encode())
    if isinstance(exc, BusyError):
        busy = {"code": "busy", "name": exc.name, "capacity": exc.capacity, "retry_after_s": exc.retry_after}
        return fl.FlightUnavailableError(f"{where}: {exc}", json.dumps(busy).encode())
    if isinstance(exc, StreamCancelled):
        return fl.FlightCancelledError(f"{where}: stream cancelled (server stopping or client gone)")
    if isinstance(exc, StellarArrowError):
        info: dict[str, object] = {"code": type(exc).__name__, "ledger_sequence": exc.ledger_sequence}
        cls = fl.FlightUnavailableError if isinstance(exc, TransientError) else fl.FlightServerError
        return cls(f"{where}: {exc}", json.dumps(info).encode())
    log.exception("internal error in %s", where, exc_info=exc)
    return fl.FlightInternalError(f"{where}: internal error {type(exc).__name__}: {exc}")


class LedgerFlightServer(fl.FlightServerBase):  # type: ignore[misc]
    """Serves ``streams`` on ``grpc://host:port`` (port 0 picks a free port; see :attr:`port`)."""

    service_name = "service"

    def __init__(
        self,
        streams: Mapping[str, StreamSpec],
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        security: FlightSecurity | None = None,
    ) -> None:
        self._security = security
        scheme = security.scheme if security is not None else "grpc"
        options = security.server_options() if security is not None else {}
        try:
            super().__init__(f"{scheme}://{host}:{port}", **options)
        except pa.ArrowException as exc:
            key = f"{self.service_name}.flight_port"
            msg = f"{self.service_name} cannot listen on {host}:{port} (port in use?): {exc}"
            raise ConfigError(msg, key=key) from None
        self._streams = dict(streams)
        self._host = host
        self.stop_event = threading.Event()
        self._lock = threading.Lock()
        self._current_ledger: int | None = None
        self._active = 0
        self._served = 0
        self._started = time.time()
        self.limit_streams(32, 0.5)

    # ------------------------------------------------------------------ helpers for subclasses
    @property
    def location(self) -> fl.Location:
        if self._security is not None:
            return self._security.location(self._host, self.port)
        return fl.Location.for_grpc_tcp(self._host, self.port)

    @property
    def uri(self) -> str:
        scheme = self._security.scheme if self._security is not None else "grpc"
        return f"{scheme}://{self._host}:{self.port}"

    @property
    def current_ledger(self) -> int | None:
        return self._current_ledger

    def note_ledger(self, ledger_sequence: int) -> None:
        with self._lock:
            if self._current_ledger is None or ledger_sequence > self._current_ledger:
                self._current_ledger = ledger_sequence
                LEDGERS_PROCESSED.labels(self.service_name, "ok").inc()  # each new ledger once
                CURRENT_LEDGER.labels(self.service_name).set(ledger_sequence)

    def status(self) -> dict[str, Any]:
        """The ``status`` action's JSON body; subclasses add their own keys."""
        return {
            "service": self.service_name,
            "location": self.uri,
            "streams": sorted(self._streams),
            "current_ledger": self._current_ledger,
            "active_streams": self._active,
            "max_streams": self.streams_bulkhead.capacity,
            "memory_pool": pa.default_memory_pool().backend_name,
            "streams_served": self._served,
            "uptime_s": round(time.time() - self._started, 3),
        }

    def limit_streams(self, max_streams: int, wait_s: float) -> None:
        """At most ``max_streams`` concurrent ``do_get`` streams; one more waits ``wait_s``, then is busy."""
        self.streams_bulkhead = Bulkhead(f"{self.service_name}_streams", max_streams, max_wait_s=wait_s)

    def default_request(self, stream: str) -> StreamRequest:
        """The request a PATH descriptor ``[stream]`` stands for."""
        return StreamRequest(stream=stream)

    def total_records(self, request: StreamRequest) -> int:
        """Row count of a request if known without computing it, else -1."""
        return -1

    def stop(self) -> None:
        """Stop every stream and the server, then the workers; safe from any thread except a handler's."""
        self.stop_event.set()
        self.shutdown()
        self.close_workers()

    def serve_until_stopped(self) -> None:
        """Block until :attr:`stop_event` is set (e.g. by a signal handler), then shut down."""
        while not self.stop_event.wait(0.5):
            pass
        self.shutdown()
        self.close_workers()

    def close_workers(self) -> None:
        """Shut down the service's worker processes once no stream runs (idempotent; none by default)."""

    # ------------------------------------------------------------------ Flight methods
    def _spec(self, request: StreamRequest) -> StreamSpec:
        spec = self._streams.get(request.stream)
        if spec is None:
            info = json.dumps({"code": "not_found", "field": "stream"}).encode()
            msg = (
                f"{self.service_name} does not serve stream {request.stream!r}; "
                f"it serves {', '.join(sorted(self._streams))}"
            )
            raise fl.FlightServerError(msg, info)
        return spec

    def _request_of(self, descriptor: fl.FlightDescriptor) -> StreamRequest:
        if descriptor.descriptor_type == fl.DescriptorType.PATH:
            path = [p.decode() if isinstance(p, bytes) else p for p in descriptor.path]
            if len(path) != 1:
                msg = f"descriptor path must be [stream], not {path}"
                raise TicketError(msg, field="path")
            if path[0] not in self._streams:
                return StreamRequest(stream=path[0])
            return self.default_request(path[0])
        return decode_request(descriptor.command)

    def _guard(self, what: str, func: Callable[[], Any], stream: str | None = None) -> Any:
        try:
            return func()
        except Exception as exc:
            raise flight_error(exc, service=f"{self.service_name}.{what}", stream=stream) from None

    def _info(self, request: StreamRequest, descriptor: fl.FlightDescriptor) -> fl.FlightInfo:
        spec = self._spec(request)
        endpoint = fl.FlightEndpoint(encode_request(request), [self.location])
        rows = self.total_records(request)
        return fl.FlightInfo(spec.schema, descriptor, [endpoint], rows, -1, ordered=True)

    def _admit(self, context: fl.ServerCallContext, method: str) -> None:
        if self._security is not None:
            self._security.admit_peer(context, method)

    def list_flights(self, context: fl.ServerCallContext, criteria: bytes) -> list[fl.FlightInfo]:
        self._admit(context, "ListFlights")
        infos: list[fl.FlightInfo] = self._guard(
            "list_flights",
            lambda: [
                self._info(self.default_request(name), fl.FlightDescriptor.for_path(name))
                for name in sorted(self._streams)
            ],
        )
        return infos

    def get_flight_info(
        self, context: fl.ServerCallContext, descriptor: fl.FlightDescriptor
    ) -> fl.FlightInfo:
        self._admit(context, "GetFlightInfo")
        return self._guard("get_flight_info", lambda: self._info(self._request_of(descriptor), descriptor))

    def get_schema(self, context: fl.ServerCallContext, descriptor: fl.FlightDescriptor) -> fl.SchemaResult:
        self._admit(context, "GetSchema")
        return self._guard(
            "get_schema", lambda: fl.SchemaResult(self._spec(self._request_of(descriptor)).schema)
        )

    def do_get(self, context: fl.ServerCallContext, ticket: fl.Ticket) -> fl.GeneratorStream:
        self._admit(context, "DoGet")
        request = self._guard("do_get", lambda: decode_request(ticket.ticket))
        spec = self._guard("do_get", lambda: self._spec(request))
        guard = self._security.stream_guard(context) if self._security is not None else None
        if guard is None:
            cancel = Cancellation(self.stop_event, context.is_cancelled)
            return fl.GeneratorStream(spec.schema, self._messages(spec, request, cancel))
        cancel = Cancellation(self.stop_event, guard.cancelled_or(context.is_cancelled))
        return fl.GeneratorStream(spec.schema, guard.wrap(self._messages(spec, request, cancel)))

    def _messages(
        self, spec: StreamSpec, request: StreamRequest, cancel: Cancellation
    ) -> Iterator[tuple[pa.RecordBatch, bytes]]:
        try:
            self.streams_bulkhead.acquire()
        except BusyError as exc:
            raise flight_error(exc, service=self.service_name, stream=spec.name) from None
        with self._lock:
            self._active += 1
            self._served += 1
        cancel.enter()
        try:
            batches: Iterator[LedgerBatch] = spec.open(request, cancel)
            for item in batches:
                if cancel.is_set:
                    raise StreamCancelled
                if item.complete:
                    self.note_ledger(item.ledger_sequence)
                cancel.leave()
                BATCHES_GENERATED.labels(self.service_name).inc()
                yield item.batch, encode_watermark(Watermark(item.ledger_sequence, item.complete))
                cancel.enter()
        except Exception as exc:
            if not isinstance(exc, (StreamCancelled, TicketError)):  # a failed ledger, not a bad request
                LEDGERS_PROCESSED.labels(self.service_name, "error").inc()
            raise flight_error(exc, service=self.service_name, stream=spec.name) from None
        finally:
            cancel.finish()
            with self._lock:
                self._active -= 1
            self.streams_bulkhead.release()

    def extra_actions(self) -> dict[str, tuple[str, Callable[[], dict[str, Any]]]]:
        """Service-specific actions: name -> (description, JSON body producer)."""
        return {}

    def list_actions(self, context: fl.ServerCallContext) -> list[tuple[str, str]]:
        self._admit(context, "ListActions")
        return self._actions()

    def _actions(self) -> list[tuple[str, str]]:
        extra = [(name, desc) for name, (desc, _) in self.extra_actions().items()]
        return [
            ("status", "service status as JSON"),
            ("current_ledger", "the highest ledger this service has delivered, as JSON"),
            ("health", "liveness as JSON"),
            *extra,
        ]

    def do_action(self, context: fl.ServerCallContext, action: fl.Action) -> Iterator[bytes]:
        kind = action.type
        self._admit(context, "DoAction")
        if self._security is not None:
            self._security.authorize_action(context, kind)
        if kind == "status":
            body: dict[str, Any] = self._guard("do_action", self.status)
            if self._security is not None:
                body = self._security.visible_status(context, body)
        elif kind == "current_ledger":
            body = {"service": self.service_name, "current_ledger": self._current_ledger}
        elif kind == "health":
            body = {"service": self.service_name, "status": "stopping" if self.stop_event.is_set() else "ok"}
        elif kind in self.extra_actions():
            body = self._guard("do_action", self.extra_actions()[kind][1])
        else:
            info = json.dumps({"code": "not_found", "field": "action"}).encode()
            names = ", ".join(name for name, _ in self._actions())
            msg = f"{self.service_name}: unknown action {kind!r}; actions: {names}"
            raise fl.FlightServerError(msg, info)
        return iter([json.dumps(body).encode()])


def install_signal_handlers(server: LedgerFlightServer, on_stop: Callable[[], None] | None = None) -> None:
    """SIGTERM and SIGINT set the server's stop event (and call ``on_stop``).

    Pair with :meth:`LedgerFlightServer.serve_until_stopped`, which waits in Python (so the handler
    runs), then shuts the server down once every stream has seen the stop event. pyarrow's own
    ``serve()`` is not used: its C++ signal handling calls Shutdown() before Python handlers run,
    and Shutdown() waits forever for live streams that were never told to stop.
    """

    def handle(signum: int, frame: object) -> None:
        log.info("%s: signal %d, stopping", server.service_name, signum)
        server.stop_event.set()
        if on_stop is not None:
            on_stop()

    signal.signal(signal.SIGTERM, handle)
    signal.signal(signal.SIGINT, handle)
