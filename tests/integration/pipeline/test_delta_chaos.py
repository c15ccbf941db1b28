"""Chaos for the Delta output: SIGKILL the sink at random points of ONE run writing Parquet and Delta.

The pipeline runs as real processes under the :class:`Supervisor` (the machinery of ``test_chaos.py``);
the sink commits every ledger (one Delta append per table and commit, carrying the ledger as the
transaction version) and the processor sends every event as its own Flight message, so kills land while
ledgers stream, between the Delta appends of one commit, between those appends and the commit record,
and while a restarted sink comes up. The Delta tables must end with exactly the rows of a clean run: no
ledger missing, none appended twice (each table's history: strictly increasing transaction versions and
added rows summing to the table's rows).
"""

from __future__ import annotations

import os
import random
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest
from deltalake import DeltaTable

from stellar_arrow.build import table_schema
from stellar_arrow.config import load_settings
from stellar_arrow.pipeline.supervisor import Supervisor
from stellar_arrow.sink import read_commits, validate_dir
from stellar_arrow.sink.delta import SINK_APP_ID, delta_table_path, read_delta_table
from tests.integration.pipeline.test_chaos import SEED, _sigkill_and_restart, _wait

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("chaos")]

KILLS = int(os.environ.get("CHAOS_DELTA_KILLS", "4"))


def _settings(out: Path, lake: Path) -> Any:
    ports = {"flight_port": 0, "health_port": 0}
    return load_settings(
        source={
            **ports,
            "datalake_uri": str(lake),
            "table_workers": 0,
            "buffer_size": 1,
            "concurrent_readers": 1,
        },
        processor={**ports, "workers": 0},
        sink={
            **ports,
            "output_dir": str(out),
            "batch_rows": 1,
            "flush_interval_s": 0.05,
            "output_formats": ["parquet", "delta"],
            "partition_by": ["date", "hour", "event_type"],
        },
        flight={"reconnect_timeout_s": 30.0},
        api={"api_port": 0},
        pipeline={"restart_max": 1000, "restart_backoff_initial_s": 0},  # every kill restarts at once
    )


def _versions(out: Path, tables: tuple[str, ...]) -> dict[str, int | None]:
    found: dict[str, int | None] = {}
    for table in tables:
        path = delta_table_path(out, table)
        found[table] = DeltaTable(str(path)).transaction_version(SINK_APP_ID) if path.is_dir() else None
    return found


def _kill_the_sink(supervisor: Supervisor, out: Path, rng: random.Random, kit: Any) -> list[str]:
    """SIGKILL the sink ``KILLS`` times (or until the run is done), each time once it is back up."""
    log: list[str] = []
    status = _wait(supervisor, lambda s: True, 30)
    while len(log) < KILLS:
        past = status["checkpoint"] or kit.first - 1
        if rng.random() < 0.7 and kit.last - past > KILLS - len(log) + 2:
            _wait(supervisor, lambda s, p=past: (s["checkpoint"] or 0) > p, 60)  # during the next commits
        time.sleep(rng.uniform(0.0, 0.25))
        status = supervisor.sink_status() or {}
        if status.get("done"):
            break
        _sigkill_and_restart(supervisor, "sink")
        versions = _versions(out, kit.tables)
        records = list(read_commits(out))
        logged = records[-1].checkpoint.ledger_sequence if records else None
        split = len(set(versions.values())) > 1  # killed between the Delta appends of one commit
        ahead = any(v is not None and (logged is None or v > logged) for v in versions.values())
        log.append(f"sink@{logged}{'/split' if split else ''}{'/ahead' if ahead else ''}")
        status = _wait(supervisor, lambda s: True, 30)
    return log


def test_sigkilled_sink_leaves_exactly_the_rows_of_a_clean_run(
    tmp_path: Path, expected_tables: dict[str, pa.Table], kit: Any
) -> None:
    rng = random.Random(SEED + 2)
    out = tmp_path / "out"
    supervisor = Supervisor(_settings(out, kit.sample_lake), out / "_run")
    started = time.monotonic()
    try:
        supervisor.start()
        kills = _kill_the_sink(supervisor, out, rng, kit)
        status = _wait(supervisor, lambda s: s["done"], 90)
    finally:
        supervisor.stop()
    assert status["checkpoint"] == kit.last
    assert len(kills) >= KILLS // 2, f"seed {SEED + 2}: the run ended after {kills}"
    want = kit.in_row_order(expected_tables)
    got = {t: read_delta_table(delta_table_path(out, t), table_schema(t)) for t in kit.tables}
    kit.assert_same_tables(kit.in_row_order(got), want)
    kit.assert_same_tables(kit.in_row_order(kit.read_output(out)), want)  # and the Parquet layout
    for table in kit.tables:
        delta = DeltaTable(str(delta_table_path(out, table)))
        assert delta.transaction_version(SINK_APP_ID) == kit.last
        history = sorted(delta.history(), key=lambda h: h["version"])
        through = [int(h["stellar_arrow.through_ledger"]) for h in history]
        assert through == sorted(set(through)), f"{table}: a ledger range appended twice: {through}"
        added = sum(h["operationMetrics"]["num_added_rows"] for h in history)
        assert added == want[table].num_rows, table
    assert validate_dir(out).ok
    elapsed = time.monotonic() - started
    print(f"delta chaos seed {SEED + 2}: {len(kills)} sink kills in {elapsed:.1f} s: {' '.join(kills)}")
