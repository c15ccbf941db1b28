"""The export's work plan: chunks cover the inclusive range exactly, in order, without overlap."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellar_arrow.errors import ConfigError
from stellar_arrow.export.chunks import Chunk, plan_chunks, written_ranges


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


def test_written_ranges_and_how_they_meet_a_planned_chunk(tmp_path: Path) -> None:
    folder = tmp_path / "ledgers"
    folder.mkdir()
    for name in ("ledgers-100-104.parquet", "ledgers-100-109.csv", "ledgers-105-120.jsonl",
                 "notes.txt", "transactions-1-2.parquet"):  # fmt: skip
        (folder / name).touch()
    (tmp_path / "_manifests").mkdir()
    (tmp_path / "_manifests" / "chunk-200-299.json").touch()
    assert written_ranges(tmp_path) == {(100, 104), (100, 109), (105, 120), (200, 299)}
    chunk = Chunk(100, 119)
    assert chunk.supersedes(100, 104) and chunk.supersedes(100, 109)
    assert not chunk.supersedes(105, 120) and chunk.overlaps(105, 120)
    assert not chunk.overlaps(120, 130) and not chunk.overlaps(1, 99)
    assert Chunk(100, 104).files_of(tmp_path) == ["ledgers/ledgers-100-104.parquet"]
