"""``decompress_zstd``: one call for one sized frame, streamed otherwise; the same bytes either way."""

from __future__ import annotations

from pathlib import Path

import pytest
import zstandard

from stellar_arrow.errors import LedgerObjectError
from stellar_arrow.source import files
from stellar_arrow.source.files import decompress_zstd

LAKE = Path(__file__).resolve().parents[3] / "data" / "lakes" / "pubnet-p26"


def _objects() -> list[bytes]:
    return [p.read_bytes() for p in sorted(LAKE.rglob("*.xdr.zst"))[:2]]


def _streamed(data: bytes) -> bytes:
    with zstandard.ZstdDecompressor().stream_reader(data, read_across_frames=True) as reader:
        return reader.read()


def test_lake_objects_decompress_in_one_call_as_streamed() -> None:
    objects = _objects()
    assert len(objects) == 2
    for data in objects:
        assert zstandard.frame_content_size(data) > 0  # what the lake writers produce
        assert decompress_zstd(data, object_name="o") == _streamed(data)
    both = objects[0] + objects[1]  # two frames: streamed frame by frame
    assert decompress_zstd(both, object_name="o") == _streamed(objects[0]) + _streamed(objects[1])


def test_declared_size_over_the_limit_is_streamed(monkeypatch: pytest.MonkeyPatch) -> None:
    data = _objects()[0]
    monkeypatch.setattr(files, "_ONE_SHOT_LIMIT", 1000)
    assert decompress_zstd(data, object_name="o") == _streamed(data)


def test_truncated_or_corrupt_sized_frames_are_typed_errors() -> None:
    data = _objects()[0]
    with pytest.raises(LedgerObjectError, match="o: truncated zstd data"):
        decompress_zstd(data[:-7], object_name="o")
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0xFF
    with pytest.raises(LedgerObjectError, match="o: corrupt zstd data"):
        decompress_zstd(bytes(flipped), object_name="o")
