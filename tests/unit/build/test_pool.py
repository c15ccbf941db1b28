"""OrderedPool and LedgerFeed: order, bounded in-flight work, sharing, timed waits, cancellation, shutdown.

Worker processes are real (fork for speed, spawn where the services use it); the orphan test SIGKILLs a
real parent process and watches its workers exit.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from stellar_arrow.build import (
    LedgerFeed,
    OrderedPool,
    StreamCancelled,
    TableSetOptions,
    build_ledger_tables,
)
from stellar_arrow.flight.stream import Cancellation
from stellar_arrow.ledger import resolve_network
from stellar_arrow.source.lake import DataLakeLedgerSource
from tests.conftest import DATA

SAMPLE_LAKE = DATA / "lakes" / "pubnet-p26"
FIRST = 63092982


def _blocking(first: list[tuple[int, int]], gate: threading.Event) -> Iterator[tuple[int, int]]:
    yield from first
    gate.wait(10)
    yield (99, 99)


def _slow_for_even(x: int) -> int:
    time.sleep(0.05 if x % 2 == 0 else 0.0)
    return x * 10


def _pid(_: int) -> int:
    return os.getpid()


def test_result_is_not_held_back_waiting_for_the_next_input() -> None:
    gate = threading.Event()
    pool: OrderedPool[int, int] = OrderedPool(lambda x: x * 10)
    out = pool.ordered(_blocking([(1, 1)], gate), Cancellation(threading.Event()), in_flight=4)
    started = time.monotonic()
    assert next(out) == (1, 10)  # the tip ledger is delivered while the input is still blocked
    assert time.monotonic() - started < 2
    gate.set()
    assert next(out) == (99, 990)


def test_results_come_in_input_order_from_worker_processes() -> None:
    with OrderedPool(_slow_for_even, workers=2, start_method="fork") as pool:
        items = [(i, i) for i in range(10)]
        assert list(pool.ordered(iter(items), in_flight=4)) == [(i, i * 10) for i in range(10)]
        assert list(pool.map(iter(items))) == [(i, i * 10) for i in range(10)]


def test_map_keeps_a_bounded_number_of_ledgers_in_flight() -> None:
    pulled: list[int] = []

    def source() -> Iterator[tuple[int, int]]:
        for i in range(40):
            pulled.append(i)
            yield i, i

    with OrderedPool(_slow_for_even, workers=2, start_method="fork") as pool:
        limit = 2 * pool.workers + 2
        for delivered, (seq, _) in enumerate(pool.map(source()), 1):
            assert seq == delivered - 1
            assert len(pulled) - delivered <= limit  # never more than the window ahead of the consumer
    assert len(pulled) == 40


def test_map_delivers_the_ledgers_before_a_source_error_then_raises_it() -> None:
    def broken() -> Iterator[tuple[int, int]]:
        yield from ((i, i) for i in range(3))
        raise OSError("object 3 unreadable")

    with OrderedPool(_slow_for_even, workers=2, start_method="fork") as pool:
        got: list[int] = []
        with pytest.raises(OSError, match="object 3"):
            for seq, _ in pool.map(broken()):
                got.append(seq)
    assert got == [0, 1, 2]


def test_same_ledger_is_computed_once_when_cached() -> None:
    pool: OrderedPool[int, int] = OrderedPool(lambda x: x + 1, cache_ledgers=8)
    cancel = Cancellation(threading.Event())
    assert list(pool.ordered(((i, i) for i in range(5)), cancel)) == list(
        pool.ordered(((i, i) for i in range(5)), cancel)
    )
    assert pool.computed == 5


def test_failed_computation_is_not_cached() -> None:
    calls = []

    def flaky(x: int) -> int:
        calls.append(x)
        if len(calls) == 1:
            raise ValueError("first call fails")
        return x

    pool: OrderedPool[int, int] = OrderedPool(flaky, cache_ledgers=8)
    with pytest.raises(ValueError, match="first call"):
        pool.submit(1, 1).result()
    assert pool.submit(1, 1).result() == 1


def test_a_cancelled_stream_stops_waiting_within_a_slice() -> None:
    stop = threading.Event()
    gate = threading.Event()
    pool: OrderedPool[int, int] = OrderedPool(lambda x: x)
    out = pool.ordered(_blocking([(1, 1)], gate), Cancellation(stop))
    assert next(out) == (1, 1)
    threading.Timer(0.2, stop.set).start()
    started = time.monotonic()
    with pytest.raises(StreamCancelled):
        next(out)
    assert time.monotonic() - started < 1.5
    gate.set()


def test_spawn_workers_build_the_same_tables_as_inline() -> None:
    options = TableSetOptions(("ledgers", "token_transfers"), resolve_network("pubnet"))
    with DataLakeLedgerSource(str(SAMPLE_LAKE)) as lake:
        ledgers = [(r.ledger_sequence, r) for r in lake.ledgers(FIRST, FIRST + 3)]
    build = functools.partial(build_ledger_tables, options)
    inline = list(OrderedPool(build).map(ledgers))
    with OrderedPool(build, workers=2, start_method="spawn") as pool:
        spawned = list(pool.ordered(iter(ledgers), in_flight=3))
    assert [seq for seq, _ in spawned] == list(range(FIRST, FIRST + 4))
    for (_, a), (_, b) in zip(inline, spawned, strict=True):
        assert a.link == b.link
        assert all(a.batches[t].equals(b.batches[t]) for t in options.tables)


def test_close_joins_the_workers_and_refuses_new_work() -> None:
    pool: OrderedPool[int, int] = OrderedPool(_pid, workers=2, start_method="fork")
    pids = {pool.submit(i, i).result() for i in range(6)}
    pool.close()
    assert pids and all(not _alive(pid) for pid in pids)
    with pytest.raises(StreamCancelled):
        pool.submit(7, 7)
    pool.close()  # idempotent


def _alive(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


_OWNER = textwrap.dedent(
    """
    import sys, time
    sys.path.insert(0, sys.argv[2])
    from stellar_arrow.build import OrderedPool
    from tests.unit.build.test_pool import _pid

    if __name__ == "__main__":
        pool = OrderedPool(_pid, workers=2, start_method=sys.argv[1])
        print(*sorted({pool.submit(i, i).result() for i in range(8)}), flush=True)
        time.sleep(60)
    """
)


@pytest.mark.parametrize("start_method", ["fork", "spawn"])
def test_workers_of_a_killed_owner_exit_instead_of_lingering(tmp_path: Path, start_method: str) -> None:
    script = tmp_path / "owner.py"
    script.write_text(_OWNER)
    repo = str(Path(__file__).resolve().parents[3])
    owner = subprocess.Popen(
        [sys.executable, str(script), start_method, repo], stdout=subprocess.PIPE, text=True
    )
    try:
        assert owner.stdout is not None
        workers = [int(p) for p in owner.stdout.readline().split()]
        assert workers and all(_alive(p) for p in workers)
        os.kill(owner.pid, signal.SIGKILL)
        owner.wait(10)
        deadline = time.monotonic() + 5
        while any(_alive(p) for p in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(_alive(p) for p in workers), "workers outlived the process that owned the pool"
    finally:
        owner.kill()
        owner.wait(10)


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
