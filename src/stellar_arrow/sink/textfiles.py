"""JSON lines and CSV renderings of Arrow tables, with exact amounts.

One text form is shared by the JSONL/CSV exports, the REST API's JSON and the WebSocket's JSON frames:

* decimals (``amount``) -> their exact decimal string (``"12.3400000"``), never a float;
* 64-bit integers (TOIDs, muxed ids) -> decimal strings, because JavaScript loses precision past 2^53;
* timestamps -> ISO-8601 UTC (``"2025-06-01T12:00:05Z"``);
* binary -> base64;
* strings (``amount_raw``, strkeys, hashes) and 8/16/32-bit integers unchanged.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv

__all__ = ["json_ready", "jsonl_bytes", "to_rows", "write_csv", "write_jsonl"]


def _text_column(column: pa.ChunkedArray | pa.Array) -> pa.ChunkedArray | pa.Array:
    kind = column.type
    if pa.types.is_decimal(kind) or kind in (pa.int64(), pa.uint64()):
        return pc.cast(column, pa.string())
    if pa.types.is_timestamp(kind):
        utc = pc.cast(column, pa.timestamp(kind.unit, tz="UTC")) if kind.tz is None else column
        fmt = "%Y-%m-%dT%H:%M:%SZ" if kind.unit == "s" else "%Y-%m-%dT%H:%M:%S.%fZ"
        if kind.unit != "s":
            utc = pc.cast(utc, pa.timestamp("s", tz="UTC"), safe=False)
            fmt = "%Y-%m-%dT%H:%M:%SZ"
        return pc.strftime(utc, fmt)
    if pa.types.is_date(kind):
        return pc.cast(column, pa.string())
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        values = [None if v is None else base64.b64encode(v).decode() for v in column.to_pylist()]
        return pa.array(values, pa.string())
    return column


def json_ready(table: pa.Table) -> pa.Table:
    """The same table with every column in its text form (see the module docstring)."""
    columns = [_text_column(table.column(i)) for i in range(table.num_columns)]
    return pa.table(columns, names=table.column_names)


def to_rows(table: pa.Table) -> list[dict[str, Any]]:
    """Row objects of :func:`json_ready` (keys are the column names, ``from`` included)."""
    rows: list[dict[str, Any]] = json_ready(table).to_pylist()
    return rows


def jsonl_bytes(table: pa.Table) -> bytes:
    """One JSON object per line, ``\\n`` terminated."""
    return b"".join(orjson.dumps(row) + b"\n" for row in to_rows(table))


def write_jsonl(path: Path, table: pa.Table) -> None:
    """JSON lines (:func:`jsonl_bytes`); not fsynced (the sink syncs a commit's files together)."""
    with path.open("wb") as fh:
        fh.write(jsonl_bytes(table))


def write_csv(path: Path, table: pa.Table) -> None:
    """RFC 4180 CSV with a header row (nulls are empty fields); not fsynced (the sink syncs them together)."""
    with path.open("wb") as fh:
        pacsv.write_csv(json_ready(table), fh, pacsv.WriteOptions(include_header=True))
