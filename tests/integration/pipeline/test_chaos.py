"""Chaos: SIGKILL a random service at 20+ random points of ONE run, restart it, and get the same tables.

The services run as real processes under the :class:`Supervisor` (which restarts a dead child at the
same address). Over the sample lake the sink commits every ledger in three formats under every
partitioning and the processor sends every event as its own Flight message, so kills land before the
first commit, while a restarted service comes up and its peers reconnect, inside a ledger's stream,
inside a commit and between commits.

After each restart, with the sink's checkpoint known, the next kill comes either soon (0-0.2 s) or once
the sink committed one more ledger plus up to 0.35 s. The second kind moves the run on, so it
is drawn only while plenty of ledgers are left; a kill that finds the run already done fails the test.
The result must equal the tables built directly from the lake: no ledger missing, no row duplicated, no
file left that no commit names. A live RPC run (``rpc-replay`` releasing a ledger every 0.6 s) takes 4-8
kills at random moments while it follows the tip.
"""

from __future__ import annotations

import functools
import os
import random
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.pipeline.serve import Role
from stellar_arrow.pipeline.supervisor import ROLES, Supervisor
from stellar_arrow.sink import read_commits
from stellar_arrow.source.rpc_replay import ReplayLake
from stellar_arrow.source.rpc_server import RpcReplayServer

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("chaos")]

SEED = int(os.environ.get("CHAOS_SEED", str(random.SystemRandom().randrange(1 << 30))))
KILLS = int(os.environ.get("CHAOS_KILLS", "20"))
_SLACK = 8  # a kill waits for the pipeline to move only while KILLS-left / 2 + this many ledgers remain


@dataclass(frozen=True, slots=True)
class Kill:
    """One SIGKILL: the victim, the sink's checkpoint just before, its timing, whether a commit ran."""

    role: Role
    checkpoint: int | None
    after_restart: bool  # soon after the previous victim's restart (else: after the sink's next commit)
    in_commit: bool

    def __str__(self) -> str:
        when = "r" if self.after_restart else "s"
        return f"{self.role}@{self.checkpoint}{when}{'/commit' if self.in_commit else ''}"


def _settings(out: Path, source: dict[str, Any], *, slow: bool) -> Any:
    """Every ledger committed on its own; ``slow``: the real settings that make one run long enough.

    ``slow`` sends every token transfer as its own Flight message (``flight.max_batch_rows: 1``: a kill
    of the processor or sink lands inside a ledger's stream) and writes three formats under every
    partitioning (~320 files per commit: kills of the sink land inside commits). One uninterrupted run
    over the sample lake then takes ~15 s instead of ~2 s, so twenty kills fit into one run.
    """
    ports = {"flight_port": 0, "health_port": 0}
    sink: dict[str, Any] = {**ports, "output_dir": str(out), "batch_rows": 1, "flush_interval_s": 0.05}
    flight: dict[str, Any] = {"reconnect_timeout_s": 30.0}
    if slow:
        sink |= {
            "output_formats": ["parquet", "jsonl", "csv"],
            "partition_by": ["date", "hour", "asset_code", "event_type"],
        }
        flight |= {"max_batch_rows": 1}
    return load_settings(
        source={**ports, "table_workers": 0, "buffer_size": 1, "concurrent_readers": 1, **source},
        processor={**ports, "workers": 0},
        sink=sink,
        flight=flight,
        api={"api_port": 0},  # the sink's HTTP API on a free port (pinned by the supervisor for restarts)
        pipeline={"restart_max": 1000, "restart_backoff_initial_s": 0},  # every kill restarts at once
    )


def _checkpoint(status: dict[str, Any], before_first: int) -> int:
    return int(status["checkpoint"]) if status["checkpoint"] is not None else before_first


def _moved_on(status: dict[str, Any], *, before_first: int, past: int) -> bool:
    return _checkpoint(status, before_first) > past


def _wait(supervisor: Supervisor, done: Callable[[dict[str, Any]], bool], timeout_s: float) -> dict[str, Any]:
    """Poll the sink's status until ``done``; no service may die on its own meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        restarted = supervisor.poll()
        exits = {r: c.exits for r, c in supervisor.children.items()}
        assert restarted == [], f"seed {SEED}: {restarted} died on their own, exits {exits}"
        status = supervisor.sink_status()
        if status is not None and done(status):
            return status
        assert not (status or {}).get("failed"), status
        time.sleep(0.01)
    raise AssertionError(f"pipeline did not get there within {timeout_s} s (seed {SEED})")


def _sigkill_and_restart(supervisor: Supervisor, role: Role) -> None:
    """SIGKILL ``role``'s process, then restart it; no other service may have died."""
    child = supervisor.children[role]
    assert child.process is not None
    os.kill(child.process.pid, signal.SIGKILL)
    child.process.wait()
    restarted = supervisor.poll()
    exits = {r: c.exits for r, c in supervisor.children.items()}
    assert restarted == [role], f"seed {SEED}: after killing {role}, also dead: {restarted}, exits {exits}"


