"""``export --where / --operation-type / --filter``: the written token_transfers rows equal plain DuckDB SQL
over an unfiltered export of the same ledgers; hostile expressions are usage errors (exit 2) naming the
position, before any file is written; the filter is part of a chunk's manifest."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.query import configure_named_filters
from tests.where_cases import HOSTILE, VALID

from .conftest import FIRST, SAMPLE_LAKE

pytestmark = pytest.mark.integration
LAST = FIRST + 4
RANGE = ["--source", str(SAMPLE_LAKE), "--start", str(FIRST), "--end", str(LAST), "--chunk-size", "5"]
FLAGS = {"where": "--where", "filter": "--filter", "operation_type": "--operation-type"}


@pytest.fixture(autouse=True)
def _default_named_filters() -> Iterator[None]:
    """Loading settings with another threshold reconfigures the process: restore the default after."""
    yield
    configure_named_filters()


def export(out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["export", "--no-progress", *RANGE, "--out", str(out), *args])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def everything(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An unfiltered export of the ledgers (the sample run the filtered ones are compared with)."""
    out = tmp_path_factory.mktemp("all")
    code, output = export(out, "--tables", "token_transfers")
    assert code == 0, output
    return out


def sql(out: Path, predicate: str) -> list[Any]:
    files = sorted(str(p) for p in (out / "token_transfers").glob("*.parquet"))
    with duckdb.connect() as db:
        text = (
            f"SELECT ledger_sequence, event_index FROM read_parquet({files!r}) WHERE {predicate} ORDER BY ALL"
        )
        return db.sql(text).fetchall()


@pytest.mark.parametrize(("params", "predicate"), VALID[1::2])
def test_filtered_export_equals_plain_sql(
    everything: Path, tmp_path: Path, params: dict[str, str], predicate: str
) -> None:
    want = sql(everything, predicate)
    assert want
    args = [arg for name, value in params.items() for arg in (FLAGS[name], value)]
    code, output = export(tmp_path, "--tables", "token_transfers,ledgers", *args)
    assert code == 0, output
    assert sql(tmp_path, "true") == want
    ledgers = duckdb.sql(f"SELECT count(*) FROM read_parquet('{tmp_path}/ledgers/*.parquet')").fetchall()
    assert ledgers == [(LAST - FIRST + 1,)]  # the other tables are written whole


def test_settings_section_threshold_and_manifest(everything: Path, tmp_path: Path) -> None:
    config = tmp_path / "export.yaml"
    config.write_text(
        "export:\n  tables: [token_transfers]\n  named_filters: [large_amounts]\n"
        "  where: \"asset = 'native'\"\nfilters:\n  large_amount_threshold: 1000000000\n"
    )
    out = tmp_path / "out"
    code, output = export(out, "--config", str(config))
    assert code == 0, output
    want = sql(everything, "asset = 'native' AND CAST(amount_raw AS HUGEINT) >= 1000000000")
    assert want and sql(out, "true") == want
    manifest = (out / "_manifests" / f"chunk-{FIRST}-{LAST}.json").read_text()
    assert "large_amount_threshold" in manifest and "asset = 'native'" in manifest
    code, output = export(out, "--config", str(config))  # same filter: the chunk is trusted
    assert code == 0 and "skipped (already complete): 1" in output, output
    code, output = export(out, "--config", str(config), "--where", "asset <> 'native'")  # another one
    assert code == 0, output
    assert sql(out, "true") == sql(
        everything, "asset <> 'native' AND CAST(amount_raw AS HUGEINT) >= 1000000000"
    )


@pytest.mark.parametrize(("text", "reason", "position"), HOSTILE)
def test_hostile_where_is_a_usage_error_naming_the_position(
    tmp_path: Path, text: str, reason: str, position: int
) -> None:
    code, output = export(tmp_path, "--tables", "token_transfers", "--where", text)
    assert code == 2, output
    assert "export.where" in output and reason in output and f"(at position {position})" in output
    assert "Traceback" not in output
    assert not any(tmp_path.rglob("*.parquet"))


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--filter", "everything"], "export.named_filters"),
        (["--operation-type", "payment,teleport"], "export.operation_types"),
        (["--where", ""], "export.where"),
        (["--tables", "ledgers", "--where", "amount > 1"], "export.tables"),
    ],
)
def test_bad_filter_flags_are_usage_errors(tmp_path: Path, args: list[str], words: str) -> None:
    code, output = export(tmp_path, *args)
    assert code == 2, output
    assert words in output and "Traceback" not in output
    assert not any(tmp_path.rglob("*.parquet"))
