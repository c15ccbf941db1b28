"""Chaos: SIGKILL a random service at random moments of a run, restart it, and get the same tables.

The services run as real processes under the :class:`Supervisor` (which restarts a dead child at the
same address). The sink commits every ledger, so kills land before, during and after commits. The
result must equal the tables built directly from the lake: no ledger missing, no row duplicated,
no uncommitted file left behind.
"""

from __future__ import annotations

import os
import random
import signal
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.pipeline.supervisor import ROLES, Supervisor
from stellar_arrow.sink import read_commits
from stellar_arrow.source.rpc_replay import ReplayLake
from stellar_arrow.source.rpc_server import RpcReplayServer

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("chaos")]

SEED = int(os.environ.get("CHAOS_SEED", str(random.SystemRandom().randrange(1 << 30))))


def _settings(out: Path, source: dict[str, Any]) -> Any:
    ports = {"flight_port": 0}
    return load_settings(
        source={**ports, "table_workers": 0, **source},
        processor={**ports, "workers": 0},
        sink={**ports, "output_dir": str(out), "batch_rows": 1, "flush_interval_s": 0.05},
        flight={"reconnect_timeout_s": 30.0},
        api={"api_port": 0},  # the sink's HTTP API on a free port (pinned by the supervisor for restarts)
    )


def _kill_randomly(
    supervisor: Supervisor, rng: random.Random, kills: int, finished: Any, max_gap_s: float
) -> list[str]:
    """SIGKILL ``kills`` random children at random moments; each is restarted before the next kill."""
    log: list[str] = []
    while len(log) < kills and not finished():
        time.sleep(rng.uniform(0.0, max_gap_s))
        role = rng.choice(ROLES)
        child = supervisor.children[role]
        assert child.process is not None
        status = supervisor.sink_status() or {}
        os.kill(child.process.pid, signal.SIGKILL)
        child.process.wait()
        log.append(f"{role}@{status.get('checkpoint')}")
        restarted = supervisor.poll()
        exits = {r: c.exits for r, c in supervisor.children.items()}
        assert restarted == [role], (
            f"seed {SEED}: after killing {role}, also dead: {restarted}, exits {exits}"
        )
    return log


def _wait(supervisor: Supervisor, done: Any, timeout_s: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        supervisor.poll()
        status = supervisor.sink_status()
        if status is not None and done(status):
            return status
        assert not (status or {}).get("failed"), status
        time.sleep(0.05)
    raise AssertionError(f"pipeline did not finish within {timeout_s} s (seed {SEED})")


def _check(out: Path, expected: dict[str, pa.Table], kit: Any) -> None:
    kit.assert_same_tables(kit.read_output(out), expected)
    committed = {m.path for r in read_commits(out) for m in r.files}
    on_disk = {p.relative_to(out).as_posix() for t in kit.tables for p in (out / t).rglob("*") if p.is_file()}
    assert on_disk == committed


def test_chaos_over_the_sample_lake(tmp_path: Path, expected_tables: dict[str, pa.Table], kit: Any) -> None:
    rng = random.Random(SEED)
    kills: list[str] = []
    rounds = 0
    started = time.monotonic()
    while len(kills) < 20:  # each round is a complete run; more rounds only if a run ends early
        rounds += 1
        out = tmp_path / f"round{rounds}"
        settings = _settings(out, {"datalake_uri": str(kit.sample_lake)})
        supervisor = Supervisor(settings, out / "_run")
        try:
            supervisor.start()

            def finished(supervisor: Supervisor = supervisor) -> bool:
                return bool((supervisor.sink_status() or {}).get("done"))

            kills += _kill_randomly(supervisor, rng, 20 - len(kills), finished, max_gap_s=1.0)
            status = _wait(supervisor, lambda s: s["done"], 60)
        finally:
            supervisor.stop()
        assert status["checkpoint"] == kit.last
        _check(out, expected_tables, kit)
        assert time.monotonic() - started < 80, f"seed {SEED}: {kills}"
    assert len(kills) >= 20
    assert {k.split("@")[0] for k in kills} == set(ROLES), kills
    mid_run = [k for k in kills if not k.endswith("@None")]
    assert len(mid_run) >= 3, f"seed {SEED}: too few kills after a first commit: {kills}"
    print(f"chaos seed {SEED}: {len(kills)} kills in {rounds} run(s): {' '.join(kills)}")


def test_chaos_during_a_live_rpc_run(tmp_path: Path, expected_tables: dict[str, pa.Table], kit: Any) -> None:
    rng = random.Random(SEED + 1)
    replay = ReplayLake(str(kit.sample_lake), start_at=kit.first + 1, ledger_interval=0.4)
    with RpcReplayServer(replay) as rpc:
        out = tmp_path / "live"
        settings = _settings(
            out,
            {"source_type": "rpc", "rpc_endpoint": rpc.url, "start_ledger": kit.first, "live": True},
        )
        supervisor = Supervisor(settings, out / "_run")
        try:
            supervisor.start()

            def caught_up() -> bool:
                return ((supervisor.sink_status() or {}).get("checkpoint") or 0) >= kit.last

            kills = _kill_randomly(supervisor, rng, 8, caught_up, max_gap_s=1.2)
            status = _wait(supervisor, lambda s: (s["checkpoint"] or 0) >= kit.last, 60)
            assert not status["done"]  # a live run never ends on its own
        finally:
            supervisor.stop()
    assert len(kills) >= 4, kills
    _check(out, expected_tables, kit)
    print(f"live chaos seed {SEED + 1}: {len(kills)} kills: {' '.join(kills)}")
