from __future__ import annotations

import threading
import time

import pytest

from stellar_arrow.errors import ConfigError
from stellar_arrow.source.prefetch import NotYetAvailable, OrderedPrefetcher


def test_delivers_in_order_when_completions_are_out_of_order() -> None:
    finished: list[int] = []
    lock = threading.Lock()

    def fetch(key: int) -> int:
        time.sleep(0.002 * (10 - key % 10))  # later keys finish first
        with lock:
            finished.append(key)
        return key * key

    out = list(OrderedPrefetcher(fetch, range(30), workers=6, buffer_size=10, poll_interval=0.01))
    assert out == [(k, k * k) for k in range(30)]
    assert finished != sorted(finished)  # the pool really completed them out of order


def test_buffer_bounds_the_work_in_flight() -> None:
    started: list[int] = []
    gate = threading.Event()

    def fetch(key: int) -> int:
        started.append(key)
        gate.wait(5)
        return key

    it = iter(OrderedPrefetcher(fetch, range(100), workers=4, buffer_size=8, poll_interval=0.01))
    time.sleep(0.1)
    assert len(started) == 0  # nothing runs until iteration starts (lazy generator)
    gate.set()
    first = next(it)
    assert first == (0, 0)
    assert max(started) <= 8  # at most buffer_size + the one just consumed were ever requested
    rest = list(it)
    assert [k for k, _ in rest] == list(range(1, 100))


def test_not_yet_available_polls_the_head_until_it_appears() -> None:
    available = {0, 1}
    calls: dict[int, int] = {}

    def fetch(key: int) -> int:
        calls[key] = calls.get(key, 0) + 1
        if key not in available:
            raise NotYetAvailable(str(key))
        return key

    prefetcher = OrderedPrefetcher(fetch, range(1000), workers=2, buffer_size=4, poll_interval=0.02)
    got: list[int] = []
    for key, _ in prefetcher:
        got.append(key)
        if key == 1:
            threading.Timer(0.15, available.add, args=(2,)).start()
        if key == 2:
            prefetcher.stop()
    assert got == [0, 1, 2]
    assert calls[2] >= 3  # polled several times while missing, never an error


def test_errors_are_delivered_in_order_and_stop_the_iteration() -> None:
    def fetch(key: int) -> int:
        if key == 3:
            raise ValueError("boom at 3")
        return key

    got: list[int] = []
    with pytest.raises(ValueError, match="boom at 3"):
        for key, _ in OrderedPrefetcher(fetch, range(10), workers=3, buffer_size=5, poll_interval=0.01):
            got.append(key)
    assert got == [0, 1, 2]


def test_invalid_settings() -> None:
    with pytest.raises(ConfigError, match="workers"):
        OrderedPrefetcher(lambda k: k, [], workers=0, buffer_size=1, poll_interval=1)
    with pytest.raises(ConfigError, match="buffer_size"):
        OrderedPrefetcher(lambda k: k, [], workers=4, buffer_size=2, poll_interval=1)
    with pytest.raises(ConfigError, match="poll_interval"):
        OrderedPrefetcher(lambda k: k, [], workers=1, buffer_size=1, poll_interval=0)


def test_a_hole_behind_existing_items_is_reported_after_the_gap_timeout() -> None:
    present = {0, 1, 3, 4}  # 2 never arrives, but 3 and 4 exist: a hole, not the tip

    def fetch(key: int) -> int:
        if key not in present:
            raise NotYetAvailable(str(key))
        return key

    got: list[int] = []
    prefetcher = OrderedPrefetcher(
        fetch,
        range(10),
        workers=2,
        buffer_size=4,
        poll_interval=0.02,
        gap_timeout=0.15,
        on_gap=lambda key: LookupError(f"hole at {key}"),
    )
    started = time.monotonic()
    with pytest.raises(LookupError, match="hole at 2"):
        for key, _ in prefetcher:
            got.append(key)
    assert got == [0, 1]
    assert time.monotonic() - started >= 0.15


def test_the_tip_is_not_a_hole() -> None:
    def fetch(key: int) -> int:
        if key >= 2:
            raise NotYetAvailable(str(key))
        return key

    prefetcher = OrderedPrefetcher(
        fetch,
        range(10),
        workers=2,
        buffer_size=4,
        poll_interval=0.02,
        gap_timeout=0.05,
        on_gap=lambda key: LookupError(f"hole at {key}"),
    )
    threading.Timer(0.4, prefetcher.stop).start()
    assert [key for key, _ in prefetcher] == [0, 1]  # waited at the tip until stopped, no error
