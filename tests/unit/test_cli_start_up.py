"""The command line's start-up: no cyclic GC while a command starts, then GC on with start-up frozen."""

from __future__ import annotations

import gc
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stellar_arrow import cli


@pytest.fixture
def gc_off() -> Iterator[None]:
    """The collector off as :func:`cli.main` leaves it, nothing frozen (an earlier test may have frozen
    objects in this process); on and unfrozen again afterwards."""
    gc.unfreeze()
    gc.disable()
    try:
        yield
    finally:
        gc.unfreeze()
        gc.enable()


def test_start_up_done_freezes_what_exists_and_turns_the_collector_on(gc_off: None) -> None:
    assert gc.get_freeze_count() == 0
    cli._start_up_done()
    assert gc.isenabled() and gc.get_freeze_count() > 0
    frozen = gc.get_freeze_count()
    created_after = [[index] for index in range(1000)]  # tracked containers a second freeze would take
    cli._start_up_done()  # idempotent: nothing frozen twice
    # frozen objects may be freed meanwhile (other threads of the test process): the count never grows
    assert gc.get_freeze_count() <= frozen
    assert len(created_after) == 1000


def test_the_first_echoed_line_ends_start_up(gc_off: None) -> None:
    lines: list[str] = []
    echo = cli._echo_ending_start_up(lines.append)
    assert not gc.isenabled()
    echo("source    started at grpc://127.0.0.1:1")
    assert gc.isenabled() and lines == ["source    started at grpc://127.0.0.1:1"]


def test_a_short_command_ends_start_up_before_it_runs(gc_off: None, tmp_path: Path) -> None:
    seen: list[bool] = []
    original = cli._settings

    def spy(*args: object, **kwargs: object) -> object:
        seen.append(gc.isenabled())
        return original(*args, **kwargs)  # type: ignore[arg-type]

    cli._settings = spy  # type: ignore[assignment]
    try:
        CliRunner().invoke(cli.app, ["validate", str(tmp_path)])
    finally:
        cli._settings = original
    assert seen == [True]


def test_run_has_the_collector_on_once_its_services_are_up(tmp_path: Path, data_dir: Path) -> None:
    """A real 1-ledger ``run`` (one process): collector off during start-up, on and frozen while it waits."""
    config = tmp_path / "run.yaml"
    lake = data_dir / "lakes" / "pubnet-p26"
    source = f"{{flight_port: 0, datalake_uri: '{lake}', start_ledger: 63092982, end_ledger: 63092982}}"
    config.write_text(
        f"source: {source}\nprocessor: {{flight_port: 0}}\nsink: {{flight_port: 0}}\napi: {{api_port: 0}}\n",
        encoding="utf-8",
    )
    out = tmp_path / "out"
    argv = ["stellar-arrow", "run", "--config", str(config), "--out", str(out), "--exit-when-done"]
    script = (
        "import gc, sys\n"
        "import stellar_arrow.pipeline.run as run\n"
        "start, wait = run.start_pipeline, run._wait_done\n"
        "def start_spy(*a, **k):\n"
        "    print('start-up gc', gc.isenabled())\n"
        "    return start(*a, **k)\n"
        "def wait_spy(*a, **k):\n"
        "    print('running gc', gc.isenabled(), gc.get_freeze_count() > 0)\n"
        "    return wait(*a, **k)\n"
        "run.start_pipeline, run._wait_done = start_spy, wait_spy\n"
        "from stellar_arrow.cli import main\n"
        f"sys.argv = {argv!r}\n"
        "main()\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
    env["GRPC_VERBOSITY"] = "ERROR"
    done = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )
    assert done.returncode == 0, done.stderr
    assert "start-up gc False" in done.stdout
    assert "running gc True True" in done.stdout
    assert "ledgers 63092982..63092982 committed" in done.stdout
