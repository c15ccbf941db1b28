"""Helpers the table builders share: raw XDR as base64, optional XDR columns, batches from column lists
or rows, and whether the compiled table code is built.

The schema convention itself (metadata stamp, ``closed_at`` and ledger-sequence types) is
:mod:`stellar_arrow.schema`; :data:`SCHEMA_VERSION` is the version the three tables of this package
are stamped with (bumped on any change of a column's name, type or meaning).
"""

from __future__ import annotations

import base64
import importlib
from collections.abc import Sequence
from functools import cache
from types import ModuleType
from typing import Final

import pyarrow as pa

__all__ = [
    "SCHEMA_VERSION",
    "base64_text",
    "compiled_tables",
    "compiled_tables_module",
    "record_batch",
    "record_batch_of_rows",
    "without_columns",
]

#: Version 2: the stamp carries ``stellar_arrow.ledger_column``; every table follows one convention.
SCHEMA_VERSION: Final = 2


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


def record_batch_of_rows(schema: pa.Schema, rows: Sequence[tuple[object, ...]]) -> pa.RecordBatch:
    """One record batch from rows (tuples in ``schema`` order): one conversion for all the columns,
    the same values and errors as :func:`record_batch` on the same data."""
    array = pa.array(rows, type=_row_type(schema))
    return pa.RecordBatch.from_struct_array(array).replace_schema_metadata(schema.metadata)


_ROW_TYPES: dict[int, tuple[pa.Schema, pa.StructType]] = {}


def _row_type(schema: pa.Schema) -> pa.StructType:
    """The struct type of a row of ``schema``, kept per schema object (hashing a schema costs more
    than the conversion of one row)."""
    known = _ROW_TYPES.get(id(schema))
    if known is None or known[0] is not schema:
        known = _ROW_TYPES[id(schema)] = (schema, pa.struct(list(schema)))
    return known[1]


@cache
def compiled_tables_module() -> ModuleType | None:
    """The compiled table code (``tables/_compiled.pyx``), or None when it is not built."""
    try:
        return importlib.import_module("stellar_arrow.tables._compiled")
    except ImportError:
        return None


def compiled_tables() -> bool:
    """True when the compiled table code is built (importable); else the builders run in Python."""
    return compiled_tables_module() is not None
