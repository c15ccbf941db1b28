"""Named aggregations of ``token_transfers``, exact to the last stroop, run by DuckDB over a table's rows.

Every aggregation takes an :class:`AnalyticsQuery` (a ``where`` expression of :mod:`stellar_arrow.query`, a
close-time range ``[start_time, end_time)`` and an inclusive ledger range) and answers rows of plain values.
Amounts are summed as ``HUGEINT`` (128-bit integers) from ``amount_raw`` and returned as decimal text
(``*_raw``: raw units, ``*`` without the suffix: whole units with up to 7 decimals); never as floats. A sum
past the 128-bit range is refused with :class:`SumOverflowError` rather than rounded.

=================  ==========================================================================================
name               rows
=================  ==========================================================================================
volume_by_asset    per asset (``asset``, or the contract id of a custom token): ``transfers``, ``volume_raw``
transfers_by_hour  per UTC hour and asset: ``transfers``, ``volume_raw``
fees_by_hour       per UTC hour: ``fee_events``, ``transactions``, ``charged_raw``, ``refunded_raw``,
                   ``fees_raw`` (charged minus refunded)
top_accounts       per sending account and asset, largest volume first (``limit``, default 20, at most 1000):
                   ``account``, ``asset``, ``transfers``, ``volume_raw``
supply_changes     per asset: ``mints``, ``minted_raw``, ``burns``, ``burned_raw``, ``clawbacks``,
                   ``clawed_back_raw``, ``net_raw`` (minted - burned - clawed back)
=================  ==========================================================================================

``volume_by_asset``, ``transfers_by_hour`` and ``top_accounts`` count ``transfer`` events only;
``fees_by_hour`` ``fee`` events; ``supply_changes`` ``mint``, ``burn`` and ``clawback`` events.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, Protocol

import pyarrow as pa

from stellar_arrow.errors import RequestError
from stellar_arrow.query import Where, compile_where, format_time, parse_ledger, parse_time
from stellar_arrow.query.values import AMOUNT_DECIMALS

__all__ = [
    "AGGREGATIONS",
    "MAX_TOP_ACCOUNTS",
    "QUERY_PARAMS",
    "AnalyticsQuery",
    "SumOverflowError",
    "TableQueries",
    "UnknownAggregationError",
    "aggregation_sql",
    "format_raw",
    "parse_analytics_query",
    "run_aggregation",
]

TOKEN_TRANSFERS: Final = "token_transfers"
MAX_TOP_ACCOUNTS: Final = 1000
DEFAULT_TOP_ACCOUNTS: Final = 20
#: Query parameters every aggregation accepts (``limit``: ``top_accounts`` only).
QUERY_PARAMS: Final = ("where", "start_time", "end_time", "from_ledger", "to_ledger")
_DIGITS: Final = re.compile(r"[0-9]{1,10}")
_ASSET: Final = "coalesce(asset, contract_id)"
_HOUR: Final = "time_bucket(INTERVAL '1 hour', closed_at)"


def _exact(expression: str, only: str | None = None) -> str:
    """The exact sum of ``expression`` (over rows where ``only`` holds) as decimal text, 0 when none."""
    where = "" if only is None else f" FILTER (WHERE {only})"
    return f"coalesce(sum({expression}){where}, 0)::VARCHAR"


_RAW: Final = "amount_raw::HUGEINT"


def _supply_select() -> str:
    parts = [f"{_ASSET} AS asset"]
    for kind, plural, total in (
        ("mint", "mints", "minted"),
        ("burn", "burns", "burned"),
        ("clawback", "clawbacks", "clawed_back"),
    ):
        only = f"FILTER (WHERE event_type = '{kind}')"
        parts.append(f"count(*) {only}::BIGINT AS {plural}")
        parts.append(f"{_exact(_RAW, f'event_type = {kind!r}')} AS {total}_raw")
    signed = f"CASE WHEN event_type = 'mint' THEN {_RAW} ELSE -{_RAW} END"
    parts.append(f"{_exact(signed)} AS net_raw")
    return ", ".join(parts)


_SUPPLY_SELECT: Final = _supply_select()


class TableQueries(Protocol):
    """What the aggregations run on: SQL over one table's rows (``{src}`` in ``sql`` names them)."""

    def query(self, table: str, sql: str, params: Sequence[Any] = ()) -> pa.Table: ...

    def holds_rows(self, table: str) -> bool:
        """Whether ``table`` has any row now (``False``: every query would see an empty table)."""
        ...


