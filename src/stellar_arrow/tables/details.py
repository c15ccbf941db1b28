"""Operation ``details``: the operation body rendered as JSON, driven by the XDR schema.

The rendering rules are the reference's (:mod:`stellar_arrow.tables.details_reference`: accounts as
strkeys, assets as SEP-11 strings, exact integers, unions as ``{"type": ..., <arm>: ...}``). What runs is
the generated code (:mod:`stellar_arrow.tables.details_codegen`): compiled, ``tables/_details.pyx``, when
built from this generator's current text, else the same code generated as Python. Pure: decoded values
in, JSON text out.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import orjson

from stellar_arrow.tables.details_codegen import DetailsGenerator, details_pyx
from stellar_arrow.tables.details_reference import (
    asset_string,
    muxed_account_columns,
    muxed_account_strkey,
    operation_details_json_reference,
    operation_details_reference,
)
from stellar_arrow.xdr import model as X

__all__ = [
    "asset_string",
    "compiled_details_module",
    "details_json_function",
    "details_pyx",
    "muxed_account_columns",
    "muxed_account_strkey",
    "operation_details",
    "operation_details_json",
    "operation_details_json_reference",
    "operation_details_reference",
    "python_details",
]


@cache
def compiled_details_module() -> ModuleType | None:
    """The compiled renderers (``tables/_details.pyx``) when built and generated from this schema and
    generator (else None: the generated Python code is used)."""
    try:
        module = importlib.import_module("stellar_arrow.tables._details")
    except ImportError:
        return None
    generator = DetailsGenerator(cython=True)
    text = generator.pyx()
    if f"SOURCE_SHA256 = {module.SOURCE_SHA256!r}\n" not in text:
        return None
    module.install(generator.namespace)
    return module


@cache
def _generated_details() -> Callable[[Any], dict[str, Any]]:
    module = compiled_details_module()
    if module is not None:
        render: Callable[[Any], dict[str, Any]] = module.operation_details
        return render
    return python_details()


@cache
def details_json_function(compiled: bool = True) -> Callable[[Any], str]:
    """:func:`operation_details_json` itself: the compiled renderer when built (and ``compiled``), else
    the generated Python one."""
    module = compiled_details_module() if compiled else None
    if module is not None:
        render: Callable[[Any], str] = module.operation_details_json
        return render
    details = python_details()
    return lambda body: orjson.dumps(details(body)).decode("utf-8")


@cache
def python_details() -> Callable[[Any], dict[str, Any]]:
    """The generated Python renderer (what runs when ``_details`` is not built)."""
    return DetailsGenerator().python()


def operation_details(body: X.OperationBody) -> dict[str, Any]:
    """The operation's parameters as a JSON-ready dict (``{}`` for operations without parameters)."""
    return _generated_details()(body)


def operation_details_json(body: X.OperationBody) -> str:
    """:func:`operation_details` serialised as compact JSON text."""
    return details_json_function()(body)
