"""The processor service (default port 8816): token transfer events derived from the source's ledgers.

For each ``do_get`` of ``token_transfers`` the processor opens its own ``ledger_close_meta`` stream on
the source (same range, live or not, resumed after the client's cursor), derives the events of each
ledger in worker processes (:class:`~stellar_arrow.flight.feed.LedgerWork`, shared between clients by
ledger sequence), applies the service-wide filters of the settings and then the ticket's filters, and
sends one message per ledger (0 rows when a ledger has no matching event) with its watermark. If the
source restarts, the upstream reconnects and continues after the last ledger it received.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Executor

import pyarrow as pa

from stellar_arrow.errors import UpstreamError
from stellar_arrow.flight.feed import LedgerFeed, LedgerWork
from stellar_arrow.flight.service import LedgerFlightServer
from stellar_arrow.flight.stream import Cancellation, LedgerBatch, StreamSpec
from stellar_arrow.flight.tickets import StreamRequest, TransferFilter
from stellar_arrow.flight.upstream import UpstreamStream
from stellar_arrow.security.flight import FlightClientSecurity, FlightSecurity

__all__ = ["ProcessorService", "TransferFilterFn"]

TransferFilterFn = Callable[[pa.RecordBatch, TransferFilter], pa.RecordBatch]
"""Keeps the rows of a ``token_transfers`` batch that pass a filter."""


class ProcessorService(LedgerFlightServer):
    """Serves ``token_transfers`` derived by ``derive(lcm_bytes)`` from the source at ``source_endpoint``."""

    service_name = "processor"

    def __init__(
        self,
        source_endpoint: str,
        derive: Callable[[bytes], pa.RecordBatch],
        schema: pa.Schema,
        *,
        apply_filter: TransferFilterFn,
        base_filter: TransferFilter | None = None,
        executor: Executor | None = None,
        in_flight: int = 2,
        cache_ledgers: int = 256,
        max_batch_rows: int = 65_536,
        reconnect_timeout_s: float = 60.0,
        default_start: int | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        security: FlightSecurity | None = None,
        client: FlightClientSecurity | None = None,
    ) -> None:
        self.source_endpoint = source_endpoint
        self._client = client
        self._schema = schema
        self._apply_filter = apply_filter
        self._base_filter = base_filter or TransferFilter()
        self._work: LedgerWork[bytes, pa.RecordBatch] = LedgerWork(
            derive, executor, cache_ledgers=cache_ledgers
        )
        self._in_flight = in_flight
        self._max_rows = max_batch_rows
        self._reconnect_timeout_s = reconnect_timeout_s
        self._default_start = default_start
        self._events_sent = 0
        self._upstream_reconnects = 0
        spec = StreamSpec(
            "token_transfers",
            schema,
            "token transfer events (transfer, mint, burn, clawback, fee), one message per ledger",
            self._token_transfers,
        )
        super().__init__({"token_transfers": spec}, host=host, port=port, security=security)

    def default_request(self, stream: str) -> StreamRequest:
        return StreamRequest(stream=stream, start_ledger=self._default_start)

    def status(self) -> dict[str, object]:
        body = super().status()
        body["source_endpoint"] = self.source_endpoint
        body["ledgers_derived"] = self._work.computed
        body["events_sent"] = self._events_sent
        body["upstream_reconnects"] = self._upstream_reconnects
        return body

    def _token_transfers(self, request: StreamRequest, cancel: Cancellation) -> Iterator[LedgerBatch]:
        start = request.start_ledger if request.start_ledger is not None else self._default_start
        request = StreamRequest(
            request.stream, start, request.end_ledger, request.live, request.filters, request.resume_after
        )
        cursor = request.resume_after
        for seq, events in self._cached_prefix(request):
            cursor = seq
            yield from self._send(seq, events, request)
        if request.end_ledger is not None and cursor is not None and cursor >= request.end_ledger:
            return
        upstream_request = StreamRequest(
            stream="ledger_close_meta",
            start_ledger=request.start_ledger,
            end_ledger=request.end_ledger,
            live=request.live,
            resume_after=cursor,
        )
        upstream = UpstreamStream(
            self.source_endpoint,
            upstream_request,
            cancel,
            reconnect_timeout_s=self._reconnect_timeout_s,
            client=self._client,
        )
        feed = LedgerFeed(
            ((u.ledger_sequence, _lcm_bytes(u.batches)) for u in upstream),
            cancel,
            buffer=max(2, self._in_flight),
            name="processor-upstream",
            on_close=upstream.close,
        )
        try:
            for seq, events in self._work.ordered(feed, cancel, in_flight=self._in_flight):
                yield from self._send(seq, events, request)
        finally:
            feed.close()
            self._upstream_reconnects += upstream.reconnects

    def _cached_prefix(self, request: StreamRequest) -> Iterator[tuple[int, pa.RecordBatch]]:
        """Already derived ledgers at the start of the request (served without reading the source)."""
        seq = request.first_ledger
        if seq is None:
            return
        while request.end_ledger is None or seq <= request.end_ledger:
            events = self._work.cached(seq)
            if events is None:
                return
            yield seq, events
            seq += 1

    def _send(self, seq: int, events: pa.RecordBatch, request: StreamRequest) -> Iterator[LedgerBatch]:
        if not self._base_filter.is_empty:
            events = self._apply_filter(events, self._base_filter)
        if not request.filters.is_empty:
            events = self._apply_filter(events, request.filters)
        self._events_sent += events.num_rows
        yield from _slices(seq, events, self._max_rows)


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
