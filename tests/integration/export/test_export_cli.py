"""``stellar-arrow export`` end to end on the sample lake: formats, workers, resume, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pa_csv
import pyarrow.parquet as pq
import pytest
import zstandard
from typer.testing import CliRunner

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.cli import app
from stellar_arrow.config import Settings, load_settings
from stellar_arrow.export import run_export
from stellar_arrow.ledger import resolve_network
from stellar_arrow.source.batch import encode_ledger_close_meta_batch
from stellar_arrow.source.files import read_ledger_file
from tests.conftest import CORPUS
from tests.unit.ledger.realdata import relinked

from .conftest import FIRST, LAST, SAMPLE_LAKE, object_path

pytestmark = pytest.mark.integration
TABLES = ("ledgers", "transactions", "operations")
CHECKED_COLUMNS = ("ledger_hash", "transaction_hash", "details", "fee_charged", "total_coins", "account")


def _expected(first: int, last: int) -> dict[str, pa.Table]:
    """The tables built straight from the corpus files (another path to the same ledgers)."""
    tables = TableSet(TableSetOptions(TABLES, resolve_network("pubnet")))
    for seq in range(first, last + 1):
        (raw,) = read_ledger_file(CORPUS / f"pubnet-{seq:010d}.xdr.gz")
        tables.add(raw)
    return {name: pa.Table.from_batches([batch]) for name, batch in tables.finish().items()}


def _export(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["export", "--no-progress", *args])
    return result.exit_code, result.output


def _files(out: Path) -> list[str]:
    """The table files under ``out`` (chunk manifests left out)."""
    return sorted(
        p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file() and p.parent.name != "_manifests"
    )


def _request(
    start: int, end: int, out: Path, *, tables: tuple[str, ...], chunk_size: int, overwrite: bool = False
) -> Settings:
    return load_settings(
        source={"datalake_uri": str(SAMPLE_LAKE), "start_ledger": start, "end_ledger": end},
        export={"output_dir": str(out), "tables": tables, "chunk_size": chunk_size, "overwrite": overwrite},
    )


def test_parquet_export_with_two_workers_equals_tables_built_from_the_corpus(tmp_path: Path) -> None:
    out = tmp_path / "out"
    code, output = _export(
        "--source", str(SAMPLE_LAKE), "--start", str(FIRST), "--end", str(LAST), "--out", str(out),
        "--chunk-size", "8", "--workers", "2",
    )  # fmt: skip
    assert code == 0, output
    assert "ledgers decoded: 20" in output and "chunks written: 3" in output
    chunks = ["63092982-63092989", "63092990-63092997", "63092998-63093001"]
    assert _files(out) == sorted(f"{t}/{t}-{c}.parquet" for t in TABLES for c in chunks)
    expected = _expected(FIRST, LAST)
    for table in TABLES:
        got = pa.concat_tables(pq.read_table(out / table / f"{table}-{c}.parquet") for c in chunks)
        assert got.schema.equals(expected[table].schema, check_metadata=True)
        assert got.equals(expected[table]), table


@pytest.mark.parametrize("file_format", ["jsonl", "csv"])
def test_text_formats_hold_the_same_rows(tmp_path: Path, file_format: str) -> None:
    first, last = FIRST, FIRST + 3
    code, output = _export(
        "--source", str(SAMPLE_LAKE), "--start", str(first), "--end", str(last), "--out", str(tmp_path),
        "--format", file_format, "--tables", "ledgers,transactions,operations",
    )  # fmt: skip
    assert code == 0, output
    expected = _expected(first, last)
    for table in TABLES:
        path = tmp_path / table / f"{table}-{first}-{last}.{file_format}"
        if file_format == "jsonl":
            rows = [json.loads(line) for line in path.read_text().splitlines()]
        else:
            rows = pa_csv.read_csv(path).to_pylist()
        want = expected[table].to_pylist()
        assert len(rows) == len(want), table
        for got, row in zip(rows, want, strict=True):
            assert got["id"] == row["id"]
            for column in CHECKED_COLUMNS:
                if column in row:
                    assert got[column] == row[column], (table, column)
    ledgers = (tmp_path / "ledgers" / f"ledgers-{first}-{last}.{file_format}").read_text()
    assert "2026-06-19" in ledgers  # closed_at written as a UTC date-time


def test_rerun_skips_complete_chunks(tmp_path: Path) -> None:
    tables = ("ledgers", "transactions")
    request = _request(FIRST, FIRST + 9, tmp_path, tables=tables, chunk_size=5)
    first = run_export(request)
    assert (first.chunks_written, first.chunks_skipped, first.ledgers_exported) == (2, 0, 10)
    kept = tmp_path / "ledgers" / f"ledgers-{FIRST}-{FIRST + 4}.parquet"
    kept_mtime = kept.stat().st_mtime_ns
    (tmp_path / "transactions" / f"transactions-{FIRST + 5}-{FIRST + 9}.parquet").unlink()
    second = run_export(request)
    assert (second.chunks_written, second.chunks_skipped, second.ledgers_exported) == (1, 1, 5)
    assert kept.stat().st_mtime_ns == kept_mtime
    rewritten = tmp_path / "transactions" / f"transactions-{FIRST + 5}-{FIRST + 9}.parquet"
    assert pq.read_table(rewritten).num_rows > 0
    third = run_export(request)
    assert (third.chunks_written, third.chunks_skipped) == (0, 2)


def test_corrupt_object_fails_naming_it_and_leaves_no_partial_file(lake_copy: Path, tmp_path: Path) -> None:
    bad = object_path(lake_copy, FIRST + 7)
    bad.write_bytes(b"\x28\xb5\x2f\xfd" + b"not really zstd" * 10)
    out = tmp_path / "out"
    code, output = _export(
        "--source", str(lake_copy), "--start", str(FIRST), "--end", str(FIRST + 9), "--out", str(out),
        "--chunk-size", "5", "--workers", "2",
    )  # fmt: skip
    assert code == 1
    assert "LedgerObjectError" in output and bad.name in output
    assert _files(out) == sorted(f"{t}/{t}-{FIRST}-{FIRST + 4}.parquet" for t in TABLES)
    assert not [p for p in out.rglob(".*")]  # no temporary file left behind


def test_broken_hash_chain_stops_the_export(lake_copy: Path, tmp_path: Path) -> None:
    seq = FIRST + 3
    (raw,) = read_ledger_file(CORPUS / f"pubnet-{seq:010d}.xdr.gz")
    batch = encode_ledger_close_meta_batch(seq, seq, [relinked(raw, bytes(32))])
    object_path(lake_copy, seq).write_bytes(zstandard.ZstdCompressor().compress(batch))
    code, output = _export(
        "--source", str(lake_copy), "--start", str(FIRST), "--end", str(FIRST + 5),
        "--out", str(tmp_path / "o"),
    )  # fmt: skip
    assert code == 1
    assert "HashChainError" in output and f"ledger {seq}: previous_ledger_hash" in output
    assert not (tmp_path / "o").exists() or _files(tmp_path / "o") == []


def test_wrong_network_is_rejected(tmp_path: Path) -> None:
    code, output = _export(
        "--source", str(SAMPLE_LAKE), "--start", str(FIRST), "--end", str(FIRST), "--out", str(tmp_path),
        "--network", "testnet",
    )  # fmt: skip
    assert code == 1 and "NetworkMismatchError" in output
    corpus_file = CORPUS / f"pubnet-{FIRST:010d}.xdr.gz"
    code, output = _export(
        "--source", str(corpus_file), "--start", str(FIRST), "--end", str(FIRST), "--out", str(tmp_path),
        "--network", "testnet",
    )  # fmt: skip
    assert code == 1 and "NetworkMismatchError" in output and f"ledger {FIRST}" in output
    assert _files(tmp_path) == []


def test_corpus_file_source_detects_the_network(tmp_path: Path) -> None:
    code, output = _export(
        "--source", str(CORPUS / "testnet-0000000998.lcmbatch.xdr.zst"), "--start", "998", "--end", "998",
        "--out", str(tmp_path), "--include-xdr",
    )  # fmt: skip
    assert code == 0, output
    assert "(testnet)" in output
    txs = pq.read_table(tmp_path / "transactions" / "transactions-998-998.parquet").to_pylist()
    assert len(txs) == 7 and all(t["tx_envelope"] for t in txs)


def test_command_line_exit_status(tmp_path: Path) -> None:
    """The installed entry point: a missing ledger in a bounded range is a non-zero exit naming it."""
    cmd = [
        str(Path(sys.executable).parent / "stellar-arrow"), "export", "--source", str(SAMPLE_LAKE),
        "--start", str(LAST), "--end", str(LAST + 1), "--out", str(tmp_path), "--no-progress",
    ]  # fmt: skip
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 1
    assert str(LAST + 1) in proc.stderr and "Error" in proc.stderr
    assert _files(tmp_path) == []


def test_token_transfers_export_reconciles_fees_with_transactions(tmp_path: Path) -> None:
    """Every transaction's fee events (token_transfers) add up to its fee_charged (transactions)."""
    import duckdb

    last = FIRST + 2
    code, output = _export(
        "--source", str(SAMPLE_LAKE), "--start", str(FIRST), "--end", str(last), "--out", str(tmp_path),
        "--tables", "ledgers,transactions,token_transfers",
    )  # fmt: skip
    assert code == 0, output
    transfers = tmp_path / "token_transfers" / f"token_transfers-{FIRST}-{last}.parquet"
    transactions = tmp_path / "transactions" / f"transactions-{FIRST}-{last}.parquet"
    ((total, matching),) = duckdb.sql(
        f"""
        with fees as (
            select transaction_hash, sum(cast(amount_raw as hugeint)) as fee
            from '{transfers}' where event_type = 'fee' group by 1
        )
        select count(*), count(*) filter (where fees.fee = t.fee_charged)
        from '{transactions}' t left join fees using (transaction_hash)
        """
    ).fetchall()
    assert total == 305 + 243 + 299 and matching == total
    ((soroban, refunds_match),) = duckdb.sql(
        f"""
        with refunds as (
            select transaction_hash, -sum(cast(amount_raw as hugeint)) as refund
            from '{transfers}' where event_type = 'fee' and cast(amount_raw as hugeint) < 0 group by 1
        )
        select count(*), count(*) filter (where coalesce(refunds.refund, 0) = t.resource_fee_refund)
        from '{transactions}' t left join refunds using (transaction_hash)
        where t.resource_fee_refund is not null
        """
    ).fetchall()
    assert soroban > 40 and refunds_match == soroban


