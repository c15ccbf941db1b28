"""The unit every stellar-arrow Flight stream is made of: one ledger's rows, plus a watermark.

Every stream (``ledger_close_meta``, ``ledgers``, ``transactions``, ``operations``,
``token_transfers``) is a sequence of :class:`LedgerBatch` in ascending ledger order. Each Flight
message carries JSON ``app_metadata`` ``{"v": 1, "ledger_sequence": N, "complete": true|false}``:
``complete`` means every row of every ledger up to ``N`` has now been sent. Source and processor
streams send exactly one complete message per ledger (a 0-row batch when a ledger has no rows), so a
consumer can follow progress even through empty ledgers, and can zip several streams ledger by ledger.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pyarrow as pa

from stellar_arrow.flight.tickets import StreamRequest
from stellar_arrow.observability.metrics import LEDGERS_IN_FLIGHT

__all__ = [
    "LEDGER_CLOSE_META_SCHEMA",
    "Cancellation",
    "InFlight",
    "LedgerBatch",
    "StreamOpener",
    "StreamSpec",
    "Watermark",
    "decode_watermark",
    "encode_watermark",
]

#: The internal stream that carries raw ``LedgerCloseMeta`` XDR from the source to the processor.
LEDGER_CLOSE_META_SCHEMA = pa.schema(
    [
        pa.field("ledger_sequence", pa.uint32(), nullable=False),
        pa.field("ledger_close_meta", pa.binary(), nullable=False),
    ],
    metadata={b"description": b"raw LedgerCloseMeta XDR, one row per ledger"},
)


@dataclass(frozen=True, slots=True)
class Watermark:
    """Progress carried by a Flight message: rows up to ``ledger_sequence`` are all sent if ``complete``."""

    ledger_sequence: int
    complete: bool


def encode_watermark(mark: Watermark) -> bytes:
    return json.dumps({"v": 1, "ledger_sequence": mark.ledger_sequence, "complete": mark.complete}).encode()


def decode_watermark(raw: bytes | None) -> Watermark | None:
    """The watermark of a received message, or ``None`` if it carries no stellar-arrow metadata."""
    if not raw:
        return None
    try:
        doc = json.loads(raw)
        return Watermark(int(doc["ledger_sequence"]), bool(doc["complete"]))
    except (ValueError, KeyError, TypeError):
        return None


@dataclass(frozen=True, slots=True)
class LedgerBatch:
    """Rows of one ledger (possibly zero); ``complete`` is False on all but the ledger's last batch."""

    ledger_sequence: int
    batch: pa.RecordBatch
    complete: bool = True


class Cancellation:
    """Why a stream should stop: the client went away, the stream ended, or the server is stopping.

    Background threads (feeders, upstream readers) see only events. The gRPC call context is polled
    only by the thread that is currently producing the stream's next message (between
    :meth:`enter` and :meth:`leave`), because the context is freed when the call ends and touching
    it from another thread afterwards crashes the process.
    """

    def __init__(self, server_stop: threading.Event, client_cancelled: Callable[[], bool] | None = None):
        self._stop = server_stop
        self._poll = client_cancelled
        self._cancelled = threading.Event()
        self._owner: int | None = None

    def enter(self) -> None:
        """The calling thread is producing a message: the call is alive, polling is safe."""
        self._owner = threading.get_ident()

    def leave(self) -> None:
        self._owner = None

    def finish(self) -> None:
        """The stream is over: every helper thread must stop."""
        self._owner = None
        self._cancelled.set()

    @property
    def is_set(self) -> bool:
        if self._stop.is_set() or self._cancelled.is_set():
            return True
        if self._poll is not None and self._owner == threading.get_ident() and self._poll():
            self._cancelled.set()
            return True
        return False

    def wait(self, timeout: float) -> bool:
        """Sleep up to ``timeout`` seconds; True as soon as the stream should stop."""
        deadline = time.monotonic() + timeout
        while not self.is_set:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            self._stop.wait(min(remaining, 0.1))
        return True


class InFlight:
    """One stream's ledgers read (from a lake, an RPC node or an upstream) but not yet sent to its client.

    Adds to the process gauge ``ledgers_in_flight{stage}``; :meth:`close` takes back what is left.
    """

    def __init__(self, stage: str) -> None:
        self._gauge = LEDGERS_IN_FLIGHT.labels(stage)
        self._count = 0
        self._closed = False
        self._lock = threading.Lock()

    def read(self) -> None:
        with self._lock:
            if self._closed:  # a producer thread still reading after the stream ended
                return
            self._count += 1
            self._gauge.inc()

    def sent(self) -> None:
        with self._lock:
            if self._count > 0:
                self._count -= 1
                self._gauge.dec()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            self._gauge.dec(self._count)
            self._count = 0


StreamOpener = Callable[[StreamRequest, Cancellation], Iterator[LedgerBatch]]


@dataclass(frozen=True, slots=True)
class StreamSpec:
    """One stream a service serves: its name, Arrow schema, description and how to open it."""

    name: str
    schema: pa.Schema
    description: str
    open: StreamOpener
