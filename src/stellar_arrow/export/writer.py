"""Write one table chunk as Parquet, JSON lines or CSV, durably and atomically.

A local file is written under a temporary name, fsynced, renamed, and its folder fsynced (every
format); an object is stored with one whole PUT (:mod:`stellar_arrow.export.store`). After a crash a
chunk file either holds all its rows or does not exist. Text formats hold binary
values (e.g. a raw memo) as hex.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from stellar_arrow.errors import SinkError, StellarArrowError
from stellar_arrow.export.store import LocalOutput, OutputStore, Stored
from stellar_arrow.ledger.validation import ChainLink
from stellar_arrow.vocabulary import FILE_FORMATS

__all__ = ["last_ledger_link", "write_table", "write_table_atomically"]


def _json_default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, datetime):  # pragma: no cover - orjson serialises datetimes itself
        return value.isoformat()
    msg = f"cannot serialise {type(value).__name__} to JSON"
    raise TypeError(msg)


def _write_jsonl(table: pa.Table, out: BinaryIO) -> None:
    for batch in table.to_batches(max_chunksize=4096):
        lines = [orjson.dumps(row, default=_json_default) for row in batch.to_pylist()]
        if lines:
            out.write(b"\n".join(lines) + b"\n")


def _binary_as_hex(table: pa.Table) -> pa.Table:
    """Binary columns as hex text (CSV holds text; raw bytes may not even be UTF-8)."""
    for index, field in enumerate(table.schema):
        if (
            pa.types.is_binary(field.type)
            or pa.types.is_large_binary(field.type)
            or pa.types.is_fixed_size_binary(field.type)
        ):
            values = [None if v is None else v.hex() for v in table.column(index).to_pylist()]
            table = table.set_column(index, pa.field(field.name, pa.string()), pa.array(values, pa.string()))
    return table


def _render(table: pa.Table, out: BinaryIO, file_format: str) -> None:
    if file_format == "parquet":
        pq.write_table(table, out, compression="zstd")
    elif file_format == "jsonl":
        _write_jsonl(table, out)
    else:
        pa_csv.write_csv(_binary_as_hex(table), out)


def write_table(out: OutputStore, key: str, table: pa.Table, file_format: str) -> Stored:
    """Write ``table`` as object ``key`` of ``out``, atomically (a durable rename, or one whole PUT)."""
    if file_format not in FILE_FORMATS:
        known = ", ".join(FILE_FORMATS)
        msg = f"cannot write {out.location(key)}: unknown output format {file_format!r} (files: {known})"
        raise SinkError(msg)
    try:
        return out.put(key, lambda fh: _render(table, fh, file_format))
    except (OSError, pa.ArrowException, TypeError) as exc:
        msg = f"cannot write {out.location(key)}: {exc}"
        raise SinkError(msg) from exc


def write_table_atomically(table: pa.Table, path: Path, file_format: str) -> None:
    """Write ``table`` to ``path`` via a temporary sibling file, fsync and an atomic rename."""
    write_table(LocalOutput(path.parent), path.name, table, file_format)


def last_ledger_link(out: OutputStore, key: str, file_format: str) -> ChainLink | None:
    """The chain link of the last ledger in a written ``ledgers`` chunk (to check the next chunk against).

    None when the file cannot be read back; the chain check then starts afresh at the next chunk.
    """
    try:
        with out.reader(key) as fh:
            if file_format in ("parquet", "csv"):
                table = pq.read_table(fh) if file_format == "parquet" else pa_csv.read_csv(fh)
                rows = table.slice(max(table.num_rows - 1, 0)).to_pylist()
            else:
                lines = fh.read().splitlines()
                rows = [orjson.loads(lines[-1])] if lines else []
    except (OSError, pa.ArrowException, orjson.JSONDecodeError, ValueError, StellarArrowError):
        return None
    if not rows:
        return None
    row = rows[-1]
    try:
        sequence, ledger_hash, previous = row["sequence"], row["ledger_hash"], row["previous_ledger_hash"]
        return ChainLink(int(sequence), bytes.fromhex(ledger_hash), bytes.fromhex(previous))
    except (KeyError, TypeError, ValueError):
        return None