class UnknownAggregationError(LookupError):
    """No aggregation of that name (HTTP 404 with the list of names)."""

    def __init__(self, name: str) -> None:
        self.names = list(AGGREGATIONS)
        super().__init__(f"no aggregation named {name[:60]!r}: the aggregations are {', '.join(self.names)}")
        self.name = name


class SumOverflowError(RequestError):
    """An exact sum left the 128-bit range: narrow the question (HTTP 400), never a rounded answer."""

    def __init__(self, name: str) -> None:
        msg = f"{name}: an exact sum exceeds the 128-bit range; narrow the where, time or ledger range"
        super().__init__(msg, field="where")


@dataclass(frozen=True, slots=True)
class AnalyticsQuery:
    """Which rows an aggregation reads: ``where`` AND the close-time and ledger ranges (all optional)."""

    where: Where | None = None
    start_time: datetime | None = None  # inclusive
    end_time: datetime | None = None  # exclusive
    from_ledger: int | None = None  # inclusive
    to_ledger: int | None = None  # inclusive
    limit: int = DEFAULT_TOP_ACCOUNTS

    @property
    def key(self) -> tuple[object, ...]:
        """A hashable identity for result caches."""
        text = None if self.where is None else self.where.text
        return (text, self.start_time, self.end_time, self.from_ledger, self.to_ledger, self.limit)

    def conditions(self) -> tuple[list[str], list[Any]]:
        conds: list[str] = []
        params: list[Any] = []
        if self.where is not None:
            conds.append(f"({self.where.sql})")
            params.extend(self.where.params)
        for column, op, value in (
            ("closed_at", ">=", self.start_time),
            ("closed_at", "<", self.end_time),
            ("ledger_sequence", ">=", self.from_ledger),
            ("ledger_sequence", "<=", self.to_ledger),
        ):
            if value is not None:
                conds.append(f"{column} {op} ?")
                params.append(value)
        return conds, params


@dataclass(frozen=True, slots=True)
class _Aggregation:
    event_types: tuple[str, ...]
    select: str  # the SELECT list and GROUP BY/ORDER BY around "FROM {src} WHERE ..."
    tail: str
    amounts: tuple[str, ...]  # *_raw columns: also given in whole units
    times: tuple[str, ...] = ()
    limited: bool = False


AGGREGATIONS: Final[Mapping[str, _Aggregation]] = {
    "volume_by_asset": _Aggregation(
        ("transfer",),
        f"{_ASSET} AS asset, count(*)::BIGINT AS transfers, {_exact(_RAW)} AS volume_raw",
        "GROUP BY 1 ORDER BY 1",
        ("volume_raw",),
    ),
    "transfers_by_hour": _Aggregation(
        ("transfer",),
        f"{_HOUR} AS hour, {_ASSET} AS asset, count(*)::BIGINT AS transfers, {_exact(_RAW)} AS volume_raw",
        "GROUP BY 1, 2 ORDER BY 1, 2",
        ("volume_raw",),
        ("hour",),
    ),
    "fees_by_hour": _Aggregation(
        ("fee",),
        f"{_HOUR} AS hour, count(*)::BIGINT AS fee_events, count(DISTINCT transaction_hash)::BIGINT AS "
        f"transactions, {_exact(_RAW, f'{_RAW} > 0')} AS charged_raw, "
        f"{_exact(f'-{_RAW}', f'{_RAW} < 0')} AS refunded_raw, {_exact(_RAW)} AS fees_raw",
        "GROUP BY 1 ORDER BY 1",
        ("charged_raw", "refunded_raw", "fees_raw"),
        ("hour",),
    ),
    "top_accounts": _Aggregation(
        ("transfer",),
        f'"from" AS account, {_ASSET} AS asset, count(*)::BIGINT AS transfers, sum({_RAW}) AS volume',
        'AND "from" IS NOT NULL GROUP BY 1, 2 ORDER BY volume DESC, account, asset LIMIT ?',
        ("volume_raw",),
        limited=True,
    ),
    "supply_changes": _Aggregation(
        ("mint", "burn", "clawback"),
        _SUPPLY_SELECT,
        "GROUP BY 1 ORDER BY 1",
        ("minted_raw", "burned_raw", "clawed_back_raw", "net_raw"),
    ),
}