@pytest.mark.parametrize("file_format", ["parquet", "jsonl", "csv"])
def test_resumed_export_checks_the_chain_across_the_written_chunk(
    lake_copy: Path, tmp_path: Path, file_format: str
) -> None:
    """A chunk written by an earlier run is the anchor: the next ledger must link to its last ledger."""
    out = tmp_path / "out"
    base = ["--start", str(FIRST), "--out", str(out), "--chunk-size", "3", "--format", file_format]
    code, output = _export("--source", str(lake_copy), *base, "--end", str(FIRST + 2), "--tables", "ledgers")
    assert code == 0, output
    seq = FIRST + 3  # first ledger of the next chunk: self-consistent, but linked to another ledger
    (raw,) = read_ledger_file(CORPUS / f"pubnet-{seq:010d}.xdr.gz")
    batch = encode_ledger_close_meta_batch(seq, seq, [relinked(raw, bytes(32))])
    object_path(lake_copy, seq).write_bytes(zstandard.ZstdCompressor().compress(batch))
    code, output = _export("--source", str(lake_copy), *base, "--end", str(FIRST + 5), "--tables", "ledgers")
    assert code == 1
    assert "HashChainError" in output and f"ledger {seq}: previous_ledger_hash" in output
    assert _files(out) == [f"ledgers/ledgers-{FIRST}-{FIRST + 2}.{file_format}"]


