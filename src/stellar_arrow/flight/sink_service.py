"""The sink service (default port 8817): consumes the pipeline's streams, commits them, serves the result.

A background :class:`SinkLoop` reads one stream per table (``token_transfers`` from the processor;
``ledgers``/``transactions``/``operations`` from the source) ledger by ledger, in lock step, writes
each complete ledger to a :class:`~stellar_arrow.sink.Sink` (``write_batch``, ``advance``, ``commit``)
and asks it where to resume (``snapshot()``: the next ledger to write). The file sink commits files and
checkpoint atomically; on (re)start the loop resumes every stream at the sink's snapshot, and rows at or
below the last commit are dropped, so each row is written exactly once.

The Flight side serves the committed rows of each table (``do_get`` over a ledger range, with the
ticket's ``filters`` applied to ``token_transfers`` and its ``where`` to the other tables, exactly as the
processor applies them) and the
``status`` action: checkpoint, rows written, whether a bounded run is done. A bounded request for ledgers
the sink has not committed (past its checkpoint) or a request starting before the oldest ledger it holds
is refused with a ``FlightServerError`` whose ``extra_info`` is
``{"code": "out_of_range", "field": ..., "first_ledger": ..., "last_ledger": ...}``; one spanning more
than ``max_ledgers_per_request`` ledgers with ``{"code": "invalid_argument", ...}``. Rows are streamed from
the committed files in ledger windows and batches of at most ``read_batch_rows``, the filters pushed down
into the scan (:mod:`stellar_arrow.sink.scan`): no request holds its range in memory.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.flight as fl

from stellar_arrow.build import StreamCancelled
from stellar_arrow.errors import SinkError, StellarArrowError, TransientError
from stellar_arrow.flight.service import LedgerFlightServer
from stellar_arrow.flight.stream import Cancellation, LedgerBatch, StreamSpec
from stellar_arrow.flight.tickets import StreamRequest
from stellar_arrow.flight.upstream import UpstreamLedger, UpstreamStream
from stellar_arrow.observability.metrics import LEDGERS_IN_FLIGHT
from stellar_arrow.security.flight import FlightClientSecurity, FlightSecurity
from stellar_arrow.sink import ReadableSink, Sink, ledger_column, read_commits
from stellar_arrow.sink.scan import ledger_windows, scan_window

__all__ = ["SinkLoop", "SinkService", "TableUpstream"]

log = logging.getLogger(__name__)

#: Rows per ledger window of a sink stream (a complete watermark follows each window).
_WINDOW_ROWS = 50_000


@dataclass(frozen=True, slots=True)
class TableUpstream:
    """Where the sink reads one table from."""

    table: str
    endpoint: str


class SinkLoop:
    """Moves ledgers from the upstream streams into ``sink`` until the range ends or :meth:`stop`."""

    def __init__(
        self,
        sink: Sink,
        upstreams: tuple[TableUpstream, ...],
        *,
        start_ledger: int | None,
        end_ledger: int | None,
        live: bool,
        reconnect_timeout_s: float = 60.0,
        on_ledger: Callable[[int], None] | None = None,
        resolve_end: Callable[[], int] | None = None,
        client: FlightClientSecurity | None = None,
    ) -> None:
        self.sink = sink
        self.client = client
        self._resolve_end = resolve_end
        self.upstreams = upstreams
        self.start_ledger = start_ledger
        self.end_ledger = end_ledger
        self.live = live
        self._reconnect_timeout_s = reconnect_timeout_s
        self._on_ledger = on_ledger
        self.stop_event = threading.Event()
        self.done = threading.Event()
        self.error: str | None = None
        self.failed = False
        self.last_ledger: int | None = None
        self._streams: list[UpstreamStream] = []
        self._flushing_done = threading.Event()

    def stop(self) -> None:
        self.stop_event.set()
        for stream in list(self._streams):
            stream.close()

    def run(self) -> None:
        """Run until done, stopped or a terminal error (transient failures restart from the checkpoint)."""
        flusher = threading.Thread(target=self._flush_on_time, name="sink-flush", daemon=True)
        flusher.start()
        try:
            self._run_until_done()
        finally:
            self._flushing_done.set()
            flusher.join(timeout=10)

    def _flush_on_time(self) -> None:
        """Commit buffered rows once ``flush_interval_s`` passed, even when no further ledger arrives."""
        interval = min(max(self.sink.flush_interval_s / 2, 0.05), 1.0)
        while not self._flushing_done.wait(interval):
            try:
                self.sink.flush_if_due()
            except StellarArrowError as exc:  # the loop's own commit reports it again; keep trying
                log.warning("sink: timed flush failed: %s", exc)
            self._note_in_flight()

    def _note_in_flight(self) -> None:
        """``ledgers_in_flight{stage="sink"}``: ledgers received but not committed yet."""
        if self.last_ledger is None:
            return
        next_ledger = self.sink.snapshot()
        committed = (
            next_ledger - 1 if next_ledger is not None else (self.start_ledger or self.last_ledger) - 1
        )
        LEDGERS_IN_FLIGHT.labels("sink").set(max(0, self.last_ledger - committed))

    def _run_until_done(self) -> None:
        while not self.stop_event.is_set():
            try:
                self._run_once()
                if not self.stop_event.is_set():
                    self.done.set()
                return
            except StreamCancelled:
                return
            except StellarArrowError as exc:
                self.error = str(exc)
                if not isinstance(exc, TransientError):
                    log.error("sink stopped: %s", exc)
                    self.failed = True
                    return
                log.warning("sink: %s; restarting from the checkpoint", exc)
                self.stop_event.wait(1.0)

    def _run_once(self) -> None:
        next_ledger = self.sink.snapshot()
        resume_after = next_ledger - 1 if next_ledger is not None else None
        end = self.end_ledger
        if end is None and not self.live and self._resolve_end is not None:
            end = self._resolve_end()  # a bounded run without end_ledger: the source's tip, fixed once
            self.end_ledger = end
        if end is not None and resume_after is not None and resume_after >= end:
            return
        cancel = Cancellation(self.stop_event)
        self._streams = [
            UpstreamStream(
                u.endpoint,
                StreamRequest(
                    u.table,
                    start_ledger=self.start_ledger,
                    end_ledger=end,
                    live=self.live,
                    resume_after=resume_after,
                ),
                cancel,
                reconnect_timeout_s=self._reconnect_timeout_s,
                client=self.client,
            )
            for u in self.upstreams
        ]
        iterators: list[Iterator[UpstreamLedger]] = [iter(s) for s in self._streams]
        last = resume_after
        while True:
            received: list[UpstreamLedger] = []
            ended: list[str] = []
            for upstream, it in zip(self.upstreams, iterators, strict=True):
                item = next(it, None)
                if item is None:
                    ended.append(upstream.table)
                else:
                    received.append(item)
            if ended:
                if received:
                    msg = (
                        f"streams ended unevenly after ledger {last}: {ended} ended while "
                        f"{[u.table for u in self.upstreams if u.table not in ended]} continued"
                    )
                    raise SinkError(msg, ledger_sequence=last)
                break
            sequences = {r.ledger_sequence for r in received}
            if len(sequences) != 1:
                msg = f"upstream streams are out of step: ledgers {sorted(sequences)} arrived together"
                raise SinkError(msg, ledger_sequence=min(sequences))
            seq = sequences.pop()
            for upstream, ledger in zip(self.upstreams, received, strict=True):
                for batch in ledger.batches:
                    self.sink.write_batch(upstream.table, batch)
            self.sink.advance(seq)
            last = self.last_ledger = seq
            self._note_in_flight()
            if self._on_ledger is not None:
                self._on_ledger(seq)
        if last is not None and not self.stop_event.is_set():
            self.sink.commit()
            self._note_in_flight()


class SinkService(LedgerFlightServer):
    """Runs a :class:`SinkLoop` in a thread and serves the committed tables of ``sink`` (via its reader)."""

    service_name = "sink"

    def __init__(
        self,
        sink: ReadableSink,
        upstreams: tuple[TableUpstream, ...],
        *,
        start_ledger: int | None = None,
        end_ledger: int | None = None,
        live: bool = False,
        reconnect_timeout_s: float = 60.0,
        resolve_end: Callable[[], int] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        security: FlightSecurity | None = None,
        client: FlightClientSecurity | None = None,
        max_ledgers_per_request: int = 100_000,
        read_batch_rows: int = 8192,
    ) -> None:
        self.sink = sink
        self.reader = sink.reader()
        self.max_ledgers_per_request = max_ledgers_per_request
        self.read_batch_rows = read_batch_rows
        streams = {
            name: StreamSpec(
                name, self.reader.view(name).schema, f"committed rows of {name}", self._committed
            )
            for name in self.reader.tables()
        }
        super().__init__(streams, host=host, port=port, security=security)
        self.loop = SinkLoop(
            sink,
            upstreams,
            start_ledger=start_ledger,
            end_ledger=end_ledger,
            live=live,
            reconnect_timeout_s=reconnect_timeout_s,
            on_ledger=self.note_ledger,
            resolve_end=resolve_end,
            client=client,
        )
        self._thread = threading.Thread(target=self._run, name="sink-loop", daemon=True)
        self._commits = threading.Condition()
        self._oldest: int | None = start_ledger

    def held_range(self) -> tuple[int | None, int | None]:
        """``(oldest, newest)`` ledgers the sink holds: first ledger and checkpoint (``None``: unknown).

        The oldest is the loop's ``start_ledger`` when set, else the first ledger of the commit log.
        """
        next_ledger = self.sink.snapshot()
        newest = next_ledger - 1 if next_ledger is not None else None
        if self._oldest is None and newest is not None:  # a sink with a commit log on disk knows its first
            commits = read_commits(Path(self.sink.location))
            self._oldest = min((r.first_ledger for r in commits if r.first_ledger is not None), default=None)
        return self._oldest, newest

    def start(self) -> None:
        self._thread.start()

    def _run(self) -> None:
        try:
            self.loop.run()
        finally:
            with self._commits:
                self._commits.notify_all()

    def stop(self) -> None:
        """Stop the loop and the server, then commit every complete ledger still buffered."""
        self.loop.stop()
        super().stop()
        self.close()

    def close(self) -> None:
        """Commit what is complete (after the loop stopped) and refuse further writes."""
        self.loop.stop()
        if self._thread.ident is not None:
            self._thread.join(timeout=10)
        self.sink.close()

    def status(self) -> dict[str, object]:
        body = super().status()
        next_ledger = self.sink.snapshot()
        body.update(
            checkpoint=None if next_ledger is None else next_ledger - 1,
            end_ledger=self.loop.end_ledger,
            done=self.loop.done.is_set(),
            failed=self.loop.failed,
            error=self.loop.error,
            output_dir=self.sink.location,
            upstreams={u.table: u.endpoint for u in self.loop.upstreams},
        )
        stats = self.reader.stats()
        if stats is not None:
            body.update(
                rows_written=dict(stats.rows_written),
                rows_buffered=stats.rows_buffered,
                commits=stats.commits,
            )
        return body

    def _check_range(self, request: StreamRequest) -> None:
        """Refuse a range the sink does not hold (see the module docstring), naming both ranges."""
        oldest, newest = self.held_range()
        held = "no committed ledger" if newest is None else f"ledgers {oldest or '?'}-{newest}"
        first, end = request.first_ledger, request.end_ledger
        problem: tuple[str, str] | None = None
        if first is not None and oldest is not None and first < oldest:
            problem = "start_ledger", f"ledger {first} is before the oldest ledger {oldest} the sink holds"
        elif not request.live and newest is None:
            problem = "start_ledger", "the sink has committed no ledger yet (ask again later, or use live)"
        elif not request.live and newest is not None:
            if first is not None and first > newest:
                problem = "start_ledger", f"ledger {first} is past the sink's last committed ledger {newest}"
            elif end is not None and end > newest:
                problem = "end_ledger", f"ledger {end} is past the sink's last committed ledger {newest}"
        wanted = f"{first or '?'}-{end if end is not None else ('live' if request.live else 'tip')}"
        if problem is not None:
            field, why = problem
            info = {"code": "out_of_range", "field": field, "first_ledger": oldest, "last_ledger": newest}
            msg = f"sink/{request.stream}: ledgers {wanted} are out of range: {why} (it holds {held})"
            raise fl.FlightServerError(msg, json.dumps(info).encode())
        low = first if first is not None else oldest
        high = end if end is not None else newest
        if low is None or high is None or high - low + 1 <= self.max_ledgers_per_request:
            return
        limit = self.max_ledgers_per_request
        field = "end_ledger" if end is not None else "start_ledger"
        bad = {"code": "invalid_argument", "field": field, "max_ledgers_per_request": limit}
        msg = (
            f"invalid request to sink/{request.stream}: ledgers {wanted} span {high - low + 1} ledgers "
            f"(it holds {held}); one request may read at most {limit} (sink.max_ledgers_per_request): "
            "ask in pieces"
        )
        raise fl.FlightServerError(msg, json.dumps(bad).encode())

    def _committed(self, request: StreamRequest, cancel: Cancellation) -> Iterator[LedgerBatch]:
        """Committed rows in ``[first, end]`` passing the ticket's filters; live requests follow commits.

        Streamed: each round reads the files committed since the last one in ledger windows (one commit,
        or a slice of a big one) through a dataset scanner with the range and the filters pushed down,
        in batches of at most ``read_batch_rows``; after each window a complete watermark at its last
        ledger. Nothing holds more than one row group and one batch of a file.
        """
        self._check_range(request)
        schema = self.reader.view(request.stream).schema
        column = ledger_column(schema)
        where = request.expression(schema)  # filters (token_transfers) or where (other tables)
        sent = request.first_ledger - 1 if request.first_ledger is not None else 0
        seen: set[Path] = set()
        while True:
            view = self.reader.view(request.stream)  # the view first: its files are all <= the checkpoint
            next_ledger = self.sink.snapshot()
            through = next_ledger - 1 if next_ledger is not None else 0
            if request.end_ledger is not None:
                through = min(through, request.end_ledger)
            if through > sent:
                fresh = [path for path in view.files if path not in seen]
                yield from self._read_files(fresh, schema, column, where, sent, through)
                seen.update(fresh)
                yield LedgerBatch(through, _empty(schema))
                sent = through
            bounded_done = request.end_ledger is None or sent >= request.end_ledger or self.loop.done.is_set()
            if not request.live and bounded_done:
                return
            if cancel.wait(0.25):
                raise StreamCancelled

    def _read_files(
        self,
        files: list[Path],
        schema: pa.Schema,
        column: str | None,
        where: pc.Expression | None,
        after: int,
        through: int,
    ) -> Iterator[LedgerBatch]:
        if column is None:  # a table without ledgers: every row, once
            rows = ds.dataset([str(p) for p in files], schema=schema, format="parquet")
            for batch in rows.to_batches(filter=where, batch_size=self.read_batch_rows, use_threads=False):
                if batch.num_rows:
                    yield LedgerBatch(through, batch, complete=False)
            return
        windows = ledger_windows(files, column, max_rows=_WINDOW_ROWS, after=after, through=through)
        for window in windows:
            for batch in scan_window(window, schema, column, where=where, batch_rows=self.read_batch_rows):
                if batch.num_rows:
                    yield LedgerBatch(window.last, batch, complete=False)
            if window.last < through:
                yield LedgerBatch(window.last, _empty(schema))


def _empty(schema: pa.Schema) -> pa.RecordBatch:
    return pa.RecordBatch.from_pylist([], schema=schema)
