from __future__ import annotations

import pytest

from stellar_arrow.ledger import parse_toid, toid


def test_toid_layout_matches_hubble() -> None:
    # stellar/go toid: ledger << 32 | tx << 12 | op
    assert toid(63092982) == 270982294297116672
    assert toid(63092982, 1) == 270982294297116672 + 4096
    assert toid(63092982, 3, 2) == 270982294297116672 + 3 * 4096 + 2
    assert parse_toid(toid(63092982, 305, 17)) == (63092982, 305, 17)
    assert toid(2**31 - 1, 2**20 - 1, 2**12 - 1) == 2**63 - 1


OUT_OF_RANGE = [((2**31, 0, 0), "ledger"), ((5, 2**20, 0), "transaction"), ((5, 1, 4096), "operation")]


@pytest.mark.parametrize(("args", "what"), OUT_OF_RANGE)
def test_toid_parts_out_of_range(args: tuple[int, int, int], what: str) -> None:
    with pytest.raises(ValueError, match=what):
        toid(*args)
