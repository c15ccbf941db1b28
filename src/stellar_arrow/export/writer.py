"""Write one table chunk as Parquet, JSON lines or CSV, durably and atomically.

The file is written under a temporary name, fsynced, renamed, and its folder fsynced (every format),
so after a crash a chunk file either holds all its rows or does not exist. Text formats hold binary
values (e.g. a raw memo) as hex.
"""

from __future__ import annotations

import os
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, BinaryIO

import orjson
import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq

from stellar_arrow.errors import SinkError
from stellar_arrow.export.manifest import durable_replace
from stellar_arrow.ledger.validation import ChainLink
from stellar_arrow.vocabulary import FILE_FORMATS

__all__ = ["last_ledger_link", "write_table_atomically"]


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


def _write(table: pa.Table, path: Path, file_format: str) -> None:
    with path.open("wb") as out:
        if file_format == "parquet":
            pq.write_table(table, out, compression="zstd")
        elif file_format == "jsonl":
            _write_jsonl(table, out)
        else:
            pa_csv.write_csv(_binary_as_hex(table), out)
        out.flush()


def write_table_atomically(table: pa.Table, path: Path, file_format: str) -> None:
    """Write ``table`` to ``path`` via a temporary sibling file, fsync and an atomic rename."""
    if file_format not in FILE_FORMATS:
        msg = f"cannot write {path}: unknown output format {file_format!r} (files: {', '.join(FILE_FORMATS)})"
        raise SinkError(msg)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        _write(table, tmp, file_format)
        durable_replace(tmp, path)
    except (OSError, pa.ArrowException, TypeError) as exc:
        msg = f"cannot write {path}: {exc}"
        raise SinkError(msg) from exc
    finally:
        tmp.unlink(missing_ok=True)


def last_ledger_link(path: Path, file_format: str) -> ChainLink | None:
    """The chain link of the last ledger in a written ``ledgers`` chunk (to check the next chunk against).

    None when the file cannot be read back; the chain check then starts afresh at the next chunk.
    """
    try:
        if file_format in ("parquet", "csv"):
            table = pq.read_table(path) if file_format == "parquet" else pa_csv.read_csv(path)
            rows = table.slice(max(table.num_rows - 1, 0)).to_pylist()
        else:
            lines = path.read_bytes().splitlines()
            rows = [orjson.loads(lines[-1])] if lines else []
    except (OSError, pa.ArrowException, orjson.JSONDecodeError, ValueError):
        return None
    if not rows:
        return None
    row = rows[-1]
    try:
        sequence, ledger_hash, previous = row["sequence"], row["ledger_hash"], row["previous_ledger_hash"]
        return ChainLink(int(sequence), bytes.fromhex(ledger_hash), bytes.fromhex(previous))
    except (KeyError, TypeError, ValueError):
        return None
