"""Queries over the pipeline's tables: the one filter model, its parser and its two appliers.

* :class:`TransferFilter` — which ``token_transfers`` rows to keep (frozen, validated);
* :func:`filter_from_json` / :func:`filter_from_query` — Flight tickets and WebSocket messages / REST;
* :func:`filter_rows` / :func:`filter_mask` — applied to Arrow batches and tables (pyarrow compute);
* :func:`sql_conditions` / :func:`sql_where` — a parameterised DuckDB predicate.

Value parsers (:func:`parse_asset`, :func:`parse_strkey`, :func:`parse_amount`, ...) are public so that
settings and other inputs validate the same way.
"""

from __future__ import annotations

from stellar_arrow.query.arrow import filter_mask, filter_rows
from stellar_arrow.query.filter import MAX_VALUES, TransferFilter
from stellar_arrow.query.parse import JSON_FIELDS, QUERY_FIELDS, filter_from_json, filter_from_query
from stellar_arrow.query.sql import sql_conditions, sql_where
from stellar_arrow.query.values import (
    format_amount,
    format_time,
    parse_amount,
    parse_asset,
    parse_asset_code,
    parse_event_type,
    parse_ledger,
    parse_operation_type,
    parse_strkey,
    parse_time,
    parse_transaction_hash,
)

__all__ = [
    "JSON_FIELDS",
    "MAX_VALUES",
    "QUERY_FIELDS",
    "TransferFilter",
    "filter_from_json",
    "filter_from_query",
    "filter_mask",
    "filter_rows",
    "format_amount",
    "format_time",
    "parse_amount",
    "parse_asset",
    "parse_asset_code",
    "parse_event_type",
    "parse_ledger",
    "parse_operation_type",
    "parse_strkey",
    "parse_time",
    "parse_transaction_hash",
    "sql_conditions",
    "sql_where",
]
