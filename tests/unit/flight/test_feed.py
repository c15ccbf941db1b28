"""LedgerFeed and LedgerWork: timed waits, cancellation, ordering, sharing, no held-back results."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest

from stellar_arrow.flight.feed import LedgerFeed, LedgerWork, StreamCancelled
from stellar_arrow.flight.stream import Cancellation


def _blocking(first: list[tuple[int, int]], gate: threading.Event) -> Iterator[tuple[int, int]]:
    yield from first
    gate.wait(10)
    yield (99, 99)


def test_result_is_not_held_back_waiting_for_the_next_input() -> None:
    gate = threading.Event()
    work: LedgerWork[int, int] = LedgerWork(lambda x: x * 10, None)
    out = work.ordered(_blocking([(1, 1)], gate), Cancellation(threading.Event()), in_flight=4)
    started = time.monotonic()
    assert next(out) == (1, 10)  # the tip ledger is delivered while the input is still blocked
    assert time.monotonic() - started < 2
    gate.set()
    assert next(out) == (99, 990)


def test_results_come_in_input_order_from_a_pool() -> None:
    def slow_for_even(x: int) -> int:
        time.sleep(0.05 if x % 2 == 0 else 0.0)
        return x

    with ThreadPoolExecutor(4) as pool:
        work: LedgerWork[int, int] = LedgerWork(slow_for_even, pool)
        got = list(work.ordered(((i, i) for i in range(10)), Cancellation(threading.Event()), in_flight=4))
    assert got == [(i, i) for i in range(10)]


def test_same_ledger_is_computed_once() -> None:
    work: LedgerWork[int, int] = LedgerWork(lambda x: x + 1, None, cache_ledgers=8)
    cancel = Cancellation(threading.Event())
    assert list(work.ordered(((i, i) for i in range(5)), cancel)) == list(
        work.ordered(((i, i) for i in range(5)), cancel)
    )
    assert work.computed == 5


def test_failed_computation_is_not_cached() -> None:
    calls = []

    def flaky(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            raise ValueError("first call fails")
        return x

    work: LedgerWork[int, int] = LedgerWork(flaky, None)
    with pytest.raises(ValueError, match="first call"):
        work.submit(1, 1).result()
    assert work.submit(1, 1).result() == 1


def test_feed_stops_on_server_stop_while_the_producer_blocks() -> None:
    stop = threading.Event()
    gate = threading.Event()
    closed = threading.Event()
    feed = LedgerFeed(_blocking([(1, 1)], gate), Cancellation(stop), on_close=closed.set)
    it = iter(feed)
    assert next(it) == (1, 1)
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(StreamCancelled):
        next(it)
    assert time.monotonic() - started < 1.5
    assert closed.is_set()
    gate.set()


def test_feed_forwards_producer_errors() -> None:
    def broken() -> Iterator[int]:
        yield 1
        raise OSError("disk gone")

    feed = LedgerFeed(broken(), Cancellation(threading.Event()))
    it = iter(feed)
    assert next(it) == 1
    with pytest.raises(OSError, match="disk gone"):
        next(it)
