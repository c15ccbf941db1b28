"""Which ``token_transfers`` rows an export writes: ``export.where``, ``operation_types``, ``named_filters``.

The three settings (``--where``, ``--operation-type``, ``--filter``) become one
:class:`~stellar_arrow.query.TransferFilter`, checked before any ledger is read (a bad expression is a
:class:`~stellar_arrow.errors.RequestError` naming ``export.where`` and the position: exit status 2).
The other tables are written whole. The filter's canonical text is kept in each chunk's manifest, so a
re-run with another filter writes the chunks again instead of trusting files cut by the old one.
"""

from __future__ import annotations

import json

import pyarrow as pa

from stellar_arrow.config import ExportSettings
from stellar_arrow.errors import ConfigError
from stellar_arrow.query import TransferFilter, compile_where, filter_rows, named_filters
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA, TOKEN_TRANSFERS_TABLE

__all__ = ["describe_filter", "export_filter", "keep_rows"]


def export_filter(options: ExportSettings) -> TransferFilter:
    """The filter of ``options``; refused when it is set but ``token_transfers`` is not exported."""
    where = None
    if options.where is not None:
        where = compile_where(options.where, TOKEN_TRANSFERS_SCHEMA, field="export.where")
    rows = TransferFilter(operation_types=options.operation_types, named=options.named_filters, where=where)
    if not rows.is_empty and TOKEN_TRANSFERS_TABLE not in options.tables:
        msg = (
            "export.where, export.operation_types and export.named_filters filter token_transfers rows, "
            f"but export.tables lists only {', '.join(options.tables)}"
        )
        raise ConfigError(msg, key="export.tables")
    return rows


def describe_filter(rows: TransferFilter) -> str:
    """Canonical text of ``rows`` for the chunk manifest (``""``: no filter); includes the threshold of
    ``large_amounts``, which decides what it keeps."""
    if rows.is_empty:
        return ""
    body: dict[str, object] = rows.to_json()
    if "large_amounts" in rows.named:
        body["large_amount_threshold"] = named_filters()["large_amounts"].min_amount
    return json.dumps(body, sort_keys=True, separators=(",", ":"))


def keep_rows(table: str, data: pa.Table, rows: TransferFilter) -> pa.Table:
    """``data`` of ``table`` as exported: ``token_transfers`` filtered, other tables whole."""
    if table != TOKEN_TRANSFERS_TABLE or rows.is_empty:
        return data
    return filter_rows(data, rows)
