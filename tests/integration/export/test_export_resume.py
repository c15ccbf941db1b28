"""Resume trusts a chunk only if its manifest checks out; other layouts, bad --out, hostile flags: refused."""

from __future__ import annotations

from pathlib import Path

import orjson
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import max_workers

from .conftest import FIRST, SAMPLE_LAKE

pytestmark = pytest.mark.integration


def _export(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["export", "--no-progress", *args])
    return result.exit_code, result.output


def _base(out: Path, *, start: int = FIRST, end: int = FIRST + 7, chunk_size: int = 4) -> list[str]:
    return [
        "--source", str(SAMPLE_LAKE), "--start", str(start), "--end", str(end), "--out", str(out),
        "--chunk-size", str(chunk_size), "--tables", "ledgers,transactions",
    ]  # fmt: skip


def _tables(out: Path) -> list[str]:
    return sorted(p.relative_to(out).as_posix() for p in out.rglob("*.parquet"))


def _sequences(out: Path) -> list[int]:
    return sorted(
        s for p in (out / "ledgers").glob("*.parquet") for s in pq.read_table(p)["sequence"].to_pylist()
    )


@pytest.mark.parametrize("damage", ["truncate", "garbage", "same-size", "no-manifest", "bad-manifest"])
def test_a_damaged_chunk_is_written_again(tmp_path: Path, damage: str) -> None:
    out = tmp_path / "out"
    assert _export(*_base(out))[0] == 0
    victim = out / "transactions" / f"transactions-{FIRST + 4}-{FIRST + 7}.parquet"
    manifest = out / "_manifests" / f"chunk-{FIRST + 4}-{FIRST + 7}.json"
    data = victim.read_bytes()
    if damage == "truncate":
        victim.write_bytes(data[: len(data) // 2])
    elif damage == "garbage":
        victim.write_bytes(b"not parquet at all")
    elif damage == "same-size":  # a flipped byte inside the data pages: size and footer still fine
        middle = len(data) // 2
        victim.write_bytes(data[:middle] + bytes([data[middle] ^ 0xFF]) + data[middle + 1 :])
    elif damage == "no-manifest":  # a crash between the data and the manifest
        manifest.unlink()
    else:
        manifest.write_bytes(b"{")
    code, output = _export(*_base(out))
    assert code == 0, output
    assert "chunks written: 1, skipped (already complete): 1" in output
    assert f"chunk {FIRST + 4}-{FIRST + 7}:" in output and "written again" in output
    assert pq.read_table(victim).num_rows > 0
    body = orjson.loads(manifest.read_bytes())
    assert {f["table"] for f in body["files"]} == {"ledgers", "transactions"}
    assert _export(*_base(out))[1].count("skipped (already complete): 2") == 1


def test_a_chunk_written_in_another_format_or_without_a_table_is_not_trusted(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _export(*_base(out), "--include-xdr")[0] == 0
    code, output = _export(*_base(out))  # without --include-xdr: the files hold other columns
    assert code == 0 and "chunks written: 2" in output and "include_xdr" in output, output
    code, output = _export(*_base(out)[:-2], "--tables", "ledgers,transactions,operations")
    assert code == 0 and "chunks written: 2" in output and "table operations is not in its manifest" in output


@pytest.mark.parametrize(("flag", "value"), [("--chunk-size", "3"), ("--start", str(FIRST + 1))])
def test_another_layout_is_refused_and_overwrite_replaces_it(tmp_path: Path, flag: str, value: str) -> None:
    out = tmp_path / "out"
    assert _export(*_base(out))[0] == 0
    before = _tables(out)
    args = _base(out)
    args[args.index(flag) + 1] = value
    code, output = _export(*args)
    assert code == 2
    assert "ConfigError" in output and "overlap" in output and f"{FIRST}-{FIRST + 3}" in output
    assert len(output.strip().splitlines()) == 1  # one line, no traceback
    assert _tables(out) == before
    code, output = _export(*args, "--overwrite")
    assert code == 0, output
    start = int(args[args.index("--start") + 1])
    assert _sequences(out) == list(range(start, FIRST + 8))  # every ledger once: nothing overlaps


def test_a_longer_range_replaces_only_the_short_last_chunk(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert _export(*_base(out, end=FIRST + 5))[0] == 0
    code, output = _export(*_base(out, end=FIRST + 9))
    assert code == 0 and "skipped (already complete): 1" in output, output
    assert _sequences(out) == list(range(FIRST, FIRST + 10))
    assert sorted(p.name for p in (out / "_manifests").iterdir()) == [
        f"chunk-{FIRST}-{FIRST + 3}.json",
        f"chunk-{FIRST + 4}-{FIRST + 7}.json",
        f"chunk-{FIRST + 8}-{FIRST + 9}.json",
    ]


def test_out_that_cannot_be_written_is_refused_up_front(tmp_path: Path) -> None:
    a_file = tmp_path / "file.txt"
    a_file.write_text("x")
    blocked = tmp_path / "blocked"
    blocked.mkdir()
    (blocked / "ledgers").write_text("a file where a table folder goes")
    for out, words in (
        (a_file, "is a file"),
        (a_file / "sub", "cannot be written"),
        (blocked, "is a file"),
        (Path("/proc/stellar-arrow-out"), "cannot be written"),
    ):
        code, output = _export(*_base(out))
        assert code == 2, output
        assert output.startswith("error: ConfigError: --out") and words in output, output
        assert len(output.strip().splitlines()) == 1


def test_a_missing_lake_says_it_does_not_exist(tmp_path: Path) -> None:
    code, output = _export(
        "--source", str(tmp_path / "nowhere"), "--start", str(FIRST), "--out", str(tmp_path)
    )
    assert code == 2 and "does not exist" in output and "manifest" not in output, output
    code, output = _export("--source", str(SAMPLE_LAKE / ".config.json"), "--start", str(FIRST), "--out", "o")
    assert code == 1 and "unknown ledger file format" in output  # a file that holds no ledgers


@pytest.mark.parametrize(
    ("args", "words"),
    [
        (["--workers", "1000"], f"choose 0..{max_workers()}"),
        (["--workers", "-1"], "export.workers"),
        (["--start", "-5"], "source.start_ledger"),
        (["--start", "0"], "source.start_ledger"),
        (["--end", str(FIRST - 1)], "is before start_ledger"),
        (["--end", str(2**40)], "source.end_ledger"),
        (["--end", "9" * 40], "source.end_ledger"),
        (["--format", "xml"], "export.format"),
        (["--format", ""], "export.format"),
        (["--tables", ""], "export.tables"),
        (["--tables", "trades"], "export.tables"),
        (["--tables", ",,,"], "export.tables"),
        (["--chunk-size", "0"], "export.chunk_size"),
        (["--chunk-size", "-3"], "export.chunk_size"),
        (["--chunk-size", str(2**63)], "export.chunk_size"),
        (["--source", ""], "--source is empty"),
        (["--network", "marsnet"], "source.network_passphrase"),
        (["--network", ""], "source.network_passphrase"),
        (["--decoder", "turbo"], "export.decoder"),
        (["--storage-option", "novalue"], "KEY=VALUE"),
        (["--ledgers-per-batch", "0"], "source.ledgers_per_batch"),
        (["--out", ""], "export.output_dir"),
    ],
)
def test_hostile_flags_are_one_line_usage_errors(tmp_path: Path, args: list[str], words: str) -> None:
    out = tmp_path / "out"
    base = _base(out)
    for flag, value in zip(args[::2], args[1::2], strict=True):
        if flag in base:
            base[base.index(flag) + 1] = value
        else:
            base += [flag, value]
    code, output = _export(*base)
    assert code == 2, output
    assert words in output and len(output.strip().splitlines()) == 1, output
    assert not out.exists() or _tables(out) == []


def test_export_settings_come_from_a_config_file_with_flags_on_top(tmp_path: Path) -> None:
    config = tmp_path / "export.yaml"
    out = tmp_path / "out"
    config.write_text(
        f"source:\n  datalake_uri: {SAMPLE_LAKE}\n  start_ledger: {FIRST}\n  end_ledger: {FIRST + 3}\n"
        f"export:\n  output_dir: {out}\n  tables: [ledgers]\n  chunk_size: 2\n  format: jsonl\n",
        encoding="utf-8",
    )
    code, output = _export("--config", str(config), "--end", str(FIRST + 1))
    assert code == 0, output
    assert sorted(p.name for p in (out / "ledgers").iterdir()) == [f"ledgers-{FIRST}-{FIRST + 1}.jsonl"]
