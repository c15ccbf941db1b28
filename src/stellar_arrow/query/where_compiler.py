"""The compiler of filter expressions (:func:`stellar_arrow.query.where.compile_where`): sqlglot parses the
text, every column and literal is checked against the Arrow schema, and the tree becomes a pyarrow compute
expression and a parameterised DuckDB predicate. The accepted language is described in :mod:`.where`.
"""

from __future__ import annotations

import datetime as dt
import decimal
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot
from sqlglot import TokenType, exp
from sqlglot.errors import ParseError, TokenError

from stellar_arrow.query.where import MAX_WHERE_LENGTH, ExpressionError, Where
from stellar_arrow.schema import schema_table_name

__all__ = ["compile_expression", "expression_columns"]

_MAX_DEPTH: Final = 64
_MAX_IN: Final = 1000
#: Columns that hold exact integers as decimal text (i128 amounts).
_INTEGER_TEXT_COLUMNS: Final = frozenset({"amount_raw"})
_I128: Final = 2**127

Kind = Literal["int", "decimal", "float", "string", "inttext", "timestamp", "bool", "other"]
_COMPARISONS: Final[dict[type[exp.Expression], tuple[str, str]]] = {
    exp.EQ: ("=", "equal"),
    exp.NEQ: ("<>", "not_equal"),
    exp.GT: (">", "greater"),
    exp.GTE: (">=", "greater_equal"),
    exp.LT: ("<", "less"),
    exp.LTE: ("<=", "less_equal"),
}
_FLIPPED: Final = {
    "equal": "equal",
    "not_equal": "not_equal",
    "greater": "less",
    "less": "greater",
    "greater_equal": "less_equal",
    "less_equal": "greater_equal",
}
_SQL_OF: Final = {name: op for op, name in _COMPARISONS.values()}


@dataclass(frozen=True, slots=True)
class _Operand:
    """One side of a comparison: a column, or a literal not yet typed."""

    arrow: pc.Expression | None
    sql: str
    kind: Kind
    arrow_type: pa.DataType | None
    literal: exp.Expression | None = None


def compile_expression(text: str, schema: pa.Schema, *, field: str = "where") -> Where:
    """Parse and check ``text`` against ``schema``; raise :class:`ExpressionError` when it is not allowed."""
    if not isinstance(text, str) or not text.strip():
        msg = "the expression is empty"
        raise ExpressionError(msg, field=field, position=0)
    if len(text) > MAX_WHERE_LENGTH:
        msg = f"the expression is longer than {MAX_WHERE_LENGTH} characters"
        raise ExpressionError(msg, field=field, position=MAX_WHERE_LENGTH)
    if "\x00" in text:
        msg_0 = "NUL characters are not allowed"
        raise ExpressionError(msg_0, field=field, position=text.index("\x00"))
    _check_tokens(text, field)
    try:
        statements = sqlglot.parse(text, dialect="duckdb")
    except (ParseError, TokenError) as exc:
        raise ExpressionError(_parse_message(exc), field=field, position=_parse_position(exc, text)) from None
    except RecursionError:
        msg_0 = "the expression is nested too deeply"
        raise ExpressionError(msg_0, field=field, position=0) from None
    if len(statements) != 1 or statements[0] is None:
        msg_0 = "exactly one expression is expected"
        raise ExpressionError(msg_0, field=field, position=0)
    compiler = _Compiler(text, schema, field)
    statement = statements[0]
    assert isinstance(statement, exp.Expression)
    arrow, sql = compiler.predicate(statement, 0)
    return Where(
        text=text, arrow=arrow, sql=sql, params=tuple(compiler.params), table=schema_table_name(schema)
    )


def expression_columns(text: str) -> frozenset[str]:
    """The columns a (compiled, so parseable) expression reads."""
    return frozenset(c.name for c in sqlglot.parse_one(text, dialect="duckdb").find_all(exp.Column))


