"""The processor service (default port 8816): the one place a pipeline decodes its ledgers.

For each ``do_get`` the processor reads a ``ledger_close_meta`` stream of the source (same range, live or
not, resumed after the client's cursor; streams asking for the same range together, as a sink's one
stream per table does, share one: :mod:`stellar_arrow.flight.fanout`) and builds every table of each
ledger from one decode in an :class:`~stellar_arrow.build.OrderedPool` (worker processes; results
shared between clients and streams by ledger sequence): ``token_transfers``, and ``ledgers``,
``transactions``, ``operations``.
Every ledger's header hashes are checked when it is decoded, and each stream checks the hash chain
across its ledgers (:mod:`stellar_arrow.flight.chain`); with ``verify_events`` (in the builder) each
ledger's events are also reconciled with its balance changes. ``token_transfers`` gets the service-wide
filters of the settings, then the ticket's filters; the other tables the ticket's ``where`` only. Every
stream sends one message per ledger (0 rows when a ledger has none) with its watermark. If the source
restarts, the upstream reconnects and continues after the last ledger it received.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from dataclasses import replace

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.build import LedgerFeed, LedgerTables, OrderedPool
from stellar_arrow.errors import ConfigError, UpstreamError
from stellar_arrow.flight.chain import StreamChain, header_link, resume_anchor
from stellar_arrow.flight.fanout import FanoutRegistry
from stellar_arrow.flight.service import LedgerFlightServer
from stellar_arrow.flight.source_service import TableBuilder, table_batch
from stellar_arrow.flight.stream import Cancellation, InFlight, LedgerBatch, StreamSpec
from stellar_arrow.flight.tickets import StreamRequest
from stellar_arrow.flight.upstream import UpstreamStream
from stellar_arrow.observability.metrics import EVENTS_PROCESSED
from stellar_arrow.query import TransferFilter, filter_rows
from stellar_arrow.resilience.bulkhead import Bulkhead
from stellar_arrow.security.flight import FlightClientSecurity, FlightSecurity
from stellar_arrow.source.base import RawLedger

__all__ = ["ProcessorService"]

_DESCRIPTIONS = {
    "token_transfers": "token transfer events (transfer, mint, burn, clawback, fee), one message per ledger",
    "ledgers": "one row per ledger (header, counts, fees), from the processor's one decode",
    "transactions": "one row per transaction, from the processor's one decode",
    "operations": "one row per operation, from the processor's one decode",
}


class ProcessorService(LedgerFlightServer):
    """Serves the tables ``tables.build`` makes of the ledgers of the source at ``source_endpoint``.

    ``tables.schemas`` names the streams (``token_transfers`` must be one of them).
    """

    service_name = "processor"

    def __init__(
        self,
        source_endpoint: str,
        tables: TableBuilder,
        *,
        base_filter: TransferFilter | None = None,
        workers: int = 0,
        in_flight: int = 2,
        cache_ledgers: int = 256,
        max_batch_rows: int = 65_536,
        reconnect_timeout_s: float = 60.0,
        default_start: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        security: FlightSecurity | None = None,
        client: FlightClientSecurity | None = None,
        decoders: Bulkhead | None = None,
    ) -> None:
        if "token_transfers" not in tables.schemas:
            msg = f"the processor's builder must make token_transfers, not only {sorted(tables.schemas)}"
            raise ConfigError(msg, key="processor")
        self.source_endpoint = source_endpoint
        self._client = client
        self._schemas = dict(tables.schemas)
        self._base_filter = base_filter or TransferFilter()
        self._work: OrderedPool[RawLedger, LedgerTables] = OrderedPool(
            tables.build, workers=workers, cache_ledgers=cache_ledgers, decoders=decoders
        )
        self._in_flight = in_flight
        self._max_rows = max_batch_rows
        self._reconnect_timeout_s = reconnect_timeout_s
        self._default_start = default_start
        self._events_sent = 0
        self._upstream_reconnects = 0
        streams = {
            name: StreamSpec(name, schema, _DESCRIPTIONS.get(name, name), self._stream)
            for name, schema in self._schemas.items()
        }
        super().__init__(streams, host=host, port=port, security=security)
        # the streams a sink opens together for one range (one per table) share one upstream
        self._fanouts = FanoutRegistry(self.stop_event, max_ahead=max(2, in_flight))

    def default_request(self, stream: str) -> StreamRequest:
        return StreamRequest(stream=stream, start_ledger=self._default_start)

    def status(self) -> dict[str, object]:
        body = super().status()
        body["source_endpoint"] = self.source_endpoint
        body["ledgers_derived"] = self._work.computed
        body["events_sent"] = self._events_sent
        body["upstream_reconnects"] = self._upstream_reconnects
        return body

    def close_workers(self) -> None:
        self._work.close()

    def count_reconnects(self, reconnects: int) -> None:
        """An upstream of this service ended after ``reconnects`` reconnections."""
        self._upstream_reconnects += reconnects

    def _stream(self, request: StreamRequest, cancel: Cancellation) -> Iterator[LedgerBatch]:
        start = request.start_ledger if request.start_ledger is not None else self._default_start
        request = replace(request, start_ledger=start)
        chain = StreamChain()
        anchor = resume_anchor(request)
        cached = self._work.cached(anchor) if anchor is not None else None
        if cached is not None:
            chain.anchor(cached.link)
            anchor = None
        cursor = request.resume_after
        if anchor is None:  # the chain's start is known: serve the derived prefix without the source
            for seq, tables in self._cached_prefix(request):
                chain.check(seq, tables)
                cursor = seq
                yield from self._send(seq, tables, request)
        if request.end_ledger is not None and cursor is not None and cursor >= request.end_ledger:
            return
        upstream_request = StreamRequest(
            stream="ledger_close_meta",
            start_ledger=request.start_ledger,
            end_ledger=request.end_ledger,
            live=request.live,
            resume_after=cursor if anchor is None else anchor - 1,
        )
        key = (
            upstream_request.start_ledger,
            upstream_request.end_ledger,
            request.live,
            upstream_request.resume_after,
        )
        fanout, sid = self._fanouts.subscribe(key, functools.partial(self._open_upstream, upstream_request))
        flight = InFlight("processor")

        def payloads() -> Iterator[tuple[int, RawLedger]]:
            for raw in fanout.ledgers(sid, cancel):
                if raw.ledger_sequence == anchor:  # read only for its hash: not decoded, not sent
                    chain.anchor(header_link(raw.ledger_close_meta, anchor))
                    continue
                flight.read()
                yield raw.ledger_sequence, raw

        def leave() -> None:
            fanout.leave(sid)

        feed = LedgerFeed(
            payloads(),
            cancel,
            buffer=max(2, self._in_flight),
            name="processor-upstream",
            on_close=leave,
        )
        try:
            for seq, tables in self._work.ordered(feed, cancel, in_flight=self._in_flight):
                chain.check(seq, tables)
                yield from self._send(seq, tables, request)
                flight.sent()
        finally:
            feed.close()
            flight.close()

    def _open_upstream(self, request: StreamRequest, cancel: Cancellation) -> _RawUpstream:
        """The source's ``ledger_close_meta`` stream for ``request``, as raw ledgers (one per fan-out)."""
        upstream = UpstreamStream(
            self.source_endpoint,
            request,
            cancel,
            reconnect_timeout_s=self._reconnect_timeout_s,
            client=self._client,
        )
        return _RawUpstream(upstream, self)

    def _cached_prefix(self, request: StreamRequest) -> Iterator[tuple[int, LedgerTables]]:
        """Already built ledgers at the start of the request (served without reading the source)."""
        seq = request.first_ledger
        if seq is None:
            return
        while request.end_ledger is None or seq <= request.end_ledger:
            tables = self._work.cached(seq)
            if tables is None:
                return
            yield seq, tables
            seq += 1

    def _send(self, seq: int, tables: LedgerTables, request: StreamRequest) -> Iterator[LedgerBatch]:
        batch = table_batch(tables, request.stream, self._schemas[request.stream])
        if request.stream == "token_transfers" and not self._base_filter.is_empty:
            batch = filter_rows(batch, self._base_filter)
        batch = request.keep(batch)  # the ticket's filters (token_transfers) or where (other tables)
        if request.stream == "token_transfers":
            self._events_sent += batch.num_rows
            if batch.num_rows:
                for count in pc.value_counts(batch.column("event_type")).to_pylist():
                    EVENTS_PROCESSED.labels(count["values"]).inc(count["counts"])
        yield from _slices(seq, batch, self._max_rows)


