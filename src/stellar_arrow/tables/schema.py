"""Helpers the table builders share: raw XDR as base64, optional XDR columns, batches from column lists.

The schema convention itself (metadata stamp, ``closed_at`` and ledger-sequence types) is
:mod:`stellar_arrow.schema`; :data:`SCHEMA_VERSION` is the version the three tables of this package
are stamped with (bumped on any change of a column's name, type or meaning).
"""

from __future__ import annotations

import base64
from collections.abc import Sequence
from typing import Final

import pyarrow as pa

__all__ = [
    "SCHEMA_VERSION",
    "base64_text",
    "record_batch",
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