def _check_tokens(text: str, field: str) -> None:
    """Refuse comments and statement separators, pointing at them (they have no place in a filter)."""
    try:
        tokens = sqlglot.tokenize(text, dialect="duckdb")
    except (TokenError, ParseError) as exc:
        raise ExpressionError(_parse_message(exc), field=field, position=_parse_position(exc, text)) from None
    previous_end = 0
    for token in tokens:
        if token.comments:  # a comment trails its token, or leads the first one
            after = [i for i in (text.find("--", token.end + 1), text.find("/*", token.end + 1)) if i >= 0]
            before = [i for i in (text.find("--", previous_end), text.find("/*", previous_end)) if i >= 0]
            msg = "comments are not allowed"
            raise ExpressionError(msg, field=field, position=min(after or before or [0]))
        if token.token_type == TokenType.SEMICOLON:
            msg = "a filter is one expression: ';' is not allowed"
            raise ExpressionError(msg, field=field, position=token.start)
        previous_end = token.end + 1


class _Compiler:
    def __init__(self, text: str, schema: pa.Schema, field: str) -> None:
        self.text = text
        self.schema = schema
        self.field = field
        self.params: list[object] = []

    # --- errors and positions ----------------------------------------------------------------------------

    def fail(self, node: exp.Expression, message: str) -> ExpressionError:
        return ExpressionError(message, field=self.field, position=self.position(node))

    def position(self, node: exp.Expression) -> int:
        starts = [
            n.meta["start"]
            for n in node.walk()
            if isinstance(n, exp.Expression) and isinstance(n.meta.get("start"), int)
        ]
        first = min(starts) if starts else len(self.text)
        rendered = node.sql(dialect="duckdb").lstrip("(").strip()
        lead = rendered.split("(")[0].split()[0] if rendered else ""
        if lead and (isinstance(node, exp.Func | exp.Subquery | exp.Select) or not starts):
            found = self.text.upper().rfind(lead.upper(), 0, first)
            if found < 0:
                found = self.text.upper().find(lead.upper())
            if found >= 0:
                return found
        return first if starts else 0

    # --- boolean structure -------------------------------------------------------------------------------

    def predicate(self, node: exp.Expression, depth: int) -> tuple[pc.Expression, str]:
        if depth > _MAX_DEPTH:
            raise self.fail(node, f"the expression is nested deeper than {_MAX_DEPTH} levels")
        if isinstance(node, exp.Paren):
            arrow, sql = self.predicate(node.this, depth + 1)
            return arrow, f"({sql})"
        if isinstance(node, exp.And | exp.Or):
            left_arrow, left_sql = self.predicate(node.this, depth + 1)
            right_arrow, right_sql = self.predicate(node.expression, depth + 1)
            if isinstance(node, exp.And):
                return pc.and_kleene(left_arrow, right_arrow), f"({left_sql} AND {right_sql})"
            return pc.or_kleene(left_arrow, right_arrow), f"({left_sql} OR {right_sql})"
        if isinstance(node, exp.Not):
            arrow, sql = self.predicate(node.this, depth + 1)
            return pc.invert(arrow), f"(NOT {sql})"
        if type(node) in _COMPARISONS:
            return self.comparison(node)
        if isinstance(node, exp.In):
            return self.in_list(node)
        if isinstance(node, exp.Between):
            return self.between(node)
        if isinstance(node, exp.Is):
            return self.is_null(node)
        if isinstance(node, exp.Like | exp.ILike):
            return self.like(node)
        if isinstance(node, exp.Column):
            column = self.column(node)
            if column.kind != "bool":
                raise self.fail(node, f"column {node.name!r} is not boolean: compare it with a value")
            assert column.arrow is not None
            return column.arrow, column.sql
        raise self.fail(node, self.refusal(node))

    def refusal(self, node: exp.Expression) -> str:
        if isinstance(node, exp.Subquery | exp.Select | exp.Exists):
            return "subqueries are not allowed"
        if isinstance(node, exp.Func):
            return f"function calls are not allowed ({node.sql_name().lower()})"
        if isinstance(node, exp.Binary):
            return f"operator {node.key.upper()} is not allowed here"
        allowed = "comparisons, AND, OR, NOT, IN, BETWEEN, IS NULL, LIKE"
        return f"{node.key.upper()} is not allowed here: use {allowed}"

    # --- operands ----------------------------------------------------------------------------------------

    def column(self, node: exp.Expression) -> _Operand:
        if not isinstance(node, exp.Column) or node.table or not isinstance(node.this, exp.Identifier):
            raise self.fail(node, self.refusal(node))
        name = node.this.name
        index = self.schema.get_field_index(name)
        if index < 0:
            known = ", ".join(self.schema.names)
            raise self.fail(node, f"unknown column {name!r}; columns are: {known}")
        arrow_type = self.schema.field(index).type
        quoted = '"' + name.replace('"', '""') + '"'
        kind = _kind(name, arrow_type)
        if kind == "inttext":
            return _Operand(
                pc.field(name).cast(pa.decimal256(39, 0)), f"CAST({quoted} AS HUGEINT)", kind, arrow_type
            )
        return _Operand(pc.field(name), quoted, kind, arrow_type)

    def operand(self, node: exp.Expression) -> _Operand:
        if isinstance(node, exp.Paren):
            return self.operand(node.this)
        if isinstance(node, exp.Column):
            return self.column(node)
        if isinstance(node, exp.Literal | exp.Boolean | exp.Null) or (
            isinstance(node, exp.Neg) and isinstance(node.this, exp.Literal) and not node.this.is_string
        ):
            return _Operand(None, "?", "other", None, literal=node)
        raise self.fail(node, self.refusal(node))

    def value(self, literal: exp.Expression, column: _Operand, column_node: exp.Expression) -> object:
        """The Python value of ``literal`` for comparisons with ``column``; refused when the types differ."""
        name = column_node.name
        if isinstance(literal, exp.Null):
            raise self.fail(literal, "compare with NULL using IS NULL / IS NOT NULL")
        if isinstance(literal, exp.Boolean):
            if column.kind != "bool":
                raise self.fail(literal, f"column {name!r} is {column.arrow_type}, not boolean")
            return bool(literal.this)
        negative = isinstance(literal, exp.Neg)
        lit = literal.this if negative else literal
        assert isinstance(lit, exp.Literal)
        if lit.is_string:
            return self.string_value(lit, column, name)
        if column.kind in ("string", "timestamp", "bool", "other"):
            raise self.fail(
                literal, f"column {name!r} is {column.arrow_type}: a number does not compare with it"
            )
        number = _decimal(lit.this)
        if number is None:
            raise self.fail(literal, f"{lit.this!r} is not an exact decimal number")
        if negative:
            number = -number
        return self.numeric_value(literal, number, column, name)

    def string_value(self, lit: exp.Literal, column: _Operand, name: str) -> object:
        if column.kind == "string":
            return str(lit.this)
        if column.kind == "timestamp":
            try:
                moment = dt.datetime.fromisoformat(str(lit.this))
            except ValueError:
                msg = f"{lit.this!r} is not an ISO-8601 timestamp for column {name!r}"
                raise self.fail(lit, msg) from None
            if moment.tzinfo is None:
                moment = moment.replace(tzinfo=dt.UTC)
            return moment
        raise self.fail(lit, f"column {name!r} is {column.arrow_type}: a string does not compare with it")

    def numeric_value(
        self, node: exp.Expression, number: decimal.Decimal, column: _Operand, name: str
    ) -> object:
        t = column.arrow_type
        if column.kind in ("int", "inttext"):
            if number != number.to_integral_value():
                raise self.fail(node, f"column {name!r} holds integers: {number} is not one")
            value = int(number)
            low, high = (-_I128, _I128 - 1) if column.kind == "inttext" else _int_range(t)
            if not low <= value <= high:
                raise self.fail(node, f"{value} is outside the range of column {name!r} ({t})")
            return decimal.Decimal(value) if column.kind == "inttext" else value
        if column.kind == "decimal":
            assert isinstance(t, pa.Decimal128Type | pa.Decimal256Type)
            exponent = number.as_tuple().exponent
            assert isinstance(exponent, int)
            if -exponent > t.scale:
                raise self.fail(node, f"{number} has more than {t.scale} decimal places (column {name!r})")
            if abs(number) >= decimal.Decimal(10) ** (t.precision - t.scale):
                raise self.fail(node, f"{number} does not fit column {name!r} ({t})")
            return number
        return float(number)

    def scalar(self, value: object, column: _Operand) -> pa.Scalar:
        if column.kind == "inttext":
            return pa.scalar(value, type=pa.decimal256(39, 0))
        return pa.scalar(value, type=column.arrow_type)

    # --- predicates --------------------------------------------------------------------------------------

    def comparison(self, node: exp.Expression) -> tuple[pc.Expression, str]:
        _, function = _COMPARISONS[type(node)]
        left_node, right_node = node.this, node.expression
        left, right = self.operand(left_node), self.operand(right_node)
        if left.literal is not None and right.literal is not None:
            raise self.fail(node, "a comparison needs at least one column")
        if left.literal is not None:  # 5 < amount  ->  amount > 5
            left, right, left_node, right_node = right, left, right_node, left_node
            function = _FLIPPED[function]
        assert left.arrow is not None
        if right.literal is None:
            if _comparable(left.kind) != _comparable(right.kind) or left.kind in ("other", "bool"):
                msg = f"columns {left_node.name!r} and {right_node.name!r} have types that do not compare"
                raise self.fail(node, msg)
            assert right.arrow is not None
            return _call(function, left.arrow, right.arrow), f"{left.sql} {_SQL_OF[function]} {right.sql}"
        if left.kind == "other":
            raise self.fail(left_node, f"column {left_node.name!r} ({left.arrow_type}) cannot be compared")
        value = self.value(right.literal, left, left_node)
        self.params.append(value)
        arrow = _call(function, left.arrow, pc.scalar(self.scalar(value, left)))
        return arrow, f"{left.sql} {_SQL_OF[function]} ?"

    def in_list(self, node: exp.In) -> tuple[pc.Expression, str]:
        if node.args.get("query") or node.args.get("unnest") or node.args.get("field"):
            raise self.fail(node, "subqueries are not allowed")
        column_node = node.this
        column = self.column(column_node)
        items = node.expressions
        if not items:
            raise self.fail(node, "IN needs at least one value")
        if len(items) > _MAX_IN:
            raise self.fail(node, f"IN takes at most {_MAX_IN} values")
        if column.kind in ("other", "bool"):
            raise self.fail(
                column_node, f"column {column_node.name!r} ({column.arrow_type}) cannot be compared"
            )
        values = []
        for item in items:
            operand = self.operand(item)
            if operand.literal is None:
                raise self.fail(item, "IN takes literal values only")
            values.append(self.value(operand.literal, column, column_node))
        self.params.extend(values)
        value_type = pa.decimal256(39, 0) if column.kind == "inttext" else column.arrow_type
        assert column.arrow is not None
        found = pc.is_in(column.arrow, value_set=pa.array(values, type=value_type))
        # SQL: NULL IN (...) is NULL (so NOT NULL IN (...) stays NULL), where is_in says false.
        arrow = pc.if_else(pc.is_null(column.arrow), pa.scalar(None, pa.bool_()), found)
        return arrow, f"{column.sql} IN ({', '.join('?' * len(values))})"

    def between(self, node: exp.Between) -> tuple[pc.Expression, str]:
        column_node = node.this
        column = self.column(column_node)
        if column.kind in ("other", "bool"):
            raise self.fail(
                column_node, f"column {column_node.name!r} ({column.arrow_type}) cannot be compared"
            )
        bounds = []
        for key in ("low", "high"):
            operand = self.operand(node.args[key])
            if operand.literal is None:
                raise self.fail(node.args[key], "BETWEEN takes literal bounds only")
            bounds.append(self.value(operand.literal, column, column_node))
        self.params.extend(bounds)
        assert column.arrow is not None
        low, high = (pc.scalar(self.scalar(b, column)) for b in bounds)
        arrow = pc.and_kleene(pc.greater_equal(column.arrow, low), pc.less_equal(column.arrow, high))
        return arrow, f"{column.sql} BETWEEN ? AND ?"

    def is_null(self, node: exp.Is) -> tuple[pc.Expression, str]:
        if not isinstance(node.expression, exp.Null):
            raise self.fail(node.expression, "IS takes NULL only (IS NULL, IS NOT NULL)")
        column = self.column(node.this)
        assert column.arrow is not None
        return pc.is_null(column.arrow), f"{column.sql} IS NULL"

    def like(self, node: exp.Like | exp.ILike) -> tuple[pc.Expression, str]:
        if node.args.get("escape"):
            raise self.fail(node, "LIKE ... ESCAPE is not supported")
        column_node = node.this
        column = self.column(column_node)
        if column.kind != "string":
            raise self.fail(
                column_node, f"LIKE needs a string column; {column_node.name!r} is {column.arrow_type}"
            )
        pattern = node.expression
        if not (isinstance(pattern, exp.Literal) and pattern.is_string):
            raise self.fail(pattern, "LIKE takes a string pattern")
        if "\\" in str(pattern.this):
            raise self.fail(pattern, "backslashes are not allowed in LIKE patterns")
        ignore_case = isinstance(node, exp.ILike)
        self.params.append(str(pattern.this))
        assert column.arrow is not None
        arrow = pc.match_like(column.arrow, pattern=str(pattern.this), ignore_case=ignore_case)
        return arrow, f"{column.sql} {'ILIKE' if ignore_case else 'LIKE'} ?"