class _RawUpstream:
    """An upstream ``ledger_close_meta`` stream as :class:`RawLedger` values (bytes taken out once)."""

    def __init__(self, upstream: UpstreamStream, service: ProcessorService) -> None:
        self._upstream = upstream
        self._service = service

    @property
    def reconnects(self) -> int:
        return self._upstream.reconnects

    def __iter__(self) -> Iterator[RawLedger]:
        try:
            for ledger in self._upstream:
                yield RawLedger(ledger.ledger_sequence, _lcm_bytes(ledger.batches))
        finally:
            self._service.count_reconnects(self._upstream.reconnects)

    def close(self) -> None:
        self._upstream.close()


def _lcm_bytes(batches: tuple[pa.RecordBatch, ...]) -> bytes:
    rows = [b.column("ledger_close_meta") for b in batches]
    values = [v for col in rows for v in col.to_pylist()]
    if len(values) != 1 or not isinstance(values[0], bytes):
        msg = f"expected exactly one ledger_close_meta row per ledger from the source, got {len(values)}"
        raise UpstreamError(msg)
    return values[0]


def _slices(seq: int, batch: pa.RecordBatch, max_rows: int) -> Iterator[LedgerBatch]:
    if batch.num_rows <= max_rows:
        yield LedgerBatch(seq, batch)
        return
    for offset in range(0, batch.num_rows, max_rows):
        yield LedgerBatch(seq, batch.slice(offset, max_rows), complete=offset + max_rows >= batch.num_rows)
