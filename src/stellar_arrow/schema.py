"""The one schema convention of the four tables: ledgers, transactions, operations, token_transfers.

Every table schema is declared in its own module and passed through :func:`stamp`, which checks and
records what all of them share:

* schema metadata ``stellar_arrow.table`` (the table name), ``stellar_arrow.schema_version`` (a
  decimal string, bumped on any change of a column's name, type or meaning) and
  ``stellar_arrow.ledger_column`` (the column holding each row's ledger sequence);
* ``closed_at`` typed :data:`CLOSED_AT_TYPE`, ``timestamp[us, tz=UTC]``;
* the ledger-sequence column typed :data:`LEDGER_SEQUENCE_TYPE`, ``uint32`` (the XDR type of ``ledgerSeq``;
  a plain number in JSON lines, where 64-bit integers are strings), under its Hubble name: ``sequence`` in
  ``ledgers``, ``ledger_sequence`` elsewhere (:data:`LEDGER_COLUMNS`).

Readers (the sink, the API) ask :func:`ledger_column`, :func:`schema_table_name` and
:func:`schema_version` instead of guessing from column names. Pure: no I/O. It sits below ``tables``
and ``ttp`` so that both declare their schemas with it.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from stellar_arrow.vocabulary import TABLES, TableName

__all__ = [
    "CLOSED_AT_COLUMN",
    "CLOSED_AT_TYPE",
    "LEDGER_COLUMNS",
    "LEDGER_COLUMN_KEY",
    "LEDGER_SEQUENCE_TYPE",
    "TABLE_KEY",
    "VERSION_KEY",
    "closed_at_micros",
    "ledger_column",
    "schema_table_name",
    "schema_version",
    "stamp",
]

TABLE_KEY: Final = b"stellar_arrow.table"
VERSION_KEY: Final = b"stellar_arrow.schema_version"
LEDGER_COLUMN_KEY: Final = b"stellar_arrow.ledger_column"

CLOSED_AT_COLUMN: Final = "closed_at"
CLOSED_AT_TYPE: Final = pa.timestamp("us", tz="UTC")
LEDGER_SEQUENCE_TYPE: Final = pa.uint32()

#: The ledger-sequence column of each table, by its Hubble name.
LEDGER_COLUMNS: Final[dict[TableName, str]] = {
    "ledgers": "sequence",
    "transactions": "ledger_sequence",
    "operations": "ledger_sequence",
    "token_transfers": "ledger_sequence",
}

_BY_TABLE: Final[dict[str, str]] = {str(table): column for table, column in LEDGER_COLUMNS.items()}


def _require_field(schema: pa.Schema, table: str, name: str, expected: pa.DataType) -> None:
    index = schema.get_field_index(name)
    if index < 0:
        msg = f"table {table}: schema has no {name!r} column"
        raise ValueError(msg)
    field = schema.field(index)
    if field.type != expected or field.nullable:
        nullable = " nullable" if field.nullable else ""
        msg = f"table {table}: column {name!r} must be non-null {expected}, is{nullable} {field.type}"
        raise ValueError(msg)


def stamp(schema: pa.Schema, table: TableName, version: int) -> pa.Schema:
    """``schema`` checked against the convention, stamped with ``table``, ``version`` and its ledger column.

    ``ValueError`` when the table is unknown, the version is not a positive int, or ``closed_at`` / the
    ledger column is missing or of another type (a declaration mistake, caught at import).
    """
    if table not in TABLES:
        msg = f"unknown table {table!r}; the tables are {list(TABLES)}"
        raise ValueError(msg)
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        msg = f"table {table}: schema version must be a positive int, got {version!r}"
        raise ValueError(msg)
    column = LEDGER_COLUMNS[table]
    _require_field(schema, table, CLOSED_AT_COLUMN, CLOSED_AT_TYPE)
    _require_field(schema, table, column, LEDGER_SEQUENCE_TYPE)
    metadata = dict(schema.metadata or {})
    metadata.update(
        {TABLE_KEY: table.encode(), VERSION_KEY: str(version).encode(), LEDGER_COLUMN_KEY: column.encode()}
    )
    return schema.with_metadata(metadata)


def _meta(schema: pa.Schema, key: bytes) -> str | None:
    raw = (schema.metadata or {}).get(key)
    return None if raw is None else raw.decode("utf-8", errors="replace")


def schema_table_name(schema: pa.Schema) -> str | None:
    """The table a schema declares itself to be; None when it carries no stamp."""
    return _meta(schema, TABLE_KEY)


def schema_version(schema: pa.Schema) -> int | None:
    """The schema version of a stamped schema; None when unstamped or not a decimal number."""
    text = _meta(schema, VERSION_KEY)
    return int(text) if text is not None and text.isascii() and text.isdecimal() else None


def ledger_column(schema: pa.Schema) -> str | None:
    """The column holding each row's ledger sequence, from the stamp (by table name if only that is there).

    None for a schema without a stamp, or whose stamped column it does not have.
    """
    column = _meta(schema, LEDGER_COLUMN_KEY)
    if column is None:
        column = _BY_TABLE.get(schema_table_name(schema) or "")
    return column if column is not None and column in schema.names else None


def closed_at_micros(close_time: int) -> int:
    """``scpValue.closeTime`` (unix seconds) as the microseconds of a ``closed_at`` value."""
    return close_time * 1_000_000
