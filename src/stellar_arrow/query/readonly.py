"""Read-only SQL over the pipeline's tables (``POST /api/v1/query``), with time and row limits.

Two independent guards:

1. The text is parsed with sqlglot (DuckDB dialect) and must be exactly one ``SELECT`` (``WITH``,
   ``UNION``/``INTERSECT``/``EXCEPT`` allowed) whose table references are the pipeline's tables or its
   own CTEs. Table functions (``read_csv(...)``), ``COPY``, ``ATTACH``, ``INSTALL``/``LOAD``, ``SET``/
   ``PRAGMA``, DDL and writes, and functions that read settings, files, the environment or the catalog
   are refused with :class:`SqlRefusedError` (HTTP 400) naming the reason.
2. The query then runs on a fresh in-memory DuckDB connection whose only tables are the given Arrow
   datasets, with file system access, extension loading and configuration changes switched off
   (``enable_external_access=false``, ``lock_configuration=true``), one thread and a memory limit; it is
   interrupted after ``timeout_s`` and stops reading after ``max_rows`` rows.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from stellar_arrow.errors import RequestError

__all__ = ["MAX_SQL_LENGTH", "SqlRefusedError", "SqlResult", "SqlTimeoutError", "run_sql"]

MAX_SQL_LENGTH: Final = 16_384
_QUERY_TYPES: Final = (exp.Select, exp.Union, exp.Intersect, exp.Except)
_FUNCTION_PREFIXES: Final = (
    "read_", "glob", "duckdb_", "pragma_", "current_setting", "getenv", "sniff_csv", "parquet_",
    "iceberg_", "delta_", "query", "sqlite_", "postgres_", "mysql_", "load_", "http", "s3_",
    "which_secret", "enable_", "disable_", "checkpoint", "force_checkpoint", "set_", "install",
)  # fmt: skip


class SqlRefusedError(RequestError):
    """The SQL text is not a read-only query over the pipeline's tables (HTTP 400)."""

    def __init__(self, message: str) -> None:
        super().__init__(f"sql: {message}", field="sql")


class SqlTimeoutError(RequestError):
    """The query ran longer than its time limit and was interrupted (HTTP 400 with the limit)."""

    def __init__(self, timeout_s: float) -> None:
        super().__init__(f"sql: the query ran longer than {timeout_s:g} s and was stopped", field="sql")
        self.timeout_s = timeout_s


@dataclass(frozen=True, slots=True)
class SqlResult:
    """The rows of a query (at most ``max_rows``) and whether more were cut off."""

    table: pa.Table
    truncated: bool


def check_sql(sql: str, tables: frozenset[str]) -> None:
    """Raise :class:`SqlRefusedError` unless ``sql`` is one read-only query over ``tables``."""
    if not isinstance(sql, str) or not sql.strip():
        msg = "the query is empty"
        raise SqlRefusedError(msg)
    if len(sql) > MAX_SQL_LENGTH:
        msg = f"the query is longer than {MAX_SQL_LENGTH} characters"
        raise SqlRefusedError(msg)
    try:
        statements = [s for s in sqlglot.parse(sql, dialect="duckdb") if s is not None]
    except (ParseError, TokenError) as exc:
        msg = f"cannot parse the query: {str(exc).splitlines()[0][:200]}"
        raise SqlRefusedError(msg) from None
    except RecursionError:
        msg = "the query is nested too deeply"
        raise SqlRefusedError(msg) from None
    if len(statements) != 1:
        msg = "exactly one SELECT statement is allowed"
        raise SqlRefusedError(msg)
    (statement,) = statements
    if not isinstance(statement, _QUERY_TYPES):
        msg = f"only SELECT queries are allowed, not {statement.key.upper()}"
        raise SqlRefusedError(msg)
    ctes = {cte.alias_or_name.lower() for cte in statement.find_all(exp.CTE)}
    for node in statement.walk():
        _check_node(node, tables, ctes)


def _check_node(node: exp.Expr, tables: frozenset[str], ctes: set[str]) -> None:
    if isinstance(node, exp.Table):
        if not isinstance(node.this, exp.Identifier):
            msg = "table functions are not allowed in FROM; query the tables " + ", ".join(sorted(tables))
            raise SqlRefusedError(msg)
        if node.args.get("db") or node.args.get("catalog"):
            msg = f"qualified table names are not allowed ({node.sql(dialect='duckdb')})"
            raise SqlRefusedError(msg)
        name = node.name.lower()
        if name not in tables and name not in ctes:
            msg = f"unknown table {node.name!r}: the tables are " + ", ".join(sorted(tables))
            raise SqlRefusedError(msg)
    elif isinstance(node, exp.Func):
        name = (node.name if isinstance(node, exp.Anonymous) else node.sql_name()).lower()
        if name.startswith(_FUNCTION_PREFIXES):
            msg = f"function {name}() is not allowed"
            raise SqlRefusedError(msg)
    elif isinstance(node, exp.Command | exp.Set | exp.Pragma | exp.Copy | exp.Attach | exp.Detach | exp.Use):
        msg = f"{node.key.upper()} is not allowed"
        raise SqlRefusedError(msg)
    elif isinstance(node, exp.Into):
        msg = "SELECT ... INTO is not allowed"
        raise SqlRefusedError(msg)
    elif isinstance(node, exp.Placeholder | exp.Parameter):
        msg = "parameters are not supported"
        raise SqlRefusedError(msg)


def run_sql(
    sql: str,
    tables: Mapping[str, ds.Dataset | pa.Table],
    *,
    timeout_s: float = 10.0,
    max_rows: int = 10_000,
    memory_limit: str = "256MB",
) -> SqlResult:
    """Run one read-only ``sql`` over ``tables`` (name -> Arrow data) within the limits."""
    check_sql(sql, frozenset(name.lower() for name in tables))
    con = duckdb.connect(config={"threads": 1, "memory_limit": memory_limit})
    try:
        for name, data in tables.items():
            con.register(name, data)
        for statement in (
            "SET enable_external_access = false",
            "SET autoinstall_known_extensions = false",
            "SET autoload_known_extensions = false",
            "SET lock_configuration = true",
        ):
            con.execute(statement)
        timer = threading.Timer(timeout_s, con.interrupt)
        timer.daemon = True
        timer.start()
        try:
            relation = con.sql(sql)
            if relation is None:  # a statement that returns no rows ran: only possible past check_sql
                msg = "not allowed: the statement is not a query"
                raise SqlRefusedError(msg)
            reader = relation.to_arrow_reader(min(max_rows + 1, 65_536))
            batches, rows = [], 0
            for batch in reader:
                batches.append(batch)
                rows += batch.num_rows
                if rows > max_rows:
                    break
        except duckdb.InterruptException:
            raise SqlTimeoutError(timeout_s) from None
        except (duckdb.PermissionException, duckdb.InvalidInputException) as exc:
            msg = f"not allowed: {str(exc).splitlines()[0][:200]}"
            raise SqlRefusedError(msg) from None
        except duckdb.Error as exc:
            msg = f"the query failed: {str(exc).splitlines()[0][:300]}"
            raise SqlRefusedError(msg) from None
        finally:
            timer.cancel()
        table = pa.Table.from_batches(batches, schema=reader.schema)
        return SqlResult(table=table.slice(0, max_rows), truncated=table.num_rows > max_rows)
    finally:
        con.close()
