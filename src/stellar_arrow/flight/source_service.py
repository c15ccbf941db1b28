"""The source service (default port 8815): ledgers from a lake or RPC node, as Flight streams.

Streams:

* ``ledger_close_meta``: one row per ledger, the raw ``LedgerCloseMeta`` XDR in a binary column.
  This is what the processor consumes: the source never decodes for it, so in ``stellar-arrow run``
  each ledger is decoded once, by the processor (the source stays cheap and serves any number of
  processors).
* ``ledgers``, ``transactions``, ``operations``: the decoded tables for clients that read the source
  directly, built by the injected :class:`TableBuilder` in an
  :class:`~stellar_arrow.build.OrderedPool` (decoded on request only, shared between clients by
  ledger sequence) and checked along the hash chain (:mod:`stellar_arrow.flight.chain`).

Each ``do_get`` opens its own :class:`~stellar_arrow.source.base.LedgerSource` (fan-out: clients never
share a cursor). A request without ``end_ledger`` stops at the source's newest ledger when the stream
starts; ``live`` follows the tip until the client cancels or the server stops.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

import pyarrow as pa

from stellar_arrow.build import LedgerFeed, LedgerTables, OrderedPool
from stellar_arrow.errors import LedgerNotYetAvailableError
from stellar_arrow.flight.chain import StreamChain, header_link, resume_anchor
from stellar_arrow.flight.service import LedgerFlightServer
from stellar_arrow.flight.stream import (
    LEDGER_CLOSE_META_SCHEMA,
    Cancellation,
    InFlight,
    LedgerBatch,
    StreamSpec,
)
from stellar_arrow.flight.tickets import StreamRequest, TicketError
from stellar_arrow.resilience.bulkhead import Bulkhead
from stellar_arrow.security.flight import FlightSecurity
from stellar_arrow.source.base import LedgerSource, RawLedger

__all__ = ["SourceService", "TableBuilder", "table_batch"]


@dataclass(frozen=True, slots=True)
class TableBuilder:
    """Decoded tables of one ledger, ``build(RawLedger) -> LedgerTables``, and their ``schemas``.

    ``build`` must be picklable (a module-level function or a ``functools.partial`` of one, such as
    ``functools.partial(stellar_arrow.build.build_ledger_tables, options)``) so it can run in worker
    processes.
    """

    schemas: Mapping[str, pa.Schema]
    build: Callable[[RawLedger], LedgerTables]


def table_batch(tables: LedgerTables, table: str, schema: pa.Schema) -> pa.RecordBatch:
    """The rows of ``table`` in one ledger's result (a 0-row batch if the builder made none)."""
    batch = tables.batches.get(table)
    return batch if batch is not None else pa.RecordBatch.from_pylist([], schema=schema)


_DESCRIPTIONS = {
    "ledger_close_meta": "raw LedgerCloseMeta XDR, one row per ledger (input of the processor)",
    "ledgers": "one row per ledger (header, counts, fees)",
    "transactions": "one row per transaction",
    "operations": "one row per operation",
}


