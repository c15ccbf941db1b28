"""A bounded coverage-guided fuzz run (atheris) of the compiled decoder against the Python one, and
a reference-leak check of both the success and the error paths."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path

from stellar_arrow.errors import XdrDecodeError
from stellar_arrow.xdr.choice import decode_ledger_close_meta_compiled
from tests.conftest import run_bounded_fuzz

HARNESS = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_compiled.py"


def test_atheris_finds_nothing_in_a_bounded_run(
    corpus_ledgers: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    seeds = [lcm for _, lcm in corpus_ledgers if len(lcm) < 12_000]
    for n, lcm in enumerate(seeds):
        (tmp_path / f"seed{n}").write_bytes(b"\x00" + lcm)  # type 0: LedgerCloseMeta
    run_bounded_fuzz(HARNESS, tmp_path, seconds=15)


def test_no_reference_leaks(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    lcm = next(b for n, b in corpus_ledgers if "63092982" in n)
    damaged = [lcm[:cut] for cut in range(1000, len(lcm), len(lcm) // 25)]

    def round_trip() -> None:
        decode_ledger_close_meta_compiled(lcm)
        for data in damaged:
            with contextlib.suppress(XdrDecodeError):
                decode_ledger_close_meta_compiled(data)

    round_trip()  # fills the bounded intern tables
    round_trip()
    before = sys.getallocatedblocks()
    for _ in range(5):
        round_trip()
    assert sys.getallocatedblocks() - before < 20  # one leaked object per error path would be 130


def test_replay_without_coverage_finds_nothing(
    corpus_ledgers: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    """The mode the ASan run uses (the preloaded ASan runtime takes atheris's coverage hooks)."""
    seeds = [lcm for _, lcm in corpus_ledgers if len(lcm) < 12_000]
    for n, lcm in enumerate(seeds):
        (tmp_path / f"seed{n}").write_bytes(b"\x00" + lcm)
    done = subprocess.run(
        [sys.executable, str(HARNESS), "--replay", "300", str(tmp_path), "--seed", "3"],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=tmp_path,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"replayed {len(seeds)} inputs and 300 changed ones" in done.stderr
    assert not list(tmp_path.glob("fuzz-compiled-finding-*"))