def _call(function: str, left: pc.Expression, right: pc.Expression) -> pc.Expression:
    result: pc.Expression = getattr(pc, function)(left, right)
    return result


def _kind(name: str, t: pa.DataType) -> Kind:
    if pa.types.is_integer(t):
        return "int"
    if pa.types.is_decimal(t):
        return "decimal"
    if pa.types.is_floating(t):
        return "float"
    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "inttext" if name in _INTEGER_TEXT_COLUMNS else "string"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_boolean(t):
        return "bool"
    return "other"


def _comparable(kind: Kind) -> str:
    return "number" if kind in ("int", "decimal", "float", "inttext") else kind


def _int_range(t: pa.DataType | None) -> tuple[int, int]:
    assert t is not None
    bits = t.bit_width
    if pa.types.is_signed_integer(t):
        return -(2 ** (bits - 1)), 2 ** (bits - 1) - 1
    return 0, 2**bits - 1


def _decimal(text: object) -> decimal.Decimal | None:
    raw = str(text)
    if not raw or len(raw) > 80 or any(c not in "0123456789." for c in raw) or raw.count(".") > 1:
        return None  # no exponents, signs are unary minus nodes, digits ASCII only
    try:
        return decimal.Decimal(raw)
    except decimal.InvalidOperation:
        return None


def _parse_message(exc: ParseError | TokenError) -> str:
    if isinstance(exc, ParseError) and exc.errors:
        return f"cannot parse the expression: {exc.errors[0].get('description', 'syntax error')}"
    return "cannot parse the expression"


def _parse_position(exc: ParseError | TokenError, text: str) -> int:
    if isinstance(exc, ParseError) and exc.errors:
        error = exc.errors[0]
        line, col = error.get("line"), error.get("col")
        if isinstance(line, int) and isinstance(col, int):
            lines: Sequence[str] = text.split("\n")
            return min(sum(len(x) + 1 for x in lines[: line - 1]) + max(col - 1, 0), len(text))
    return 0