class SourceService(LedgerFlightServer):
    """Serves ledgers read through ``open_source()`` (one :class:`LedgerSource` per stream)."""

    service_name = "source"

    def __init__(
        self,
        open_source: Callable[[], LedgerSource],
        *,
        first_ledger: int | None = None,
        tables: TableBuilder | None = None,
        workers: int = 0,
        buffer_size: int = 16,
        in_flight: int = 2,
        cache_ledgers: int = 64,
        host: str = "127.0.0.1",
        port: int = 0,
        security: FlightSecurity | None = None,
        decoders: Bulkhead | None = None,
    ) -> None:
        self._open_source = open_source
        self._first_ledger = first_ledger
        self._buffer_size = buffer_size
        self._in_flight = in_flight
        self._tables = tables
        self._work: OrderedPool[RawLedger, LedgerTables] | None = None
        if tables is not None:
            self._work = OrderedPool(
                tables.build, workers=workers, cache_ledgers=cache_ledgers, decoders=decoders
            )
        streams = {
            "ledger_close_meta": StreamSpec(
                "ledger_close_meta", LEDGER_CLOSE_META_SCHEMA, _DESCRIPTIONS["ledger_close_meta"], self._raw
            )
        }
        if tables is not None:
            for name, schema in tables.schemas.items():
                streams[name] = StreamSpec(name, schema, _DESCRIPTIONS.get(name, name), self._decoded)
        super().__init__(streams, host=host, port=port, security=security)
        self._latest: int | None = None

    def default_request(self, stream: str) -> StreamRequest:
        return StreamRequest(stream=stream, start_ledger=self._first_ledger)

    def total_records(self, request: StreamRequest) -> int:
        """One row per ledger for ``ledger_close_meta`` and ``ledgers`` (bounded requests), else -1."""
        first = request.first_ledger if request.first_ledger is not None else self._first_ledger
        if request.stream not in ("ledger_close_meta", "ledgers") or first is None or request.live:
            return -1
        end = request.end_ledger
        if end is None:
            source = self._open_source()
            try:
                end = source.latest_ledger()
            except LedgerNotYetAvailableError:
                return 0
            finally:
                source.close()
        return max(0, end - first + 1)

    def status(self) -> dict[str, object]:
        body = super().status()
        body["first_ledger"] = self._first_ledger
        body["latest_ledger"] = self._latest
        body["tables"] = sorted(self._tables.schemas) if self._tables else []
        body["ledgers_decoded"] = self._work.computed if self._work else 0
        return body

    def extra_actions(self) -> dict[str, tuple[str, Callable[[], dict[str, object]]]]:
        return {"latest_ledger": ("the newest ledger the source can serve now, as JSON", self._latest_ledger)}

    def _latest_ledger(self) -> dict[str, object]:
        source = self._open_source()
        try:
            latest = source.latest_ledger()
        finally:
            source.close()
        self._latest = max(latest, self._latest or 0)
        return {"service": self.service_name, "latest_ledger": latest, "first_ledger": self._first_ledger}

    # ------------------------------------------------------------------ streams
    def _range(self, request: StreamRequest, source: LedgerSource) -> tuple[int, int | None] | None:
        """``(first, end)`` to read, ``end=None`` for live; ``None`` if nothing is left to send."""
        first = request.first_ledger if request.first_ledger is not None else self._first_ledger
        if first is None:
            msg = f"stream {request.stream!r} needs start_ledger (this source has no default first ledger)"
            raise TicketError(msg, field="start_ledger")
        if request.live:
            return first, None
        end = request.end_ledger
        if end is None:
            try:
                end = source.latest_ledger()
            except LedgerNotYetAvailableError:
                return None
            self._latest = end
        if first > end:
            return None
        return first, end

    def close_workers(self) -> None:
        if self._work is not None:
            self._work.close()

    def _ledgers(
        self,
        request: StreamRequest,
        cancel: Cancellation,
        flight: InFlight,
        *,
        since: int | None = None,
    ) -> Iterator[RawLedger]:
        """The requested ledgers, preceded by ledger ``since`` when it is given (a chain anchor).

        Each ledger counts in ``flight`` from the moment it is read until the caller calls ``sent``.
        """
        source = self._open_source()

        def counted(raw: Iterator[RawLedger]) -> Iterator[tuple[int, bytes]]:
            for r in raw:
                flight.read()
                yield r.ledger_sequence, r.ledger_close_meta

        try:
            span = self._range(request, source)
            if span is None:
                return
            first = span[0] if since is None else min(since, span[0])
            raw = source.ledgers(first, span[1])
            feed = LedgerFeed(
                counted(raw),
                cancel,
                buffer=self._buffer_size,
                name="source",
                on_close=source.stop,
            )
            for seq, lcm in feed:
                if self._latest is None or seq > self._latest:
                    self._latest = seq
                yield RawLedger(seq, lcm)
        finally:
            source.close()

    def _raw(self, request: StreamRequest, cancel: Cancellation) -> Iterator[LedgerBatch]:
        flight = InFlight("source")
        try:
            for seq, lcm in self._ledgers(request, cancel, flight):
                batch = pa.RecordBatch.from_arrays(
                    [pa.array([seq], pa.uint32()), pa.array([lcm], pa.binary())],
                    schema=LEDGER_CLOSE_META_SCHEMA,
                )
                yield LedgerBatch(seq, batch)
                flight.sent()
        finally:
            flight.close()

    def _decoded(self, request: StreamRequest, cancel: Cancellation) -> Iterator[LedgerBatch]:
        assert self._work is not None and self._tables is not None
        schema = self._tables.schemas[request.stream]
        chain = StreamChain()
        anchor = resume_anchor(request)
        cached = self._work.cached(anchor) if anchor is not None else None
        if cached is not None:
            chain.anchor(cached.link)
            anchor = None

        flight = InFlight("source")

        def payloads() -> Iterator[tuple[int, RawLedger]]:
            for ledger in self._ledgers(request, cancel, flight, since=anchor):
                if ledger.ledger_sequence == anchor:  # read only for its hash: not decoded, not sent
                    chain.anchor(header_link(ledger.ledger_close_meta, anchor))
                    flight.sent()
                    continue
                yield ledger.ledger_sequence, ledger

        try:
            for seq, tables in self._work.ordered(payloads(), cancel, in_flight=self._in_flight):
                chain.check(seq, tables)
                yield LedgerBatch(seq, request.keep(table_batch(tables, request.stream, schema)))
                flight.sent()
        finally:
            flight.close()
