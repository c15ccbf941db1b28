"""Analytics over ``token_transfers``: named exact aggregations, rolling windows, a result cache.

* :func:`run_aggregation` with :data:`AGGREGATIONS` (``volume_by_asset``, ``transfers_by_hour``,
  ``fees_by_hour``, ``top_accounts``, ``supply_changes``) and :func:`parse_analytics_query`;
* :class:`RollingWindows` (1 min, 1 h, 24 h per asset, bounded memory) and :func:`seed_windows`;
* :class:`ResultCache` (LRU by bytes, keyed by data version, dropped on commit, hit/miss counters).
"""

from __future__ import annotations

from stellar_arrow.analytics.aggregations import (
    AGGREGATIONS,
    MAX_TOP_ACCOUNTS,
    QUERY_PARAMS,
    AnalyticsQuery,
    SumOverflowError,
    TableQueries,
    UnknownAggregationError,
    aggregation_sql,
    format_raw,
    parse_analytics_query,
    run_aggregation,
)
from stellar_arrow.analytics.cache import MAX_RESULT_BYTES, ResultCache
from stellar_arrow.analytics.realtime import EVENT_ID_SQL, seed_windows, window_rows
from stellar_arrow.analytics.windows import (
    OTHER_ASSETS,
    WINDOWS,
    RollingWindows,
    WindowName,
    WindowSpec,
    parse_window,
)

__all__ = [
    "AGGREGATIONS",
    "EVENT_ID_SQL",
    "MAX_RESULT_BYTES",
    "MAX_TOP_ACCOUNTS",
    "OTHER_ASSETS",
    "QUERY_PARAMS",
    "WINDOWS",
    "AnalyticsQuery",
    "ResultCache",
    "RollingWindows",
    "SumOverflowError",
    "TableQueries",
    "UnknownAggregationError",
    "WindowName",
    "WindowSpec",
    "aggregation_sql",
    "format_raw",
    "parse_analytics_query",
    "parse_window",
    "run_aggregation",
    "seed_windows",
    "window_rows",
]