def test_truncated_ledger_xdr_is_a_decode_error_naming_the_ledger(lake_copy: Path, tmp_path: Path) -> None:
    seq = FIRST + 1
    (raw,) = read_ledger_file(CORPUS / f"pubnet-{seq:010d}.xdr.gz")
    batch = encode_ledger_close_meta_batch(seq, seq, [raw[:-1000]])
    object_path(lake_copy, seq).write_bytes(zstandard.ZstdCompressor().compress(batch))
    code, output = _export(
        "--source", str(lake_copy), "--start", str(FIRST), "--end", str(FIRST + 2),
        "--out", str(tmp_path / "o"), "--workers", "1",
    )  # fmt: skip
    assert code == 1
    assert "XdrDecodeError" in output and f"of ledger {seq}" in output, output
    assert not (tmp_path / "o").exists() or _files(tmp_path / "o") == []


def test_longer_range_replaces_the_short_last_chunk_and_overwrite_rewrites(tmp_path: Path) -> None:
    def request(end: int, *, overwrite: bool = False) -> Settings:
        return _request(FIRST, end, tmp_path, tables=("ledgers",), chunk_size=4, overwrite=overwrite)

    run_export(request(FIRST + 5))  # chunks FIRST..+3 and a short one FIRST+4..+5
    assert _files(tmp_path) == [
        f"ledgers/ledgers-{FIRST}-{FIRST + 3}.parquet",
        f"ledgers/ledgers-{FIRST + 4}-{FIRST + 5}.parquet",
    ]
    summary = run_export(request(FIRST + 7))
    assert (summary.chunks_skipped, summary.chunks_written) == (1, 1)
    assert _files(tmp_path) == [
        f"ledgers/ledgers-{FIRST}-{FIRST + 3}.parquet",
        f"ledgers/ledgers-{FIRST + 4}-{FIRST + 7}.parquet",
    ]
    rows = pq.read_table(tmp_path / "ledgers" / f"ledgers-{FIRST + 4}-{FIRST + 7}.parquet").column("sequence")
    assert rows.to_pylist() == list(range(FIRST + 4, FIRST + 8))
    summary = run_export(request(FIRST + 7, overwrite=True))
    assert (summary.chunks_skipped, summary.chunks_written) == (0, 2)
