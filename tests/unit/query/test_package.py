"""The query package loads its submodules on first use: the filter model without DuckDB or sqlglot."""

from __future__ import annotations

import subprocess
import sys

import pytest

import stellar_arrow.query as query


def test_every_public_name_resolves_to_its_submodule_object() -> None:
    for name in query.__all__:
        value = getattr(query, name)
        assert value is getattr(sys.modules[f"stellar_arrow.query.{query._SUBMODULE[name]}"], name)
    assert sorted(query._SUBMODULE) == sorted(query.__all__)
    assert dir(query) == sorted(query.__all__)


def test_an_unknown_name_is_an_attribute_error() -> None:
    with pytest.raises(AttributeError, match="no attribute 'TransferFiltr'"):
        _ = query.TransferFiltr  # type: ignore[attr-defined]


def test_the_filter_model_loads_neither_duckdb_nor_sqlglot_until_asked() -> None:
    script = (
        "import sys\n"
        "from stellar_arrow.query import TransferFilter, filter_from_json, filter_rows, parse_asset\n"
        "f = filter_from_json({'event_types': ['transfer']})\n"
        "assert not {'duckdb', 'sqlglot'} & set(sys.modules), 'loaded too early'\n"
        "from stellar_arrow.query import compile_where\n"
        "from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA\n"
        "compile_where(\"event_type = 'mint'\", TOKEN_TRANSFERS_SCHEMA)\n"
        "assert 'sqlglot' in sys.modules and 'duckdb' not in sys.modules\n"
        "from stellar_arrow.query import run_sql\n"
        "assert 'duckdb' in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", script], check=True)
