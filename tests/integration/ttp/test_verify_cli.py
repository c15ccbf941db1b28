"""``stellar-arrow verify`` end to end on corpus files and the sample lake, including a corrupted ledger."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from stellar_sdk import xdr as x
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.ledger import PUBNET
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.ttp import Mismatch, transaction_events, verify_transaction
from stellar_arrow.xdr import decode_ledger_close_meta
from tests.conftest import CORPUS, DATA

runner = CliRunner()


def verify(*args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["verify", *args])
    return result.exit_code, result.output


def test_corpus_file_reconciles() -> None:
    code, out = verify("--source", str(CORPUS / "pubnet-0057500008.xdr.gz"), "--mode", "both", "--strict")
    assert code == 0, out
    assert "verified 1 ledgers, 264 transactions" in out and "0 mismatches, 0 mode differences" in out
    assert "264 txs with unified events" in out


def test_lake_range_reconciles() -> None:
    code, out = verify(
        "--source",
        str(DATA / "lakes" / "pubnet-p26"),
        "--start",
        "63092990",
        "--end",
        "63092991",
        "--mode",
        "both",
    )
    assert code == 0, out
    assert "verified 2 ledgers" in out


def test_testnet_file_is_detected_and_a_wrong_network_refused() -> None:
    path = str(CORPUS / "testnet-0001283415.xdr")
    assert verify("--source", path, "--network", "testnet")[0] == 0
    assert verify("--source", path)[0] == 0  # a file declares no network: detected from its ledgers
    code, out = verify("--source", path, "--network", "pubnet")  # no envelope hashes to the tx
    assert code == 1 and "NetworkMismatchError" in out  # the data disagree with the network: a data failure


def corrupt_fee_processing(src: Path, dest: Path) -> str:
    """Take one stroop off the fee payer's post-fee balance; return the tx hash."""
    lcm = x.LedgerCloseMeta.from_xdr_bytes(src.read_bytes())
    processing = lcm.v2.tx_processing[0]
    change = next(
        c
        for c in processing.fee_processing.ledger_entry_changes
        if c.type == x.LedgerEntryChangeType.LEDGER_ENTRY_UPDATED
    )
    change.updated.data.account.balance = x.Int64(change.updated.data.account.balance.int64 - 1)
    dest.write_bytes(lcm.to_xdr_bytes())
    return processing.result.transaction_hash.hash.hex()


def test_corrupted_ledger_exits_one_and_names_the_tx(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.xdr"
    tx_hash = corrupt_fee_processing(CORPUS / "testnet-0001283415.xdr", path)
    code, out = verify("--source", str(path), "--network", "testnet")
    assert code == 1
    assert f"transaction mismatch at ledger 1283415 tx {tx_hash}" in out
    assert "ledger changes -" in out and "1 mismatches" in out


def corrupt_soroban_fee(src: Path, dest: Path, index: int) -> str:
    """Take one stroop off the fee payer's balance after the fee charge of Soroban ``txProcessing[index]``."""
    lcm = x.LedgerCloseMeta.from_xdr_bytes(read_ledger_file(src)[0])
    processing = lcm.v2.tx_processing[index]
    change = next(
        c
        for c in processing.fee_processing.ledger_entry_changes
        if c.type == x.LedgerEntryChangeType.LEDGER_ENTRY_UPDATED
    )
    change.updated.data.account.balance = x.Int64(change.updated.data.account.balance.int64 - 1)
    dest.write_bytes(lcm.to_xdr_bytes())
    return processing.result.transaction_hash.hash.hex()


def test_soroban_fee_off_by_one_stroop_fails_the_default_verify(tmp_path: Path) -> None:
    """The balance check alone cannot see it (the derived charge follows the balance); feeCharged does."""
    path = tmp_path / "corrupt.xdr"
    tx_hash = corrupt_soroban_fee(CORPUS / "pubnet-0063092982.xdr.gz", path, 260)  # tx #261, Soroban
    (raw,) = read_ledger_file(path)
    (t,) = [
        t
        for t in transaction_events(decode_ledger_close_meta(raw), PUBNET)
        if t.transaction.hash_hex == tx_hash
    ]
    assert t.transaction.is_soroban and verify_transaction(t, strict=False) == [
        Mismatch(
            "fee",
            63092982,
            tx_hash,
            261,
            None,
            t.fees.charge.from_,
            "native",
            t.transaction.fee_charged,
            t.transaction.fee_charged + 1,
        )
    ]
    code, out = verify("--source", str(path))  # default mode: derived, not strict
    assert code == 1, out
    assert f"fee mismatch at ledger 63092982 tx {tx_hash} (#261)" in out and "1 mismatches" in out


def test_bad_arguments_exit_two(tmp_path: Path) -> None:
    lake = str(DATA / "lakes" / "pubnet-p26")
    assert verify("--source", lake, "--mode", "sideways", "--start", "63092990")[0] == 2
    assert verify("--source", lake)[0] == 2  # a lake needs --start
    code, out = verify("--source", str(CORPUS / "pubnet-0057500008.xdr.gz"), "--start", "2", "--end", "3")
    assert code == 2 and "no ledger" in out
    assert verify("--source", lake, "--start", "1")[0] == 2  # ledger 1 does not exist
    assert verify("--source", "", "--start", "63092990")[0] == 2
    assert verify("--source", lake, "--start", "63092990", "--decoder", "slow")[0] == 2


@pytest.mark.integration
def test_installed_script_exit_code(tmp_path: Path) -> None:
    path = tmp_path / "corrupt.xdr"
    corrupt_fee_processing(CORPUS / "testnet-0001283415.xdr", path)
    script = Path(sys.executable).parent / "stellar-arrow"
    ok = subprocess.run(
        [str(script), "verify", "--source", str(CORPUS / "testnet-0001283415.xdr"), "--network", "testnet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    bad = subprocess.run(
        [str(script), "verify", "--source", str(path), "--network", "testnet"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert (ok.returncode, bad.returncode) == (0, 1), ok.stderr + bad.stderr


def test_stellar_sdk_decoder_gives_the_same_verdict(tmp_path: Path) -> None:
    code, out = verify(
        "--source", str(CORPUS / "testnet-0001283415.xdr"), "--network", "testnet", "--decoder", "sdk"
    )
    assert code == 0 and "0 mismatches" in out
    path = tmp_path / "corrupt.xdr"
    corrupt_fee_processing(CORPUS / "testnet-0001283415.xdr", path)
    code, out = verify("--source", str(path), "--network", "testnet", "--decoder", "sdk")
    assert code == 1 and "1 mismatches" in out
