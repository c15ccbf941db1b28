"""What every table schema shares: the version stamp, the ``closed_at`` type and xdr columns.

Each table module declares its one schema with :func:`versioned_schema`; the version is bumped on
any breaking change (a column renamed, removed or retyped) and travels in the schema metadata, so
Parquet/IPC files say which layout they hold.
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Final

import pyarrow as pa

__all__ = [
    "CLOSED_AT_TYPE",
    "SCHEMA_VERSION",
    "base64_text",
    "closed_at_micros",
    "record_batch",
    "schema_table_name",
    "versioned_schema",
    "without_columns",
]

SCHEMA_VERSION: Final = 1
CLOSED_AT_TYPE: Final = pa.timestamp("us", tz="UTC")

_TABLE_KEY: Final = b"stellar_arrow.table"
_VERSION_KEY: Final = b"stellar_arrow.schema_version"


def versioned_schema(table: str, fields: Sequence[pa.Field], *, version: int = SCHEMA_VERSION) -> pa.Schema:
    """An Arrow schema stamped with the table name and schema version."""
    return pa.schema(fields, metadata={_TABLE_KEY: table.encode(), _VERSION_KEY: str(version).encode()})


def schema_table_name(schema: pa.Schema) -> str | None:
    """The table a schema declares itself to be, if stamped."""
    meta = schema.metadata or {}
    raw = meta.get(_TABLE_KEY)
    return None if raw is None else raw.decode()


def closed_at_micros(close_time: int) -> int:
    """``scpValue.closeTime`` (unix seconds) as the microseconds of a UTC timestamp column."""
    return close_time * 1_000_000


def base64_text(data: bytes) -> str:
    """Raw XDR as base64 text (the Hubble encoding of ``ledger_header``, ``tx_envelope``...)."""
    return base64.b64encode(data).decode("ascii")


def without_columns(schema: pa.Schema, names: Sequence[str]) -> pa.Schema:
    """``schema`` minus ``names`` (used to leave the raw XDR columns out), metadata kept."""
    return pa.schema([f for f in schema if f.name not in names], metadata=schema.metadata)


def record_batch(schema: pa.Schema, columns: dict[str, list[object]]) -> pa.RecordBatch:
    """One record batch from per-column python lists, typed by ``schema``."""
    arrays = [pa.array(columns[f.name], type=f.type) for f in schema]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