def aggregation_sql(name: str, query: AnalyticsQuery) -> tuple[str, list[Any]]:
    """The DuckDB text (``{src}``: the table's rows) and parameters of aggregation ``name``."""
    spec = AGGREGATIONS.get(name)
    if spec is None:
        raise UnknownAggregationError(name)
    conds, params = query.conditions()
    kinds = ", ".join("?" for _ in spec.event_types)
    where = " AND ".join([f"event_type IN ({kinds})", *conds])
    select = spec.select
    sql = f"SELECT {select} FROM {{src}} WHERE {where} {spec.tail}"
    params = [*spec.event_types, *params]
    if spec.limited:
        sql = f"SELECT account, asset, transfers, volume::VARCHAR AS volume_raw FROM ({sql})"
        params.append(query.limit)
    return sql, params


def format_raw(raw: int) -> str:
    """Raw units as whole units, exactly (up to 7 decimals, no trailing zeros), signed."""
    whole, fraction = divmod(abs(raw), 10**AMOUNT_DECIMALS)
    tail = f"{fraction:0{AMOUNT_DECIMALS}d}".rstrip("0")
    text = f"{whole}.{tail}" if tail else str(whole)
    return f"-{text}" if raw < 0 else text


def run_aggregation(tables: TableQueries, name: str, query: AnalyticsQuery) -> list[dict[str, Any]]:
    """Rows of aggregation ``name`` as plain values: counts as ints, amounts and times as text."""
    spec = AGGREGATIONS.get(name)
    if spec is None:
        raise UnknownAggregationError(name)
    sql, params = aggregation_sql(name, query)
    import duckdb  # loaded by the store's first query anyway: only its exception class is needed here

    try:
        rows = tables.query(TOKEN_TRANSFERS, sql, params).to_pylist()
    except duckdb.OutOfRangeException:
        raise SumOverflowError(name) from None
    out: list[dict[str, Any]] = rows
    for row in out:
        for column in spec.amounts:
            row[column.removesuffix("_raw")] = format_raw(int(row[column]))
        for column in spec.times:
            row[column] = format_time(row[column])
    return out


def _limit(text: str) -> int:
    if _DIGITS.fullmatch(text) is None or not 1 <= int(text) <= MAX_TOP_ACCOUNTS:
        msg = f"limit {text[:60]!r} must be an integer in [1, {MAX_TOP_ACCOUNTS}]"
        raise RequestError(msg, field="limit")
    return int(text)


_PARSERS: Final[dict[str, Callable[[str], object]]] = {
    "start_time": lambda v: parse_time(v, "start_time"),
    "end_time": lambda v: parse_time(v, "end_time"),
    "from_ledger": lambda v: parse_ledger(v, "from_ledger"),
    "to_ledger": lambda v: parse_ledger(v, "to_ledger"),
    "limit": _limit,
}


def parse_analytics_query(name: str, params: Mapping[str, str], schema: pa.Schema) -> AnalyticsQuery:
    """Query parameters of ``GET /api/v1/analytics/{name}`` -> an :class:`AnalyticsQuery` (400 when bad)."""
    spec = AGGREGATIONS.get(name)
    if spec is None:
        raise UnknownAggregationError(name)
    allowed = QUERY_PARAMS + (("limit",) if spec.limited else ())
    for key in params:
        if key not in allowed:
            msg = f"unknown query parameter {key[:60]!r} for {name}: use {', '.join(allowed)}"
            raise RequestError(msg, field=key[:60])
    values: dict[str, Any] = {k: _PARSERS[k](v) for k, v in params.items() if k in _PARSERS}
    if "where" in params:
        values["where"] = compile_where(params["where"], schema)
    query = AnalyticsQuery(**values)
    if query.start_time and query.end_time and query.start_time >= query.end_time:
        msg = "start_time must be before end_time"
        raise RequestError(msg, field="start_time")
    if query.from_ledger and query.to_ledger and query.from_ledger > query.to_ledger:
        msg = "from_ledger must not be after to_ledger"
        raise RequestError(msg, field="from_ledger")
    return query
