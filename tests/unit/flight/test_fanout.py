"""The raw-ledger fan-out on its own: bounded read-ahead, late joiners, leaving, errors."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stellar_arrow.errors import LedgerMissingError
from stellar_arrow.flight.fanout import FanoutRegistry, RawFanout
from stellar_arrow.flight.stream import Cancellation
from stellar_arrow.source.base import RawLedger
from stellar_arrow.source.lake import DataLakeLedgerSource

FIRST, LAST = 63092982, 63093001


@pytest.fixture(scope="module")
def ledgers(data_dir: Path) -> list[RawLedger]:
    with DataLakeLedgerSource(str(data_dir / "lakes" / "pubnet-p26")) as lake:
        return list(lake.ledgers(FIRST, LAST))


class _Upstream:
    """The sample lake's ledgers, counting how many were pulled; fails after ``fail_after`` if set."""

    def __init__(
        self, ledgers: list[RawLedger], fail_after: int | None = None, gate: threading.Event | None = None
    ) -> None:
        self.ledgers, self.fail_after, self.gate = ledgers, fail_after, gate
        self.pulled, self.reconnects = 0, 0
        self.closed = False

    def __iter__(self) -> Iterator[RawLedger]:
        if self.gate is not None:  # opened, but nothing arrives before the gate opens
            assert self.gate.wait(10)
        for raw in self.ledgers:
            if self.fail_after is not None and self.pulled == self.fail_after:
                raise LedgerMissingError("ledger missing from the lake", ledger_sequence=raw.ledger_sequence)
            self.pulled += 1
            yield raw

    def close(self) -> None:
        self.closed = True


def _never() -> Cancellation:
    return Cancellation(threading.Event())


def test_the_reader_stays_within_max_ahead_of_the_slowest(ledgers: list[RawLedger]) -> None:
    upstream = _Upstream(ledgers)
    fanout = RawFanout(lambda _: upstream, threading.Event(), max_ahead=3, keep=2)
    fast, slow = fanout.join(), fanout.join()
    assert fast is not None and slow is not None
    got = [r.ledger_sequence for r in itertools.islice(fanout.ledgers(fast, _never()), 3)]
    assert got == [FIRST, FIRST + 1, FIRST + 2]
    time.sleep(0.3)  # the reader would run on here if nothing held it back
    assert upstream.pulled <= 3 + 1  # the slow one took nothing: max_ahead buffered, one more in hand
    fanout.leave(fast)  # (a subscriber that stops taking holds the others back until it leaves)
    slow_seqs = [r.ledger_sequence for r in fanout.ledgers(slow, _never())]
    assert slow_seqs == list(range(FIRST, LAST + 1))  # nothing dropped for the slow one
    fanout.leave(slow)
    assert upstream.closed


def test_a_late_joiner_gets_its_own_fanout_and_an_error_reaches_everyone(ledgers: list[RawLedger]) -> None:
    registry = FanoutRegistry(threading.Event(), max_ahead=2, keep=2)
    upstream = _Upstream(ledgers)
    first, a = registry.subscribe(("k",), lambda _: upstream)
    same, b = registry.subscribe(("k",), lambda _: _Upstream(ledgers))
    assert same is first  # joined: nothing taken yet
    for _ in zip(range(6), first.ledgers(a, _never()), first.ledgers(b, _never()), strict=False):
        pass
    late, c = registry.subscribe(("k",), lambda _: _Upstream(ledgers))
    assert late is not first  # its first ledger is gone: a fan-out of its own
    assert [r.ledger_sequence for r in late.ledgers(c, _never())] == list(range(FIRST, LAST + 1))
    gate = threading.Event()
    failing = RawFanout(lambda _: _Upstream(ledgers, 4, gate), threading.Event(), max_ahead=32)
    x, y = failing.join(), failing.join()
    assert x is not None and y is not None
    gate.set()
    for sid in (x, y):
        seen: list[int] = []
        with pytest.raises(LedgerMissingError):
            seen.extend(r.ledger_sequence for r in failing.ledgers(sid, _never()))
        assert seen == list(range(FIRST, FIRST + 4))  # what was read before the error, then the error