def _kill_randomly(
    supervisor: Supervisor, out: Path, rng: random.Random, kit: Any, *, ledger_s: float
) -> list[Kill]:
    """SIGKILL ``KILLS`` random services at random points of one run; each is restarted before the next.

    Once the previous victim is back and the sink's checkpoint is known, the next kill comes either
    soon (0-0.2 s: while the restarted service starts streaming and its peers reconnect) or after the
    pipeline committed its next ledger, plus 0-``ledger_s`` (while ledgers stream and commit). The
    second kind moves the run on by a ledger or two, so it is only drawn while more than
    ``KILLS-left / 2 + _SLACK`` ledgers remain (30 % of draws); a kill finding the run done fails the test.
    """
    before_first = kit.first - 1
    kills: list[Kill] = []
    status = _wait(supervisor, lambda s: True, 30)
    first_victims = rng.sample(ROLES, len(ROLES))  # every service is killed at least once, by construction
    while len(kills) < KILLS:
        checkpoint = _checkpoint(status, before_first)
        left = KILLS - len(kills)
        after_restart = kit.last - checkpoint < left // 2 + _SLACK or rng.random() < 0.7
        if after_restart:
            time.sleep(rng.uniform(0.0, 0.2))
        else:
            _wait(supervisor, functools.partial(_moved_on, before_first=before_first, past=checkpoint), 60)
            time.sleep(rng.uniform(0.0, ledger_s))
        role = first_victims[len(kills)] if len(kills) < len(first_victims) else rng.choice(ROLES)
        status = supervisor.sink_status() or {}
        assert not status.get("done"), f"seed {SEED}: the run ended before kill {len(kills) + 1}: {kills}"
        in_commit = role == "sink" and any(out.rglob("*.pending"))
        _sigkill_and_restart(supervisor, role)
        kills.append(Kill(role, status.get("checkpoint"), after_restart, in_commit))
        status = _wait(supervisor, lambda s: True, 30)
    return kills


def _check(out: Path, expected: dict[str, pa.Table], kit: Any) -> None:
    kit.assert_same_tables(kit.in_row_order(kit.read_output(out)), kit.in_row_order(expected))
    committed = {m.path for r in read_commits(out) for m in r.files}
    on_disk = {p.relative_to(out).as_posix() for t in kit.tables for p in (out / t).rglob("*") if p.is_file()}
    assert on_disk == committed


def _check_kills(kills: list[Kill], kit: Any) -> None:
    assert len(kills) >= KILLS
    assert {k.role for k in kills} == set(ROLES), [str(k) for k in kills]
    mid_run = [k for k in kills if k.checkpoint is not None]
    assert len(mid_run) >= KILLS // 2, f"seed {SEED}: too few kills after a first commit: {kills}"
    assert all(k.checkpoint is None or k.checkpoint < kit.last for k in kills)


def test_chaos_over_the_sample_lake(tmp_path: Path, expected_tables: dict[str, pa.Table], kit: Any) -> None:
    rng = random.Random(SEED)
    out = tmp_path / "lake"
    supervisor = Supervisor(_settings(out, {"datalake_uri": str(kit.sample_lake)}, slow=True), out / "_run")
    started = time.monotonic()
    try:
        supervisor.start()
        kills = _kill_randomly(supervisor, out, rng, kit, ledger_s=0.35)
        status = _wait(supervisor, lambda s: s["done"], 60)
    finally:
        supervisor.stop()
    elapsed = time.monotonic() - started
    assert status["checkpoint"] == kit.last
    _check(out, expected_tables, kit)
    _check_kills(kills, kit)
    commits = sum(k.in_commit for k in kills)
    print(f"chaos seed {SEED}: {len(kills)} kills ({commits} in a commit) in one run of {elapsed:.1f} s:")
    print(" ".join(map(str, kills)))


def _kill_at_random_moments(
    supervisor: Supervisor, rng: random.Random, kills: int, finished: Callable[[], bool], max_gap_s: float
) -> list[str]:
    """SIGKILL ``kills`` random children at random moments until ``finished``; each is restarted first."""
    log: list[str] = []
    while len(log) < kills and not finished():
        time.sleep(rng.uniform(0.0, max_gap_s))
        role = rng.choice(ROLES)
        status = supervisor.sink_status() or {}
        _sigkill_and_restart(supervisor, role)
        log.append(f"{role}@{status.get('checkpoint')}")
    return log


def test_chaos_during_a_live_rpc_run(tmp_path: Path, expected_tables: dict[str, pa.Table], kit: Any) -> None:
    rng = random.Random(SEED + 1)
    replay = ReplayLake(str(kit.sample_lake), start_at=kit.first + 1, ledger_interval=0.6)
    with RpcReplayServer(replay) as rpc:
        out = tmp_path / "live"
        source = {"source_type": "rpc", "rpc_endpoint": rpc.url, "start_ledger": kit.first, "live": True}
        supervisor = Supervisor(_settings(out, source, slow=False), out / "_run")
        started = time.monotonic()
        try:
            supervisor.start()

            def caught_up() -> bool:
                return bool(((supervisor.sink_status() or {}).get("checkpoint") or 0) >= kit.last)

            kills = _kill_at_random_moments(supervisor, rng, 8, caught_up, max_gap_s=1.0)
            status = _wait(supervisor, lambda s: (s["checkpoint"] or 0) >= kit.last, 60)
            assert not status["done"]  # a live run never ends on its own
        finally:
            supervisor.stop()
    assert len(kills) >= 4, kills
    _check(out, expected_tables, kit)
    elapsed = time.monotonic() - started
    print(f"live chaos seed {SEED + 1}: {len(kills)} kills in {elapsed:.1f} s: {' '.join(kills)}")
