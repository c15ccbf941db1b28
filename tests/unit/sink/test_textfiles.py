"""JSON lines and CSV exports keep every amount exact (real pubnet token transfers)."""

from __future__ import annotations

import base64
from decimal import Decimal
from pathlib import Path

import orjson
import pyarrow as pa
import pyarrow.csv as pacsv

from stellar_arrow.config import SinkSettings
from stellar_arrow.sink import DatasetSink, read_commits
from stellar_arrow.sink.textfiles import to_rows, write_csv, write_jsonl
from tests.unit.sink.realdata import ledger_tables, schemas, whole


def test_jsonl_rows_are_exact(tmp_path: Path) -> None:
    rows = whole("token_transfers", ledger_tables()[0][0], ledger_tables()[4][0])
    path = tmp_path / "tt.jsonl"
    write_jsonl(path, rows)
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert len(lines) == rows.num_rows
    for got, want in zip(lines, rows.to_pylist(), strict=True):
        assert got["amount_raw"] == want["amount_raw"]
        assert (want["amount"] is None and got["amount"] is None) or Decimal(got["amount"]) == want["amount"]
        if got["amount"] is not None:
            assert Decimal(got["amount"]) * 10**7 == int(want["amount_raw"])
        assert got["transaction_id"] == str(want["transaction_id"])  # 64-bit ids as strings
        assert got["closed_at"] == want["closed_at"].strftime("%Y-%m-%dT%H:%M:%SZ")
        assert got["from"] == want["from"] and got["ledger_sequence"] == want["ledger_sequence"]
        memo = want["to_muxed_memo"]
        assert got["to_muxed_memo"] == (None if memo is None else base64.b64encode(memo).decode())


def test_csv_rows_are_exact(tmp_path: Path) -> None:
    rows = whole("token_transfers", ledger_tables()[0][0], ledger_tables()[1][0])
    path = tmp_path / "tt.csv"
    write_csv(path, rows)
    text_types = {name: pa.string() for name in rows.column_names}
    back = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(column_types=text_types))
    assert back.num_rows == rows.num_rows
    assert back["amount_raw"].to_pylist() == rows["amount_raw"].to_pylist()
    assert [Decimal(v) for v in back["amount"].to_pylist()] == rows["amount"].to_pylist()
    assert back.column_names == rows.column_names


def test_sink_writes_text_formats_with_manifests(tmp_path: Path) -> None:
    options = SinkSettings(output_formats=("jsonl", "csv"), partition_by=())
    with DatasetSink(tmp_path, {"token_transfers": schemas()["token_transfers"]}, options) as sink:
        seq, per = ledger_tables()[0]
        sink.write_batch("token_transfers", per["token_transfers"])
        sink.advance(seq)
    (record,) = list(read_commits(tmp_path))
    assert sorted(m.format for m in record.files) == ["csv", "jsonl"]
    jsonl = next(m for m in record.files if m.format == "jsonl")
    lines = (tmp_path / jsonl.path).read_bytes().splitlines()
    assert [orjson.loads(line) for line in lines] == to_rows(per["token_transfers"])
    assert not list(tmp_path.rglob("*.parquet"))
