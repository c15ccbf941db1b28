"""Filter expressions: a safe subset of SQL ``WHERE`` over the columns of one table.

``compile_where("event_type = 'mint' AND amount >= 100.5", TOKEN_TRANSFERS_SCHEMA)`` parses the text with
sqlglot, checks every column and literal against the Arrow schema and returns a :class:`Where` holding

* ``arrow``: a pyarrow compute expression (for ``Table.filter`` and ``Dataset.to_batches(filter=...)``),
* ``sql`` and ``params``: a DuckDB predicate with ``?`` placeholders, identifiers quoted from the schema.

Nothing from the text is pasted into SQL and nothing is evaluated: the accepted grammar is comparisons
(``= != <> < <= > >=``), ``AND``/``OR``/``NOT``, ``IN (...)``, ``BETWEEN``, ``IS [NOT] NULL`` and
``[NOT] LIKE``/``ILIKE`` on strings, with exact decimal and integer literals, strings, ``TRUE``/``FALSE``
and ISO-8601 timestamps (as strings) for timestamp columns. Anything else (functions, subqueries,
arithmetic, casts, comments, ``;``, unknown columns, a literal of the wrong type or out of the column's
range) raises
:class:`ExpressionError` naming the position (0-based character offset) and the reason.

Integer-valued text columns (``amount_raw``, exact i128 amounts written as strings) compare as numbers:
they are cast to ``decimal256(39, 0)`` in Arrow and ``HUGEINT`` in DuckDB.

This module holds the compiled form and its error; the compiler is :mod:`.where_compiler`, which imports
sqlglot (~0.1 s): it is loaded by the first :func:`compile_where`, so a service that is never given an
expression never loads it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Final

from stellar_arrow.errors import RequestError

if TYPE_CHECKING:
    import pyarrow as pa
    import pyarrow.compute as pc

__all__ = ["MAX_WHERE_LENGTH", "ExpressionError", "Where", "compile_where"]

#: Longest accepted expression text (the compiler also limits nesting and ``IN`` lists).
MAX_WHERE_LENGTH: Final = 4096


class ExpressionError(RequestError):
    """A filter expression is not in the accepted language; ``position`` is the 0-based offset in the text."""

    def __init__(self, message: str, *, field: str, position: int) -> None:
        super().__init__(f"{field}: {message} (at position {position})", field=field)
        self.position = position


@dataclass(frozen=True, slots=True, repr=False)
class Where:
    """A checked filter expression, ready for pyarrow and for DuckDB.

    Two expressions are equal (and hash alike) when their text and table are: the compiled forms follow.
    ``table`` is the name stamped on the schema it was checked against (``None`` for an unstamped schema).
    """

    text: str
    arrow: pc.Expression = field(compare=False)
    sql: str = field(compare=False)
    params: tuple[object, ...] = field(compare=False)
    table: str | None = None

    def __repr__(self) -> str:
        return f"Where({self.text!r:.200}, table={self.table!r})"

    @property
    def columns(self) -> frozenset[str]:
        """The columns the expression reads."""
        from stellar_arrow.query.where_compiler import expression_columns

        return expression_columns(self.text)


def compile_where(text: str, schema: pa.Schema, *, field: str = "where") -> Where:
    """Parse and check ``text`` against ``schema``; raise :class:`ExpressionError` when it is not allowed."""
    from stellar_arrow.query.where_compiler import compile_expression

    return compile_expression(text, schema, field=field)
