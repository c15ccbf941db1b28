"""Seeding the rolling windows from the data a store already holds (committed files and live rows)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

from stellar_arrow.analytics.aggregations import TableQueries
from stellar_arrow.analytics.windows import WINDOWS, RollingWindows, WindowName

__all__ = ["EVENT_ID_SQL", "seed_windows", "window_rows"]

TOKEN_TRANSFERS: Final = "token_transfers"
#: The event id (``ledger << 32 | event_index``) of a ``token_transfers`` row, in DuckDB.
EVENT_ID_SQL: Final = "((ledger_sequence::BIGINT << 32) | event_index::BIGINT)"


def window_rows(tables: TableQueries, name: WindowName, newest: int, last_id: int) -> list[dict[str, Any]]:
    """Per bucket and asset: the totals of window ``name`` ending at ``newest`` over events <= ``last_id``."""
    spec = WINDOWS[name]
    g = spec.bucket_seconds
    first = datetime.fromtimestamp((newest // g - spec.buckets + 1) * g, tz=UTC)
    raw = "amount_raw::HUGEINT"
    sql = (
        f"SELECT epoch_ms(closed_at) // {g * 1000} AS bucket, coalesce(asset, contract_id) AS asset, "
        "count(*)::BIGINT AS events, count(*) FILTER (WHERE event_type = 'transfer')::BIGINT AS transfers, "
        f"coalesce(sum({raw}) FILTER (WHERE event_type = 'transfer'), 0)::VARCHAR AS volume_raw, "
        "count(*) FILTER (WHERE event_type = 'fee')::BIGINT AS fee_events, "
        f"coalesce(sum({raw}) FILTER (WHERE event_type = 'fee'), 0)::VARCHAR AS fees_raw "
        f"FROM {{src}} WHERE closed_at >= ? AND {EVENT_ID_SQL} <= ? GROUP BY 1, 2 ORDER BY 1, 2"
    )
    rows: list[dict[str, Any]] = tables.query(TOKEN_TRANSFERS, sql, [first, last_id]).to_pylist()
    return rows


def seed_windows(windows: RollingWindows, tables: TableQueries) -> None:
    """Fill ``windows`` with what ``tables`` hold now (then the rows parked meanwhile are counted).

    An empty table (a fresh run) needs no query: the store then never starts DuckDB unless asked.
    """
    if not tables.holds_rows(TOKEN_TRANSFERS):
        windows.seed({}, -1, None)
        return
    head = tables.query(
        TOKEN_TRANSFERS,
        f"SELECT max({EVENT_ID_SQL}) AS last_id, max(epoch_ms(closed_at)) // 1000 AS newest FROM {{src}}",
    ).to_pylist()[0]
    if head["last_id"] is None:
        windows.seed({}, -1, None)
        return
    last_id, newest = int(head["last_id"]), int(head["newest"])
    buckets = {name: window_rows(tables, name, newest, last_id) for name in WINDOWS}
    windows.seed(buckets, last_id, newest)
