"""Queries over the pipeline's tables: the one filter model, its parser and its two appliers.

* :class:`TransferFilter` — which ``token_transfers`` rows to keep (frozen, validated);
* :func:`filter_from_json` / :func:`filter_from_query` — Flight tickets and WebSocket messages / REST;
* :func:`filter_rows` / :func:`filter_mask` — applied to Arrow batches and tables (pyarrow compute);
  :func:`filter_expression` — the same as a ``pyarrow.dataset`` filter (predicate push-down);
* :func:`sql_conditions` / :func:`sql_where` — a parameterised DuckDB predicate;
* :func:`compile_where` — a ``where`` expression (a safe SQL ``WHERE`` subset) for pyarrow and DuckDB;
* :data:`NAMED_FILTERS` — pre-built filters by name (``successful_payments``, ``large_amounts``);
* :func:`run_sql` — read-only SQL over the tables in a locked-down DuckDB, with time and row limits.

Value parsers (:func:`parse_asset`, :func:`parse_strkey`, :func:`parse_amount`, ...) are public so that
settings and other inputs validate the same way.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any, Final

if TYPE_CHECKING:
    from stellar_arrow.query.arrow import (
        filter_expression,
        filter_mask,
        filter_rows,
        filter_where,
        where_mask,
    )
    from stellar_arrow.query.filter import MAX_VALUES, TransferFilter
    from stellar_arrow.query.named import (
        DEFAULT_LARGE_AMOUNT,
        NAMED_FILTERS,
        PAYMENT_OPERATIONS,
        build_named_filters,
        configure_named_filters,
        named_filters,
        parse_named_filter,
    )
    from stellar_arrow.query.parse import JSON_FIELDS, QUERY_FIELDS, filter_from_json, filter_from_query
    from stellar_arrow.query.readonly import SqlRefusedError, SqlResult, SqlTimeoutError, run_sql
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
    from stellar_arrow.query.where import MAX_WHERE_LENGTH, ExpressionError, Where, compile_where

__all__ = [
    "DEFAULT_LARGE_AMOUNT",
    "JSON_FIELDS",
    "MAX_VALUES",
    "MAX_WHERE_LENGTH",
    "NAMED_FILTERS",
    "PAYMENT_OPERATIONS",
    "QUERY_FIELDS",
    "ExpressionError",
    "SqlRefusedError",
    "SqlResult",
    "SqlTimeoutError",
    "TransferFilter",
    "Where",
    "build_named_filters",
    "compile_where",
    "configure_named_filters",
    "filter_expression",
    "filter_from_json",
    "filter_from_query",
    "filter_mask",
    "filter_rows",
    "filter_where",
    "format_amount",
    "format_time",
    "named_filters",
    "parse_amount",
    "parse_asset",
    "parse_asset_code",
    "parse_event_type",
    "parse_ledger",
    "parse_named_filter",
    "parse_operation_type",
    "parse_strkey",
    "parse_time",
    "parse_transaction_hash",
    "run_sql",
    "sql_conditions",
    "sql_where",
    "where_mask",
]

# name -> the submodule defining it: each is imported on first use of one of its names (``__getattr__``),
# so that e.g. the Flight services, which use the filter model, never load DuckDB or sqlglot (``run_sql``,
# ``compile_where``) unless a query or an expression asks for them.
_SUBMODULE: Final[dict[str, str]] = {
    "DEFAULT_LARGE_AMOUNT": "named",
    "ExpressionError": "where",
    "JSON_FIELDS": "parse",
    "MAX_VALUES": "filter",
    "MAX_WHERE_LENGTH": "where",
    "NAMED_FILTERS": "named",
    "PAYMENT_OPERATIONS": "named",
    "QUERY_FIELDS": "parse",
    "SqlRefusedError": "readonly",
    "SqlResult": "readonly",
    "SqlTimeoutError": "readonly",
    "TransferFilter": "filter",
    "Where": "where",
    "build_named_filters": "named",
    "compile_where": "where",
    "configure_named_filters": "named",
    "filter_expression": "arrow",
    "filter_from_json": "parse",
    "filter_from_query": "parse",
    "filter_mask": "arrow",
    "filter_rows": "arrow",
    "filter_where": "arrow",
    "format_amount": "values",
    "format_time": "values",
    "named_filters": "named",
    "parse_amount": "values",
    "parse_asset": "values",
    "parse_asset_code": "values",
    "parse_event_type": "values",
    "parse_ledger": "values",
    "parse_named_filter": "named",
    "parse_operation_type": "values",
    "parse_strkey": "values",
    "parse_time": "values",
    "parse_transaction_hash": "values",
    "run_sql": "readonly",
    "sql_conditions": "sql",
    "sql_where": "sql",
    "where_mask": "arrow",
}


if not TYPE_CHECKING:  # for type checkers the names are the imports above (a misspelt name stays an error)

    def __getattr__(name: str) -> Any:
        submodule = _SUBMODULE.get(name)
        if submodule is None:
            msg = f"module {__name__!r} has no attribute {name!r}"
            raise AttributeError(msg)
        value = getattr(importlib.import_module(f"{__name__}.{submodule}"), name)
        globals()[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted(__all__)
