"""The cron schedule inside the sink: croniter due times on the injected clock; runs commit via the sink."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from stellar_arrow.config import LifecycleSettings, SinkSettings, load_settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.lifecycle import Lifecycle, LifecycleScheduler
from stellar_arrow.lifecycle.schedule import next_run
from stellar_arrow.sink import DatasetSink, validate_dir
from tests.unit.lifecycle.sample import days_after
from tests.unit.sink.realdata import ledger_tables, schemas


def test_next_run_follows_the_cron_expression() -> None:
    at = datetime(2026, 6, 19, 3, 16, 59, tzinfo=UTC)
    assert next_run("17 3 * * *", at) == datetime(2026, 6, 19, 3, 17, tzinfo=UTC)
    assert next_run("17 3 * * *", at.replace(minute=17)) == datetime(2026, 6, 20, 3, 17, tzinfo=UTC)
    assert next_run("*/15 * * * *", at) == datetime(2026, 6, 19, 3, 30, tzinfo=UTC)


def test_the_settings_section_validates_schedule_and_policies() -> None:
    settings = load_settings(lifecycle={"schedule": "0 */6 * * *", "parquet": {"archive_after_days": 30}})
    assert settings.lifecycle.parquet.archive_after_days == 30
    assert settings.lifecycle.parquet.delete_after_days == 180  # the rest of the defaults stay
    with pytest.raises(ConfigError, match=r"lifecycle\.schedule"):
        load_settings(lifecycle={"schedule": "every day"})
    with pytest.raises(ConfigError, match=r"lifecycle\.jsonl"):
        load_settings(lifecycle={"jsonl": {"archive_after_days": 10, "delete_after_days": 5}})


class _Clock:
    def __init__(self, at: datetime) -> None:
        self.at = at
        self.lock = threading.Lock()

    def __call__(self) -> datetime:
        with self.lock:
            return self.at

    def advance(self, delta: timedelta) -> None:
        with self.lock:
            self.at += delta


def test_the_scheduler_runs_the_lifecycle_through_the_sink_when_due(tmp_path: Path) -> None:
    root = tmp_path / "out"
    sink = DatasetSink(root, schemas(), SinkSettings(partition_by=("date",), batch_rows=1))
    clock = _Clock(days_after(1).replace(second=30, microsecond=0))
    scheduler = LifecycleScheduler(
        Lifecycle(root, LifecycleSettings(), clock=clock, target=sink), "* * * * *", clock=clock
    )
    try:
        for seq, per in ledger_tables()[:3]:
            for table, rows in per.items():
                sink.write_batch(table, rows)
            sink.advance(seq)
        scheduler.start()
        time.sleep(1.5)
        assert scheduler.runs == 0  # not due before the next minute on the injected clock
        clock.advance(timedelta(seconds=31))
        deadline = time.monotonic() + 60
        while scheduler.runs == 0 and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scheduler.runs == 1 and scheduler.failures == 0
        assert len(sink.reader().view("ledgers").files) == 1  # compacted through the sink
    finally:
        scheduler.stop()
        sink.close()
    assert validate_dir(root).ok


@pytest.mark.integration
def test_the_scheduler_first_finishes_what_a_killed_run_left(tmp_path: Path) -> None:
    from stellar_arrow.lifecycle import ArchiveStore
    from stellar_arrow.lifecycle.clock import iso
    from stellar_arrow.lifecycle.journal import Journal
    from tests.unit.lifecycle.sample import make_output
    from tests.unit.lifecycle.test_crash import _killed_run

    root = make_output(tmp_path / "out", ledgers=2, formats=("parquet", "jsonl"))
    archive = tmp_path / "archive"
    _killed_run(root, "archive:committed", "--archive", str(archive), "--now", iso(days_after(8)))
    assert Journal(root).open_intents() and ArchiveStore(str(archive)).files() == {}
    sink = DatasetSink(root, schemas(), SinkSettings(partition_by=("date",)))
    clock = _Clock(days_after(8))
    settings = LifecycleSettings(archive_location=str(archive))
    scheduler = LifecycleScheduler(
        Lifecycle(root, settings, clock=clock, target=sink), "17 3 * * *", clock=clock
    )
    try:
        scheduler.start()
        deadline = time.monotonic() + 60
        while Journal(root).open_intents() and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not Journal(root).open_intents()
        assert len(ArchiveStore(str(archive)).files()) == 2  # the first table's archival, completed
        assert scheduler.runs == 0  # not due yet: only the recovery ran
    finally:
        scheduler.stop()
        sink.close()
    assert validate_dir(root).ok


def test_build_sink_starts_the_scheduler_when_enabled(tmp_path: Path) -> None:
    from stellar_arrow.pipeline.components import build_sink
    from tests.conftest import DATA

    def lifecycle_threads() -> int:
        return sum(1 for t in threading.enumerate() if t.name == "lifecycle" and t.is_alive())

    before = lifecycle_threads()
    for enabled, started in ((False, 0), (True, 1)):
        settings = load_settings(
            source={"datalake_uri": str(DATA / "lakes" / "pubnet-p26")},
            sink={"flight_port": 0},
            lifecycle={"enabled": enabled},
        )
        service = build_sink(settings, output_dir=tmp_path / f"out-{enabled}")
        try:
            assert lifecycle_threads() == before + started
        finally:
            service.shutdown()
            service.close()
        deadline = time.monotonic() + 10
        while lifecycle_threads() > before and time.monotonic() < deadline:
            time.sleep(0.05)
        assert lifecycle_threads() == before  # the scheduler ends with its sink
