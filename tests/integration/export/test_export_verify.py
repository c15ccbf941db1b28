"""``stellar-arrow export --verify``: token transfer events reconciled ledger by ledger while exporting."""

from __future__ import annotations

from pathlib import Path

import pytest
from stellar_sdk import xdr as x
from typer.testing import CliRunner

from stellar_arrow.cli import app
from tests.conftest import CORPUS

from .conftest import SAMPLE_LAKE

pytestmark = pytest.mark.integration


def _export(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["export", "--no-progress", *args])
    return result.exit_code, result.output


def test_verified_export_of_the_sample_lake(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = _export(
        "--source", str(SAMPLE_LAKE), "--start", "63092990", "--end", "63092993", "--out", str(out),
        "--tables", "transactions,token_transfers", "--verify",
    )  # fmt: skip
    assert code == 0, output
    assert (out / "token_transfers" / "token_transfers-63092990-63092993.parquet").is_file()


def test_a_ledger_whose_balances_disagree_with_its_events_fails_the_export(tmp_path: Path) -> None:
    lcm = x.LedgerCloseMeta.from_xdr_bytes((CORPUS / "testnet-0001283415.xdr").read_bytes())
    fee_changes = lcm.v2.tx_processing[0].fee_processing.ledger_entry_changes
    updated = next(c for c in fee_changes if c.type == x.LedgerEntryChangeType.LEDGER_ENTRY_UPDATED)
    updated.updated.data.account.balance = x.Int64(updated.updated.data.account.balance.int64 - 1)
    damaged = tmp_path / "testnet-0001283415.xdr"
    damaged.write_bytes(lcm.to_xdr_bytes())
    out = tmp_path / "out"
    args = ["--source", str(damaged), "--start", "1283415", "--end", "1283415", "--out", str(out)]
    args += ["--tables", "token_transfers", "--network", "testnet", "--no-verify-hashes"]
    code, output = _export(*args)
    assert code == 0, output  # without --verify the events are exported as derived
    code, output = _export(*args, "--overwrite", "--verify")
    assert code == 1
    assert "ReconciliationError" in output and "ledger 1283415" in output
    # nothing half-written: only the complete file of the first (unverified) run is there
    assert sorted(p.name for p in out.rglob("*") if p.is_file()) == [
        "chunk-1283415-1283415.json",
        "token_transfers-1283415-1283415.parquet",
    ]
