"""A :class:`~stellar_arrow.query.filter.TransferFilter` as a parameterised DuckDB predicate.

Values travel only as ``?`` parameters, never inside the SQL text; the text holds nothing but fixed column
names and operators. Amounts compare as ``HUGEINT`` (i128, exact), times as ``TIMESTAMPTZ``. Semantics
are those of :func:`stellar_arrow.query.arrow.filter_mask` (a test runs both on the same rows).
"""

from __future__ import annotations

from typing import Final

from stellar_arrow.query.filter import TransferFilter
from stellar_arrow.query.named import named_filters

__all__ = ["sql_conditions", "sql_where"]

_ACCOUNT_COLUMNS: Final = ('"from"', '"to"', '"to_muxed"')


def _placeholders(count: int) -> str:
    return ", ".join("?" for _ in range(count))


def sql_conditions(f: TransferFilter) -> tuple[list[str], list[object]]:
    """``(conditions, parameters)``: AND the conditions; parameters bind the ``?`` in order."""
    conds: list[str] = []
    params: list[object] = []

    def add(sql: str, *values: object) -> None:
        conds.append(sql)
        params.extend(values)

    if f.event_types:
        add(f"event_type IN ({_placeholders(len(f.event_types))})", *f.event_types)
    if f.assets:
        either: list[str] = []
        if f.classic_assets:
            either.append(f"asset IN ({_placeholders(len(f.classic_assets))})")
        if f.contract_ids:
            either.append(f"contract_id IN ({_placeholders(len(f.contract_ids))})")
        add(f"({' OR '.join(either)})", *f.classic_assets, *f.contract_ids)
    if f.accounts:
        listed = _placeholders(len(f.accounts))
        add(
            "(" + " OR ".join(f"{c} IN ({listed})" for c in _ACCOUNT_COLUMNS) + ")",
            *(f.accounts * len(_ACCOUNT_COLUMNS)),
        )
    if f.asset_codes:
        add(f"asset_code IN ({_placeholders(len(f.asset_codes))})", *f.asset_codes)
    if f.transaction_hash is not None:
        add("transaction_hash = ?", f.transaction_hash)
    if f.min_amount is not None:
        add("amount_raw::HUGEINT >= ?::HUGEINT", str(f.min_amount))
    if f.max_amount is not None:
        add("amount_raw::HUGEINT <= ?::HUGEINT", str(f.max_amount))
    if f.from_ledger is not None:
        add("ledger_sequence >= ?", f.from_ledger)
    if f.to_ledger is not None:
        add("ledger_sequence <= ?", f.to_ledger)
    if f.start_time is not None:
        add("closed_at >= ?", f.start_time)
    if f.end_time is not None:
        add("closed_at < ?", f.end_time)
    if f.operation_types:
        add(f"operation_type IN ({_placeholders(len(f.operation_types))})", *f.operation_types)
    if f.where is not None:
        add(f"({f.where.sql})", *f.where.params)
    if f.named:
        known = named_filters()
        for name in f.named:
            more, values = sql_conditions(known[name])
            conds.extend(more)
            params.extend(values)
    return conds, params


def sql_where(f: TransferFilter) -> tuple[str, list[object]]:
    """``("WHERE ...", parameters)``, or ``("", [])`` when the filter keeps every row."""
    conds, params = sql_conditions(f)
    return (f"WHERE {' AND '.join(conds)}" if conds else ""), params
