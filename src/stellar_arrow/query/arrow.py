"""Applying a :class:`~stellar_arrow.query.filter.TransferFilter` to Arrow rows with pyarrow compute.

A filter becomes one boolean mask (no nulls: a null compares as "no match"), built column by column with
vectorised kernels; amounts are compared exactly as ``decimal256(76, 0)`` (wide enough for any i128), times
as timestamps, never as floats or text. Works on a ``RecordBatch`` or a ``Table`` of the
``token_transfers`` schema (columns are read by name).
"""

from __future__ import annotations

from decimal import Decimal
from typing import Final, Protocol, TypeAlias, TypeVar

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds

from stellar_arrow.errors import RequestError
from stellar_arrow.query.filter import TransferFilter
from stellar_arrow.query.named import named_filters
from stellar_arrow.query.where import Where

__all__ = ["filter_expression", "filter_mask", "filter_rows", "filter_where", "where_mask"]

Rows = TypeVar("Rows", pa.RecordBatch, pa.Table)
Mask: TypeAlias = pa.Array | pa.ChunkedArray | pc.Expression

_EXACT: Final = pa.decimal256(76, 0)
_TIME: Final = pa.timestamp("us", tz="UTC")
_ACCOUNT_COLUMNS: Final = ("from", "to", "to_muxed")


class _Columns(Protocol):
    @property
    def schema(self) -> pa.Schema: ...

    def column(self, name: str) -> Mask: ...


class _Fields:
    """The columns of ``schema`` as dataset expressions: :func:`_terms` over it builds one expression."""

    def __init__(self, schema: pa.Schema) -> None:
        self.schema = schema

    def column(self, name: str) -> Mask:
        return pc.field(name)


def _cast(values: Mask, to: pa.DataType) -> Mask:
    return values.cast(to) if isinstance(values, pc.Expression) else pc.cast(values, to)


def _either(left: Mask, right: Mask) -> Mask:
    """``left OR right`` (Kleene) on arrays or on expressions (where ``pc.or_`` binds no kernel)."""
    if isinstance(left, pc.Expression):
        return left | right
    return pc.or_kleene(left, right)


def _column(rows: _Columns, name: str, field: str) -> Mask:
    if name not in rows.schema.names:
        msg = f"{field}: these rows have no {name!r} column to filter on"
        raise RequestError(msg, field=field)
    return rows.column(name)


def _one_of(column: Mask, values: tuple[str, ...]) -> Mask:
    return pc.is_in(column, value_set=pa.array(values, pa.string()))


def _terms(rows: _Columns, f: TransferFilter) -> list[Mask]:
    terms: list[Mask] = []
    if f.event_types:
        terms.append(_one_of(_column(rows, "event_type", "event_types"), f.event_types))
    if f.assets:
        either: list[Mask] = []
        if f.classic_assets:
            either.append(_one_of(_column(rows, "asset", "assets"), f.classic_assets))
        if f.contract_ids:
            either.append(_one_of(_column(rows, "contract_id", "assets"), f.contract_ids))
        terms.append(either[0] if len(either) == 1 else _either(either[0], either[1]))
    if f.accounts:
        present = [c for c in _ACCOUNT_COLUMNS if c in rows.schema.names] or ["from"]
        by_account = [_one_of(_column(rows, c, "accounts"), f.accounts) for c in present]
        term = by_account[0]
        for more in by_account[1:]:
            term = _either(term, more)
        terms.append(term)
    if f.asset_codes:
        terms.append(_one_of(_column(rows, "asset_code", "asset_codes"), f.asset_codes))
    if f.transaction_hash is not None:
        terms.append(pc.equal(_column(rows, "transaction_hash", "transaction_hash"), f.transaction_hash))
    if f.min_amount is not None or f.max_amount is not None:
        field = "min_amount" if f.min_amount is not None else "max_amount"
        raw = _cast(_column(rows, "amount_raw", field), _EXACT)
        if f.min_amount is not None:
            terms.append(pc.greater_equal(raw, pa.scalar(Decimal(f.min_amount), _EXACT)))
        if f.max_amount is not None:
            terms.append(pc.less_equal(raw, pa.scalar(Decimal(f.max_amount), _EXACT)))
    if f.from_ledger is not None:
        ledger = _column(rows, "ledger_sequence", "from_ledger")
        terms.append(pc.greater_equal(ledger, pa.scalar(f.from_ledger, pa.int64())))
    if f.to_ledger is not None:
        ledger = _column(rows, "ledger_sequence", "to_ledger")
        terms.append(pc.less_equal(ledger, pa.scalar(f.to_ledger, pa.int64())))
    if f.start_time is not None:
        closed = _column(rows, "closed_at", "start_time")
        terms.append(pc.greater_equal(closed, pa.scalar(f.start_time, _TIME)))
    if f.end_time is not None:
        closed = _column(rows, "closed_at", "end_time")
        terms.append(pc.less(closed, pa.scalar(f.end_time, _TIME)))
    if f.operation_types:
        terms.append(_one_of(_column(rows, "operation_type", "operation_types"), f.operation_types))
    if f.where is not None:
        terms.append(f.where.arrow if isinstance(rows, _Fields) else where_mask(rows, f.where))
    if f.named:
        known = named_filters()
        for name in f.named:
            terms.extend(_terms(rows, known[name]))
    return terms


