"""Chunk files: atomic writes and text formats that hold every value (binary as hex)."""

from __future__ import annotations

import json
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pytest

from stellar_arrow.errors import SinkError
from stellar_arrow.export.writer import write_table_atomically

TABLE = pa.table(
    {
        "memo": pa.array([b"\xff\x00ab", None], pa.binary()),
        "amount": pa.array([10**30, -1], pa.decimal128(38, 0)),
        "n": pa.array([2**62, 0], pa.int64()),
    }
)


@pytest.mark.parametrize("file_format", ["csv", "jsonl"])
def test_binary_and_big_values_survive_text_formats(tmp_path: Path, file_format: str) -> None:
    path = tmp_path / "t" / f"chunk.{file_format}"
    write_table_atomically(TABLE, path, file_format)
    if file_format == "csv":
        types = {"amount": pa.string(), "memo": pa.string()}
        options = pa_csv.ConvertOptions(strings_can_be_null=True, column_types=types)
        rows = pa_csv.read_csv(path, convert_options=options).to_pylist()
        assert [r["amount"] for r in rows] == [str(10**30), "-1"]  # exact decimal text
    else:
        rows = [json.loads(line) for line in path.read_text().splitlines()]
        assert [r["amount"] for r in rows] == [str(10**30), "-1"]
    assert [r["memo"] for r in rows] == ["ff006162", None]
    assert [r["n"] for r in rows] == [2**62, 0]
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def test_failed_write_leaves_no_file(tmp_path: Path) -> None:
    path = tmp_path / "chunk.parquet"
    with pytest.raises(SinkError, match=r"chunk\.parquet: unknown output format 'xml'"):
        write_table_atomically(TABLE, path, "xml")
    assert list(tmp_path.iterdir()) == []


def test_a_temporary_file_left_by_a_killed_writer_goes_with_the_next_write(tmp_path: Path) -> None:
    path = tmp_path / "ledgers" / "ledgers-1-2.jsonl"
    path.parent.mkdir()
    leftover = path.with_name(f".{path.name}.tmp-999999")
    leftover.write_bytes(b'{"half": ')
    write_table_atomically(pa.table({"sequence": [1, 2]}), path, "jsonl")
    assert path.read_bytes() == b'{"sequence":1}\n{"sequence":2}\n'
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]
