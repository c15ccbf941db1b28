"""Arrow tables of ledgers, transactions and operations: one versioned schema per table, columnar builders.

Pure: decoded ledgers in, ``pyarrow.RecordBatch`` out. Decoding a ledger once for every table (these
three and ``token_transfers``) is :mod:`stellar_arrow.build`.
"""

from __future__ import annotations

from stellar_arrow.schema import schema_table_name
from stellar_arrow.tables.details import asset_string, operation_details, operation_details_json
from stellar_arrow.tables.ledgers import LEDGERS_SCHEMA, LedgersBuilder
from stellar_arrow.tables.operations import OPERATIONS_SCHEMA, OperationsBuilder
from stellar_arrow.tables.schema import SCHEMA_VERSION
from stellar_arrow.tables.transactions import TRANSACTIONS_SCHEMA, TransactionsBuilder

__all__ = [
    "LEDGERS_SCHEMA",
    "OPERATIONS_SCHEMA",
    "SCHEMA_VERSION",
    "TRANSACTIONS_SCHEMA",
    "LedgersBuilder",
    "OperationsBuilder",
    "TransactionsBuilder",
    "asset_string",
    "operation_details",
    "operation_details_json",
    "schema_table_name",
]
