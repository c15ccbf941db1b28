"""``export --format delta`` over the sample lake: the rows of the Parquet export, one commit per chunk,
re-runs and resumed runs add nothing twice, hostile layouts and flags refused."""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from deltalake import DeltaTable
from typer.testing import CliRunner

from stellar_arrow.api.outputs import open_output_dir
from stellar_arrow.build import table_schema
from stellar_arrow.cli import app
from stellar_arrow.errors import ConfigError
from stellar_arrow.sink import validate_dir
from stellar_arrow.sink.delta import (
    EXPORT_APP_ID,
    SINK_APP_ID,
    DeltaLayout,
    DeltaTableWriter,
    delta_table_path,
    read_delta_table,
)

from .conftest import FIRST, SAMPLE_LAKE

pytestmark = pytest.mark.integration

TABLES = ("ledgers", "transactions", "operations", "token_transfers")
KEYS = {
    "ledgers": ["sequence"],
    "transactions": ["ledger_sequence", "transaction_index"],
    "operations": ["id"],
    "token_transfers": ["ledger_sequence", "event_index"],
}
LAST = FIRST + 9


def _export(
    out: Path, fmt: str, *, start: int = FIRST, end: int = LAST, extra: tuple[str, ...] = ()
) -> tuple[int, str]:
    args = [
        "export", "--no-progress", "--source", str(SAMPLE_LAKE), "--start", str(start), "--end", str(end),
        "--out", str(out), "--chunk-size", "4", "--tables", ",".join(TABLES), "--format", fmt, *extra,
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    return result.exit_code, result.output


def _delta(out: Path, table: str) -> pa.Table:
    rows = read_delta_table(delta_table_path(out, table), table_schema(table))
    return rows.sort_by([(k, "ascending") for k in KEYS[table]])


def _parquet(out: Path, table: str) -> pa.Table:
    schema = table_schema(table)
    rows = pa.concat_tables(pq.read_table(p).cast(schema) for p in sorted((out / table).glob("*.parquet")))
    return rows.sort_by([(k, "ascending") for k in KEYS[table]])


@pytest.fixture(scope="module")
def parquet_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("parquet")
    code, output = _export(out, "parquet")
    assert code == 0, output
    return out


def test_delta_export_equals_parquet_and_a_rerun_adds_nothing(tmp_path: Path, parquet_out: Path) -> None:
    out = tmp_path / "delta"
    code, output = _export(out, "delta")
    assert code == 0, output
    for table in TABLES:
        assert _delta(out, table).equals(_parquet(parquet_out, table)), table
        delta = DeltaTable(str(delta_table_path(out, table)))
        assert delta.version() == 2  # chunks of 4, 4 and 2 ledgers: one commit each
        assert delta.transaction_version(EXPORT_APP_ID) == LAST
        assert delta.metadata().partition_columns == ["date"]
    code, output = _export(out, "delta")
    assert code == 0, output
    assert "chunks written: 0, skipped (already complete): 3" in output
    for table in TABLES:
        assert DeltaTable(str(delta_table_path(out, table))).version() == 2  # nothing appended
        assert _delta(out, table).equals(_parquet(parquet_out, table)), table
    assert not (out / "_manifests").exists()  # no chunk manifests: the Delta log is the record
    report = validate_dir(out)
    assert report.ok and report.delta_tables == len(TABLES), report


def test_a_longer_rerun_appends_only_the_new_ledgers(tmp_path: Path, parquet_out: Path) -> None:
    out = tmp_path / "delta"
    assert _export(out, "delta", end=FIRST + 5)[0] == 0  # chunks 4 + 2 (a short last chunk)
    code, output = _export(out, "delta")  # the short chunk is now 4 ledgers long: only its new ledgers go in
    assert code == 0, output
    for table in TABLES:
        assert _delta(out, table).equals(_parquet(parquet_out, table)), table
        history = DeltaTable(str(delta_table_path(out, table))).history()
        history = sorted(history, key=lambda h: h["version"])
        through = [int(h["stellar_arrow.through_ledger"]) for h in history]
        assert through == [FIRST + 3, FIRST + 5, FIRST + 7, LAST]
        chunks = [h["stellar_arrow.chunk"] for h in history]
        assert chunks == [
            f"{FIRST}-{FIRST + 3}",
            f"{FIRST + 4}-{FIRST + 5}",
            f"{FIRST + 4}-{FIRST + 7}",
            f"{FIRST + 8}-{LAST}",
        ]


def test_an_export_starting_before_the_table_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "delta"
    assert _export(out, "delta", start=FIRST + 4)[0] == 0
    code, output = _export(out, "delta")
    assert code == 2
    assert "ConfigError" in output and "out of order" in output
    assert DeltaTable(str(delta_table_path(out, "ledgers"))).version() == 1


def test_a_sink_table_or_overwrite_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "delta"
    assert _export(out, "delta", end=FIRST + 3)[0] == 0
    code, output = _export(out, "delta", extra=("--overwrite",))
    assert code == 2 and "--overwrite" in output
    with pytest.raises(ConfigError, match="export output in delta format; the API queries Parquet only"):
        open_output_dir(out)  # `stellar-arrow api DIR` over a Delta-only export
    sink_dir = tmp_path / "sink"
    layout = DeltaLayout.of("ledgers", table_schema("ledgers"), ("date",))
    writer = DeltaTableWriter(delta_table_path(sink_dir, "ledgers"), layout, app_id=SINK_APP_ID)
    writer.append(_delta(out, "ledgers"), FIRST + 3)
    code, output = _export(sink_dir, "delta", end=FIRST + 3)
    assert code == 1
    assert "SinkError" in output and "no transaction of application 'stellar-arrow-export'" in output


def test_an_object_store_out_is_refused_before_any_credential_is_needed() -> None:
    """No credentials in the environment: the refusal names the format, not a failed write probe."""
    args = [
        "export", "--no-progress", "--source", str(SAMPLE_LAKE), "--start", str(FIRST),
        "--end", str(FIRST + 3), "--out", "s3://no-such-bucket/x", "--tables", "ledgers", "--format", "delta",
    ]  # fmt: skip
    started = time.monotonic()
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2, result.output
    assert "--format delta writes to a local folder" in result.output and "Traceback" not in result.output
    assert time.monotonic() - started < 10  # no network round trip was tried


def _delta_versions(out: Path) -> int:
    return sum(len(list((delta_table_path(out, t) / "_delta_log").glob("*.json"))) for t in TABLES)


def _version(out: Path, table: str) -> int | None:
    path = delta_table_path(out, table)
    return DeltaTable(str(path)).version() if any((path / "_delta_log").glob("*.json")) else None


def test_a_sigkilled_export_resumed_holds_every_row_once(tmp_path: Path, parquet_out: Path) -> None:
    """SIGKILL ``export --format delta`` (one-ledger chunks) mid-run twice, then let a re-run finish."""
    rng = random.Random(int(os.environ.get("CHAOS_SEED", "7")))
    out = tmp_path / "delta"
    args = [
        str(Path(sys.executable).with_name("stellar-arrow")), "export", "--no-progress",
        "--source", str(SAMPLE_LAKE), "--start", str(FIRST), "--end", str(LAST), "--out", str(out),
        "--chunk-size", "1", "--tables", ",".join(TABLES), "--format", "delta",
    ]  # fmt: skip
    kills = []
    for _ in range(2):
        before = _delta_versions(out)
        with subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as proc:
            deadline = time.monotonic() + 60
            while _delta_versions(out) <= before and proc.poll() is None and time.monotonic() < deadline:
                time.sleep(0.01)  # until this run appended something
            time.sleep(rng.uniform(0.0, 0.3))
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
        kills.append({t: _version(out, t) for t in TABLES})  # a kill may land before a table's first append
    assert subprocess.run(args, capture_output=True, timeout=120, check=False).returncode == 0
    assert (kills[-1]["ledgers"] or 0) < 9, kills  # the kills landed before the end
    for table in TABLES:
        assert _delta(out, table).equals(_parquet(parquet_out, table)), table
        history = sorted(DeltaTable(str(delta_table_path(out, table))).history(), key=lambda h: h["version"])
        through = [int(h["stellar_arrow.through_ledger"]) for h in history]
        assert through == list(range(FIRST, LAST + 1))  # each one-ledger chunk appended exactly once
