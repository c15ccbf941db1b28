"""Queries on DuckDB over committed Parquet files plus the sink's not-yet-committed rows.

The store reads through a :class:`~stellar_arrow.sink.base.TableReader` (a live sink's reader, a finished
output directory, or a fake from :mod:`stellar_arrow.testing`). Each query takes one
:class:`~stellar_arrow.sink.base.TableView` (files and live rows swapped atomically by the sink),
registers the live rows as an Arrow view on a fresh DuckDB cursor and reads the files by explicit
list, so a just-streamed event is visible at once and a file being written is never read. Decoded rows of
recently used files are kept in a :class:`~stellar_arrow.api.mirror.FileCache` bounded by ``cache_bytes``;
the store holds no other copy of the data. DuckDB is imported and connected by the first query: a run
whose API is never asked anything does not load it.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Final, Literal

import pyarrow as pa
import pyarrow.dataset as ds

from stellar_arrow.api.filters import Paging, split_event_id
from stellar_arrow.api.mirror import FileCache, parquet_sql
from stellar_arrow.query import TransferFilter, sql_conditions
from stellar_arrow.sink.base import TableReader, TableView
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_TABLE

if TYPE_CHECKING:
    import duckdb

__all__ = ["DEFAULT_CACHE_BYTES", "Interval", "TransferStore"]

Interval = Literal["ledger", "minute", "hour", "day"]
TT: Final = TOKEN_TRANSFERS_TABLE
_ORDER_KEY: Final = "ledger_sequence {o}, event_index {o}"
#: Decoded rows of committed files kept for reuse across queries (LRU by bytes).
DEFAULT_CACHE_BYTES: Final = 128 * 1024 * 1024


class TransferStore:
    """The query side of the API: typed questions in, Arrow tables out."""

    def __init__(
        self, reader: TableReader, *, threads: int = 2, cache_bytes: int = DEFAULT_CACHE_BYTES
    ) -> None:
        self.reader = reader
        self._threads = int(threads)
        self._db: duckdb.DuckDBPyConnection | None = None  # connected by the first query
        self._closed = False
        self.files = FileCache(cache_bytes)
        self._live_names = 0
        self._names_lock = threading.Lock()

    def _connection(self) -> duckdb.DuckDBPyConnection:
        """The store's DuckDB connection, made on first use (call with ``_names_lock`` held)."""
        import duckdb

        if self._closed:
            msg = "the transfer store is closed"
            raise duckdb.ConnectionException(msg)
        if self._db is None:
            db = duckdb.connect(":memory:")
            db.execute(f"SET GLOBAL threads = {self._threads}")
            db.execute("SET GLOBAL TimeZone = 'UTC'")
            db.execute("SET GLOBAL parquet_metadata_cache = true")
            self._db = db
        return self._db

    def has_table(self, table: str) -> bool:
        return table in self.reader.tables()

    def holds_rows(self, table: str) -> bool:
        """Whether ``table`` has a committed file or a live row now (an empty one needs no query)."""
        view = self.reader.view(table)
        return bool(view.files) or view.live.num_rows > 0

    def schema(self, table: str) -> pa.Schema:
        return self.reader.view(table).schema

    def _name(self, cur: duckdb.DuckDBPyConnection, table: str, rows: pa.Table) -> str:
        with self._names_lock:
            self._live_names += 1
            name = f"rows_{table}_{self._live_names}"
        cur.register(name, rows)
        return name

    def _from(self, cur: duckdb.DuckDBPyConnection, view: TableView) -> str:
        """The view's rows as one SQL source: cached files, files read from Parquet, live rows."""
        parts: list[str] = []
        found = self.files.sources(view.table, view.files, view.schema)
        if found.cached is not None:
            parts.append(self._name(cur, view.table, found.cached))
        if found.files:
            parts.append(parquet_sql(found.files))
        if view.live.num_rows or not parts:
            parts.append(self._name(cur, view.table, view.live))
        if len(parts) == 1:
            return parts[0]
        return "(" + " UNION ALL BY NAME ".join(f"SELECT * FROM {p}" for p in parts) + ")"

    def _run(self, table: str, sql: str, params: Sequence[Any]) -> tuple[pa.Table, pa.Schema]:
        view = self.reader.view(table)
        with self._names_lock:  # cursor creation on a shared connection is serialized
            cur = self._connection().cursor()
        try:
            text = sql.replace("{src}", self._from(cur, view))
            return cur.sql(text, params=list(params)).to_arrow_table(), view.schema
        finally:
            cur.close()

    def query(self, table: str, sql: str, params: Sequence[Any] = ()) -> pa.Table:
        """Run ``sql`` with ``{src}`` replaced by the table's current rows (files + live)."""
        return self._run(table, sql, params)[0]

    def _rows(self, table: str, sql: str, params: Sequence[Any]) -> pa.Table:
        """Whole rows of ``table``, cast back to its schema (DuckDB widens timestamps, views strings)."""
        result, schema = self._run(table, sql, params)
        return result.select(schema.names).cast(schema)

    # -- token transfers -------------------------------------------------------------------------------------

    @staticmethod
    def where(f: TransferFilter) -> tuple[list[str], list[Any]]:
        """The filter as DuckDB conditions and parameters (:func:`stellar_arrow.query.sql_conditions`)."""
        return sql_conditions(f)

    def transfers(self, f: TransferFilter, paging: Paging) -> pa.Table:
        """One page of events in (ledger_sequence, event_index) order, after ``paging.cursor``."""
        conds, params = self.where(f)
        if paging.cursor is not None:
            ledger, index = split_event_id(paging.cursor)
            op = ">" if paging.order == "asc" else "<"
            conds.append(f"(ledger_sequence {op} ? OR (ledger_sequence = ? AND event_index {op} ?))")
            params.extend([ledger, ledger, index])
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        order = _ORDER_KEY.format(o=paging.order.upper())
        sql = f"SELECT * FROM {{src}} {where} ORDER BY {order} LIMIT {int(paging.limit)}"
        return self._rows(TT, sql, params)

    def transfer(self, token: int) -> pa.Table:
        ledger, index = split_event_id(token)
        sql = "SELECT * FROM {src} WHERE ledger_sequence = ? AND event_index = ?"
        return self._rows(TT, sql, [ledger, index])

    def transaction_events(self, tx_hash: str) -> pa.Table:
        sql = f"SELECT * FROM {{src}} WHERE transaction_hash = ? ORDER BY {_ORDER_KEY.format(o='ASC')}"
        return self._rows(TT, sql, [tx_hash])

    def ledger_transfers(self, sequence: int) -> pa.Table:
        sql = "SELECT event_type, count(*)::INTEGER AS events, min(closed_at) AS closed_at, "
        sql += "count(DISTINCT transaction_hash)::INTEGER AS transactions "
        sql += "FROM {src} WHERE ledger_sequence = ? GROUP BY event_type ORDER BY event_type"
        return self.query(TT, sql, [sequence])

    def lookup(self, table: str, column: str, value: Any) -> pa.Table:
        """Rows of another pipeline table (``ledgers``, ``transactions``) where ``column = value``."""
        return self._rows(table, f'SELECT * FROM {{src}} WHERE "{column}" = ?', [value])

    def volume(self, f: TransferFilter, interval: Interval) -> pa.Table:
        """Per time bucket and asset: event count and exact sum of ``amount_raw`` (as a decimal string)."""
        conds, params = self.where(f)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        if interval == "ledger":
            sql = (
                "SELECT ledger_sequence AS ledger, min(closed_at) AS bucket, "
                "coalesce(asset, contract_id) AS asset, count(*)::INTEGER AS events, "
                "sum(amount_raw::HUGEINT)::VARCHAR AS volume_raw "
                f"FROM {{src}} {where} GROUP BY ledger_sequence, 3 ORDER BY ledger, asset"
            )
            return self.query(TT, sql, params)
        sql = (
            f"SELECT time_bucket(INTERVAL '1 {interval}', closed_at) AS bucket, "
            "coalesce(asset, contract_id) AS asset, count(*)::INTEGER AS events, "
            "sum(amount_raw::HUGEINT)::VARCHAR AS volume_raw, "
            "min(ledger_sequence) AS first_ledger, max(ledger_sequence) AS last_ledger "
            f"FROM {{src}} {where} GROUP BY ALL ORDER BY bucket, asset"
        )
        return self.query(TT, sql, params)

    def top_assets(self, f: TransferFilter, limit: int) -> pa.Table:
        conds, params = self.where(f)
        where = f"WHERE {' AND '.join(conds)}" if conds else ""
        sql = (
            "SELECT coalesce(asset, contract_id) AS asset, count(*)::INTEGER AS events, "
            'sum(amount_raw::HUGEINT)::VARCHAR AS volume_raw, count(DISTINCT "from")::INTEGER AS senders '
            f"FROM {{src}} {where} GROUP BY ALL ORDER BY events DESC, asset LIMIT {int(limit)}"
        )
        return self.query(TT, sql, params)

    def recent_ledgers(self, count: int) -> list[dict[str, Any]]:
        """The newest ``count`` ledgers with events: sequence, close time, event count (newest last)."""
        if not self.holds_rows(TT):
            return []
        sql = (
            "SELECT ledger_sequence, min(closed_at) AS closed_at, count(*)::INTEGER AS transfers FROM {src} "
            f"GROUP BY 1 ORDER BY 1 DESC LIMIT {int(count)}"
        )
        rows: list[dict[str, Any]] = self.query(TT, sql).to_pylist()
        return rows[::-1]

    def summary(self) -> dict[str, Any]:
        sql = (
            "SELECT count(*)::INTEGER AS events, min(ledger_sequence) AS first_ledger, "
            "max(ledger_sequence) AS last_ledger, count(DISTINCT transaction_hash)::INTEGER AS transactions, "
            "min(closed_at) AS first_closed_at, max(closed_at) AS last_closed_at FROM {src}"
        )
        row: dict[str, Any] = self.query(TT, sql).to_pylist()[0]
        by_type = self.query(TT, "SELECT event_type, count(*)::INTEGER AS n FROM {src} GROUP BY 1 ORDER BY 1")
        row["by_event_type"] = {r["event_type"]: r["n"] for r in by_type.to_pylist()}
        return row

    def events_after(self, ledger_sequence: int, event_index: int, f: TransferFilter, limit: int) -> pa.Table:
        """Events strictly after (ledger, index) in order; the WebSocket replay pages through this."""
        conds, params = self.where(f)
        conds.append("(ledger_sequence > ? OR (ledger_sequence = ? AND event_index > ?))")
        params.extend([ledger_sequence, ledger_sequence, event_index])
        sql = f"SELECT * FROM {{src}} WHERE {' AND '.join(conds)} ORDER BY {_ORDER_KEY.format(o='ASC')}"
        return self._rows(TT, sql + f" LIMIT {int(limit)}", params)

    # -- analytics support -----------------------------------------------------------------------------------

    def data_version(self) -> tuple[tuple[object, ...], tuple[object, ...]]:
        """``(committed, current)``: what identifies the committed files of every table, and that plus the
        number of live rows (a result computed for one ``current`` stays right while it is unchanged)."""
        committed: list[object] = []
        current: list[object] = []
        for table in self.reader.tables():
            view = self.reader.view(table)
            files = (table, len(view.files), str(view.files[-1]) if view.files else "")
            committed.append(files)
            current.append((*files, view.live.num_rows, view.last_ledger))
        return tuple(committed), tuple(current)

    def dataset(self, table: str) -> ds.Dataset:
        """The table's current rows as one Arrow dataset (cached rows, committed files, live rows): scanned
        in batches by its reader, never loaded whole."""
        view = self.reader.view(table)
        schema = view.schema.remove_metadata()
        found = self.files.sources(table, view.files, view.schema)
        parts: list[ds.Dataset] = []
        if found.cached is not None:
            parts.append(ds.dataset(found.cached.select(schema.names).cast(schema)))
        if found.files:
            parts.append(ds.dataset([str(p) for p in found.files], schema=schema, format="parquet"))
        parts.append(ds.dataset(view.live.cast(schema)))
        return parts[0] if len(parts) == 1 else ds.dataset(parts)

    def close(self) -> None:
        with self._names_lock:
            self._closed = True
            if self._db is not None:
                self._db.close()
