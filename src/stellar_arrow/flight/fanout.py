"""One upstream ``ledger_close_meta`` stream shared by the processor streams that ask for it together.

A sink opens one processor stream per table (``ledgers``, ``transactions``, ``operations``,
``token_transfers``) for the same range at the same moment. Each used to open its own stream on the
source, so every ledger was read from the lake and crossed loopback once per table. A
:class:`RawFanout` reads the upstream once in a thread and hands each ledger's bytes to every
subscriber; the processor's pool already shares the decode by ledger sequence.

Rules, all bounded:

* Streams share an upstream only when they make the same upstream request (range, live, resume
  cursor) while the fan-out still holds its first ledger: it keeps the last ``keep`` ledgers every
  subscriber has taken, so a stream that comes later than that opens its own.
* The reader runs at most ``max_ahead`` ledgers ahead of the slowest subscriber (as one stream's own
  upstream feed did; nothing is dropped), so at most ``keep + max_ahead`` raw ledgers are held.
* A subscriber that stops (client gone, server stopping) leaves; the upstream is closed when the last
  one leaves. An upstream error is raised in every subscriber.
"""

from __future__ import annotations

import itertools
import threading
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

from stellar_arrow.build.feed import SLICE_S, StopSignal, StreamCancelled
from stellar_arrow.flight.stream import Cancellation
from stellar_arrow.source.base import RawLedger

__all__ = ["FanoutRegistry", "RawFanout", "RawUpstream"]


class RawUpstream(Protocol):
    """An upstream of raw ledgers that reconnects on its own (``reconnects`` counts how often)."""

    @property
    def reconnects(self) -> int: ...
    def __iter__(self) -> Iterator[RawLedger]: ...
    def close(self) -> None: ...


Opener = Callable[[Cancellation], RawUpstream]
"""Opens the upstream, stopped by the given cancellation."""


class RawFanout:
    """Reads one upstream in a thread; every subscriber iterates all of its ledgers in order."""

    def __init__(
        self, opener: Opener, server_stop: threading.Event, *, max_ahead: int = 2, keep: int = 8
    ) -> None:
        self._opener = opener
        self._max_ahead = max(1, max_ahead)
        self._keep = max(1, keep)
        self._cond = threading.Condition()
        self._items: deque[RawLedger] = deque()
        self._base = 0  # index of _items[0]
        self._positions: dict[int, int] = {}  # subscriber -> index of its next ledger
        self._ids = itertools.count()
        self._done = False
        self._error: BaseException | None = None
        self._stop = threading.Event()
        self._cancel = Cancellation(server_stop)
        self._upstream: RawUpstream | None = None
        self._started = False
        self.reconnects = 0
        self._thread = threading.Thread(target=self._read, name="stellar-arrow-fanout", daemon=True)

    # ------------------------------------------------------------------ subscribers
    def join(self) -> int | None:
        """A new subscriber's id, or None when this fan-out no longer holds its first ledger."""
        with self._cond:
            if self._base != 0 or self._stop.is_set() or self._error is not None:
                return None
            sid = next(self._ids)
            self._positions[sid] = 0
            start, self._started = not self._started, True
        if start:
            self._thread.start()
        return sid

    def ledgers(self, sid: int, cancel: StopSignal) -> Iterator[RawLedger]:
        """Subscriber ``sid``'s ledgers, in order, until the upstream ends (or raises, or ``cancel``)."""
        while True:
            with self._cond:
                while True:
                    pos = self._positions.get(sid)
                    if pos is None:  # it left (its stream closed): nothing more for it
                        return
                    if pos < self._base + len(self._items):
                        item = self._items[pos - self._base]
                        self._positions[sid] = pos + 1
                        self._cond.notify_all()  # the reader may be waiting for the slowest one
                        break
                    if self._error is not None:
                        raise self._error
                    if self._done:
                        return
                    if cancel.is_set:
                        raise StreamCancelled
                    self._cond.wait(SLICE_S)
            yield item

    def leave(self, sid: int) -> None:
        """Subscriber ``sid`` is done; the upstream closes when no subscriber is left."""
        with self._cond:
            self._positions.pop(sid, None)
            last = not self._positions
            if last:
                self._stop.set()
            self._cond.notify_all()
        if last:
            self._cancel.finish()
            upstream = self._upstream
            if upstream is not None:
                upstream.close()

    @property
    def joinable(self) -> bool:
        with self._cond:
            return self._base == 0 and not self._stop.is_set() and self._error is None

    # ------------------------------------------------------------------ the reader
    def _read(self) -> None:
        try:
            upstream = self._upstream = self._opener(self._cancel)
            if self._stop.is_set():  # every subscriber left while it was opening
                upstream.close()
                return
            for raw in upstream:
                with self._cond:
                    while not self._stop.is_set() and self._behind() >= self._max_ahead:
                        self._cond.wait(SLICE_S)
                    if self._stop.is_set():
                        return
                    self._items.append(raw)
                    self._trim()
                    self._cond.notify_all()
        except BaseException as exc:  # raised again in every subscriber
            with self._cond:
                self._error = exc
        finally:
            with self._cond:
                self._done = True
                self.reconnects = self._upstream.reconnects if self._upstream is not None else 0
                self._cond.notify_all()

    def _behind(self) -> int:
        """How many ledgers the slowest subscriber has still to take."""
        head = self._base + len(self._items)
        return head - min(self._positions.values(), default=head)

    def _trim(self) -> None:
        """Keep at most ``keep`` ledgers every subscriber has taken (for a late joiner), oldest first out."""
        slowest = min(self._positions.values(), default=self._base + len(self._items))
        while len(self._items) > self._keep and self._base < slowest:
            self._items.popleft()
            self._base += 1


class FanoutRegistry:
    """The processor's fan-outs by upstream request; a stream joins a joinable one or starts its own."""

    def __init__(self, server_stop: threading.Event, *, max_ahead: int = 2, keep: int = 8) -> None:
        self._server_stop = server_stop
        self._max_ahead = max_ahead
        self._keep = keep
        self._lock = threading.Lock()
        self._fanouts: dict[tuple[object, ...], RawFanout] = {}

    def subscribe(self, key: tuple[object, ...], opener: Opener) -> tuple[RawFanout, int]:
        """A fan-out for ``key`` (an existing one when it can still be joined) and the subscriber id."""
        with self._lock:
            for old in [k for k, f in self._fanouts.items() if not f.joinable]:
                del self._fanouts[old]
            fanout = self._fanouts.get(key)
            sid = fanout.join() if fanout is not None else None
            if fanout is None or sid is None:
                fanout = RawFanout(opener, self._server_stop, max_ahead=self._max_ahead, keep=self._keep)
                self._fanouts[key] = fanout
                sid = fanout.join()
                assert sid is not None  # a fresh fan-out is always joinable
            return fanout, sid
