"""The words of the domain, declared once: event types, operation types, tables and output formats.

Every module that names one of these imports it from here (a test checks that no other module spells
the lists again). Pure: no I/O.
"""

from __future__ import annotations

from typing import Final, Literal, get_args

from stellar_arrow.xdr.model import OperationType

__all__ = [
    "EVENT_TYPES",
    "FILE_FORMATS",
    "NON_FEE_EVENT_TYPES",
    "OPERATION_TYPES",
    "OPERATION_TYPE_BY_NAME",
    "OUTPUT_FORMATS",
    "SOURCE_TABLES",
    "TABLES",
    "TEXT_FORMATS",
    "EventType",
    "OutputFormat",
    "TableName",
    "operation_type_name",
]

#: Token transfer event kinds, in the order of the reference processor's documentation.
EventType = Literal["transfer", "mint", "burn", "clawback", "fee"]
EVENT_TYPES: Final[tuple[EventType, ...]] = get_args(EventType)
NON_FEE_EVENT_TYPES: Final[tuple[EventType, ...]] = tuple(t for t in EVENT_TYPES if t != "fee")

#: The four tables, by their Hubble-style names.
TableName = Literal["ledgers", "transactions", "operations", "token_transfers"]
TABLES: Final[tuple[TableName, ...]] = get_args(TableName)
#: The tables the source builds from a ledger without deriving events.
SOURCE_TABLES: Final[tuple[TableName, ...]] = ("ledgers", "transactions", "operations")

#: Output formats of ``export`` and the sink: three file formats (one file per table and partition or
#: chunk) and ``delta`` (one Delta Lake table per table under ``delta/``).
OutputFormat = Literal["parquet", "jsonl", "csv", "delta"]
OUTPUT_FORMATS: Final[tuple[OutputFormat, ...]] = get_args(OutputFormat)
FILE_FORMATS: Final[tuple[OutputFormat, ...]] = ("parquet", "jsonl", "csv")
TEXT_FORMATS: Final[tuple[OutputFormat, ...]] = ("jsonl", "csv")

#: Operation type names as Hubble spells them (``payment``, ``path_payment_strict_receive``...), by XDR value.
OPERATION_TYPES: Final[dict[int, str]] = {value: name.lower() for value, name in OperationType.NAMES.items()}
OPERATION_TYPE_BY_NAME: Final[dict[str, int]] = {name: value for value, name in OPERATION_TYPES.items()}


def operation_type_name(value: int) -> str:
    """``payment`` for 1; the number as text for a type newer than the schema."""
    return OPERATION_TYPES.get(value, str(value))
