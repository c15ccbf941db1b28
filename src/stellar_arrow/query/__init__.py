"""Queries over the tables: filter expressions (a safe subset of SQL ``WHERE``) for pyarrow and DuckDB."""

from __future__ import annotations

from stellar_arrow.query.where import MAX_WHERE_LENGTH, ExpressionError, Where, compile_where

__all__ = ["MAX_WHERE_LENGTH", "ExpressionError", "Where", "compile_where"]
