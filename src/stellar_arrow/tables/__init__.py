"""Arrow tables of ledgers, transactions and operations: one versioned schema per table, columnar builders.

Pure: decoded ledgers in, ``pyarrow.RecordBatch`` out.
"""

from __future__ import annotations

from stellar_arrow.schema import schema_table_name
from stellar_arrow.tables.details import asset_string, operation_details, operation_details_json
from stellar_arrow.tables.ledgers import LEDGERS_SCHEMA, LedgersBuilder
from stellar_arrow.tables.operations import OPERATIONS_SCHEMA, OperationsBuilder
from stellar_arrow.tables.schema import SCHEMA_VERSION
from stellar_arrow.tables.tableset import (
    DECODERS,
    TABLE_NAMES,
    TableSet,
    TableSetOptions,
    table_schema,
    token_transfers_function,
)
from stellar_arrow.tables.transactions import TRANSACTIONS_SCHEMA, TransactionsBuilder

__all__ = [
    "DECODERS",
    "LEDGERS_SCHEMA",
    "OPERATIONS_SCHEMA",
    "SCHEMA_VERSION",
    "TABLE_NAMES",
    "TRANSACTIONS_SCHEMA",
    "LedgersBuilder",
    "OperationsBuilder",
    "TableSet",
    "TableSetOptions",
    "TransactionsBuilder",
    "asset_string",
    "operation_details",
    "operation_details_json",
    "schema_table_name",
    "table_schema",
    "token_transfers_function",
]
