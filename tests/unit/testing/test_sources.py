"""MemoryLedgerSource keeps the LedgerSource contract: ordered ranges, holes, tip following, stop."""

from __future__ import annotations

import threading
import time

import pytest

from stellar_arrow.errors import ConfigError, LedgerMissingError
from stellar_arrow.source.base import LedgerSource, RawLedger
from stellar_arrow.testing import LedgerBuilder, MemoryLedgerSource
from tests.conftest import CORPUS

FIRST = 63092982


def test_bounded_ranges_in_order_from_real_corpus_files() -> None:
    paths = [CORPUS / f"pubnet-{seq:010d}.xdr.gz" for seq in (FIRST + 2, FIRST, FIRST + 1)]
    with MemoryLedgerSource.from_files(paths) as source:
        assert isinstance(source, LedgerSource)
        got = list(source.ledgers(FIRST, FIRST + 2))
        assert [r.ledger_sequence for r in got] == [FIRST, FIRST + 1, FIRST + 2]
        assert all(isinstance(r, RawLedger) and len(r.ledger_close_meta) > 100_000 for r in got)
        assert (source.first_ledger(), source.latest_ledger()) == (FIRST, FIRST + 2)
        with pytest.raises(LedgerMissingError, match=f"no ledger {FIRST + 3}") as info:
            list(source.ledgers(FIRST + 1, FIRST + 3))
        assert info.value.ledger_sequence == FIRST + 3
        with pytest.raises(ConfigError, match="invalid ledger range"):
            source.ledgers(FIRST + 2, FIRST)


def test_a_mapping_and_bad_input() -> None:
    raw = LedgerBuilder(first_sequence=7).ledger()
    assert list(MemoryLedgerSource({7: raw}).ledgers(7, 7)) == [RawLedger(7, raw)]
    with pytest.raises(ConfigError, match="ledger sequence 0"):
        MemoryLedgerSource({0: raw})
    with pytest.raises(LedgerMissingError, match="holds no ledger"):
        MemoryLedgerSource().latest_ledger()
    with pytest.raises(ConfigError, match="poll_interval"):
        MemoryLedgerSource(poll_interval=0)


def test_following_the_tip_sees_published_ledgers_and_stops() -> None:
    builder = LedgerBuilder(first_sequence=100)
    source = MemoryLedgerSource([builder.ledger()], poll_interval=0.01)
    seen: list[int] = []
    follower = threading.Thread(target=lambda: seen.extend(r.ledger_sequence for r in source.ledgers(100)))
    follower.start()
    for _ in range(3):
        time.sleep(0.05)
        assert source.publish(builder.ledger()) == builder.sequence - 1
    deadline = time.monotonic() + 5
    while len(seen) < 4 and time.monotonic() < deadline:
        time.sleep(0.01)
    source.stop()
    follower.join(5)
    assert not follower.is_alive() and seen == [100, 101, 102, 103]


def test_a_hole_below_the_tip_fails_after_the_gap_timeout() -> None:
    builder = LedgerBuilder(first_sequence=1)
    one, _two, three = builder.ledger(), builder.ledger(), builder.ledger()
    source = MemoryLedgerSource([one, three], poll_interval=0.01, gap_timeout=0.2)
    it = source.ledgers(1)
    assert next(it).ledger_sequence == 1
    with pytest.raises(LedgerMissingError, match="ledger 2 is missing"):
        next(it)


def test_opener_makes_sources_that_share_ledgers_but_stop_alone() -> None:
    builder = LedgerBuilder(first_sequence=1)
    shared = MemoryLedgerSource([builder.ledger()], poll_interval=0.01)
    a, b = shared.opener()(), shared.opener()()
    a.stop()
    b.publish(builder.ledger())
    assert [r.ledger_sequence for r in shared.ledgers(1, 2)] == [1, 2]
    follow = b.ledgers(1)
    assert [next(follow).ledger_sequence, next(follow).ledger_sequence] == [1, 2]
    assert b.reads == 2 and a.reads == 0
    b.stop()
    assert next(follow, None) is None
