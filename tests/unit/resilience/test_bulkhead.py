"""Bulkheads: capacity, bounded waits, the typed busy error and bulkhead_rejections_total{name}."""

from __future__ import annotations

import asyncio
import threading
import time

import pytest

from stellar_arrow.errors import BusyError, TransientError
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.resilience import AsyncBulkhead, Bulkhead, bulkhead_for


def _rejections(name: str) -> float:
    return REGISTRY.get_sample_value("bulkhead_rejections_total", {"name": name}) or 0.0


def test_thread_bulkhead_refuses_beyond_capacity_and_counts_it() -> None:
    bulkhead = Bulkhead("test_threads", 2)
    before = _rejections("test_threads")
    with bulkhead.slot(), bulkhead.slot():
        assert bulkhead.in_use == 2
        with pytest.raises(BusyError) as caught:
            bulkhead.acquire()
    err = caught.value
    assert isinstance(err, TransientError)
    assert (err.name, err.capacity, err.retry_after) == ("test_threads", 2, 1.0)
    assert "busy" in str(err) and "test_threads" in str(err)
    assert _rejections("test_threads") == before + 1
    assert bulkhead.in_use == 0 and bulkhead.rejected == 1
    with bulkhead.slot():  # slots come back after use
        pass


def test_thread_bulkhead_waits_a_bounded_time_for_a_slot() -> None:
    bulkhead = Bulkhead("test_wait", 1, max_wait_s=2.0)
    bulkhead.acquire()
    threading.Timer(0.2, bulkhead.release).start()
    started = time.monotonic()
    with bulkhead.slot():  # freed by the timer while waiting
        assert 0.1 < time.monotonic() - started < 1.9
    bulkhead.acquire()
    started = time.monotonic()
    with pytest.raises(BusyError, match=r"within 0\.3s"):
        bulkhead.acquire(max_wait_s=0.3)
    assert 0.25 < time.monotonic() - started < 1.5
    bulkhead.release()


def test_at_most_capacity_threads_run_at_once() -> None:
    bulkhead = Bulkhead("test_many", 3, max_wait_s=10)
    running, peak, lock = 0, 0, threading.Lock()

    def work() -> None:
        nonlocal running, peak
        with bulkhead.slot():
            with lock:
                running += 1
                peak = max(peak, running)
            time.sleep(0.02)
            with lock:
                running -= 1

    threads = [threading.Thread(target=work) for _ in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(10)
    assert peak == 3 and bulkhead.in_use == 0


def test_async_bulkhead_refuses_and_waits() -> None:
    async def scenario() -> None:
        bulkhead = AsyncBulkhead("test_async", 1, max_wait_s=0.0)
        before = _rejections("test_async")
        async with bulkhead.slot():
            with pytest.raises(BusyError):
                await bulkhead.acquire()
            with pytest.raises(BusyError):  # a short wait that runs out
                await bulkhead.acquire(max_wait_s=0.05)
        assert _rejections("test_async") == before + 2
        await bulkhead.acquire()
        asyncio.get_running_loop().call_later(0.05, bulkhead.release)
        await bulkhead.acquire(max_wait_s=2.0)  # freed while waiting
        bulkhead.release()
        assert bulkhead.in_use == 0

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("capacity", "wait"), [(0, 0.0), (-1, 0.0), (True, 0.0), (1, -1.0), (1, float("inf")), (1, float("nan"))]
)
def test_bad_limits_are_refused(capacity: int, wait: float) -> None:
    with pytest.raises(ValueError, match="bad_limits"):
        Bulkhead("bad_limits", capacity, max_wait_s=wait)
    with pytest.raises(ValueError, match="bad_limits"):
        AsyncBulkhead("bad_limits", capacity, max_wait_s=wait)


def test_process_wide_bulkheads_are_shared_per_name_and_limits() -> None:
    one = bulkhead_for("test_shared", 4, max_wait_s=1.0)
    assert bulkhead_for("test_shared", 4, max_wait_s=1.0) is one
    assert bulkhead_for("test_shared", 2, max_wait_s=1.0) is not one
