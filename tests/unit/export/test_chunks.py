"""The export's work plan: chunks cover the inclusive range exactly, in order, without overlap."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellar_arrow.errors import ConfigError
from stellar_arrow.export.chunks import Chunk, plan_chunks


@given(
    start=st.integers(min_value=1, max_value=2**32 - 10_000),
    length=st.integers(min_value=1, max_value=5_000),
    chunk_size=st.integers(min_value=1, max_value=1_000),
)
def test_chunks_tile_the_range(start: int, length: int, chunk_size: int) -> None:
    end = start + length - 1
    chunks = plan_chunks(start, end, chunk_size)
    assert chunks[0].first_ledger == start and chunks[-1].last_ledger == end
    for before, after in itertools.pairwise(chunks):
        assert after.first_ledger == before.last_ledger + 1
        assert before.ledger_count == chunk_size
    assert 1 <= chunks[-1].ledger_count <= chunk_size
    assert sum(c.ledger_count for c in chunks) == length


@pytest.mark.parametrize(("start", "end", "size"), [(0, 5, 1), (10, 9, 1), (1, 5, 0)])
def test_bad_plans_are_config_errors(start: int, end: int, size: int) -> None:
    with pytest.raises(ConfigError):
        plan_chunks(start, end, size)


def test_superseded_files_are_shorter_chunks_with_the_same_start(tmp_path: Path) -> None:
    folder = tmp_path / "ledgers"
    folder.mkdir()
    for name in ("ledgers-100-104.parquet", "ledgers-100-109.parquet", "ledgers-100-120.parquet",
                 "ledgers-1000-1001.parquet", "ledgers-100-104.csv"):  # fmt: skip
        (folder / name).touch()
    stale = Chunk(100, 119).superseded_files(tmp_path, "ledgers", "parquet")
    assert sorted(p.name for p in stale) == ["ledgers-100-104.parquet", "ledgers-100-109.parquet"]
