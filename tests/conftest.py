"""Shared fixtures: environment scrub, paths to the bundled corpus and sample lakes."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
DATA = REPO / "data"


@pytest.fixture(autouse=True)
def _scrub_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No STELLAR_ARROW_* variable from the developer's shell leaks into a test."""
    for name in list(os.environ):
        if name.startswith("STELLAR_ARROW_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("GRPC_VERBOSITY", "ERROR")
    yield


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


CORPUS = DATA / "corpus"


def corpus_files() -> list[Path]:
    """Every ledger file of the bundled corpus (``data/corpus``), sorted by name."""
    return sorted(p for p in CORPUS.iterdir() if p.suffix != ".md" and not p.name.startswith("."))


@pytest.fixture(scope="session")
def corpus_ledgers() -> list[tuple[str, bytes]]:
    """``(file name #index, LedgerCloseMeta bytes)`` for every ledger of the corpus (70 in all)."""
    from stellar_arrow.source.files import read_ledger_file

    out: list[tuple[str, bytes]] = []
    for path in corpus_files():
        for index, lcm in enumerate(read_ledger_file(path)):
            out.append((f"{path.name}#{index}", lcm))
    return out


def run_bounded_fuzz(harness: Path, corpus: Path, seconds: int) -> None:
    """Run an atheris harness of ``tests/fuzz`` for ``seconds`` on ``corpus``: it must exit 0 (no finding)
    after more than 100 runs."""
    limits = [f"-max_total_time={seconds}", "-timeout=20", "-rss_limit_mb=4096"]
    done = subprocess.run(
        [sys.executable, str(harness), *limits, str(corpus)],
        capture_output=True,
        text=True,
        timeout=240,
        cwd=harness.parents[2],
    )
    assert done.returncode == 0, done.stderr[-3000:]
    runs = re.search(r"Done (\d+) runs", done.stderr)
    assert runs is not None and int(runs.group(1)) > 100, done.stderr[-3000:]
