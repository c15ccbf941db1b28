"""Exports through the local lake, an S3 lake (moto server) and Stellar RPC (rpc-replay) are identical."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import load_settings
from stellar_arrow.export import run_export
from stellar_arrow.source.open import source_spec
from stellar_arrow.source.rpc_replay import ReplayLake
from stellar_arrow.source.rpc_server import RpcReplayServer

from .conftest import FIRST, LAST, SAMPLE_LAKE

pytestmark = pytest.mark.integration
TABLES = ("ledgers", "transactions", "operations")


def _export(source: str, out: Path, **extra: object) -> dict[str, object]:
    settings = load_settings(
        source={**source_spec(source), "start_ledger": FIRST + 10, "end_ledger": LAST, **extra},
        export={"output_dir": str(out), "tables": TABLES, "chunk_size": 10},
    )
    summary = run_export(settings)
    assert summary.ledgers_exported == LAST - FIRST - 9 and summary.network == "pubnet"
    return {t: pq.read_table(out / t / f"{t}-{FIRST + 10}-{LAST}.parquet") for t in TABLES}


S3Lake = tuple[str, dict[str, object]]


def test_local_s3_and_rpc_exports_are_identical(tmp_path: Path, s3_lake: S3Lake) -> None:
    local = _export(str(SAMPLE_LAKE), tmp_path / "local")
    uri, options = s3_lake
    s3 = _export(uri, tmp_path / "s3", storage_options=options)
    # the same through the command line, with --storage-option
    cli_out = tmp_path / "s3-cli"
    flags = [f"--storage-option={k}={options[k]}" for k in ("endpoint_url", "key", "secret")]
    args = ["export", "--source", uri, "--start", str(FIRST + 10), "--end", str(LAST), "--out", str(cli_out)]
    result = CliRunner().invoke(app, [*args, "--chunk-size", "10", "--no-progress", *flags])
    assert result.exit_code == 0, result.output
    for table in TABLES:
        written = pq.read_table(cli_out / table / f"{table}-{FIRST + 10}-{LAST}.parquet")
        assert written.equals(s3[table]), table
    with RpcReplayServer(ReplayLake(str(SAMPLE_LAKE))) as server:
        rpc = _export(server.url, tmp_path / "rpc", network_passphrase="pubnet")
    for table in TABLES:
        assert local[table].num_rows > 0
        assert s3[table].equals(local[table]), table
        assert rpc[table].equals(local[table]), table