def where_mask(rows: pa.RecordBatch | pa.Table, where: Where, *, field: str = "where") -> Mask:
    """The value (true, false or null) of a compiled ``where`` expression on every row, in order."""
    source = ds.dataset(rows if isinstance(rows, pa.Table) else [rows])
    try:
        projected = source.to_table(columns={"keep": where.arrow}, use_threads=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        msg = f"{field}: {where.text!r:.200} does not apply to these rows ({exc})"
        raise RequestError(msg, field=field) from None
    return projected.column("keep")


def filter_mask(rows: pa.RecordBatch | pa.Table, f: TransferFilter) -> Mask | None:
    """The boolean mask (without nulls) of the rows ``f`` keeps, or ``None`` when it keeps them all.

    A condition on a column ``rows`` lack is a :class:`RequestError` naming the filter field.
    """
    terms = _terms(rows, f)
    if not terms:
        return None
    mask = terms[0]
    for term in terms[1:]:
        mask = pc.and_kleene(mask, term)
    mask = pc.fill_null(mask, False)
    if isinstance(rows, pa.RecordBatch) and isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks() if mask.num_chunks != 1 else mask.chunk(0)
    return mask


def filter_expression(f: TransferFilter, schema: pa.Schema) -> pc.Expression | None:
    """``f`` as one dataset expression over ``schema`` (``None``: keeps every row), for predicate push-down.

    ``pyarrow.dataset`` scanners take it as ``filter=``: files and row groups whose statistics exclude it
    are skipped, and a null compares as "no match", as in :func:`filter_mask`. Same terms, same errors.
    """
    terms = _terms(_Fields(schema), f)
    if not terms:
        return None
    expression = terms[0]
    for term in terms[1:]:
        expression = pc.and_kleene(expression, term)
    assert isinstance(expression, pc.Expression)
    return expression


def filter_rows(rows: Rows, f: TransferFilter | None) -> Rows:
    """The rows of ``rows`` (a batch or a table, order kept) that ``f`` keeps."""
    if f is None:
        return rows
    mask = filter_mask(rows, f)
    return rows if mask is None else rows.filter(mask)


def filter_where(rows: Rows, where: Where | None) -> Rows:
    """The rows of any table (order kept) for which ``where`` is true (``None``: all of them)."""
    if where is None:
        return rows
    mask = pc.fill_null(where_mask(rows, where), False)
    if isinstance(rows, pa.RecordBatch) and isinstance(mask, pa.ChunkedArray):
        mask = mask.combine_chunks()
    return rows.filter(mask)
