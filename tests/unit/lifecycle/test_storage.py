"""Storage monitoring: tiers in bytes, limits, emergency purge of the oldest archived data, metrics."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import generate_latest

from stellar_arrow.lifecycle import ArchiveStore
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.sink import read_commits
from stellar_arrow.sink.manifest import live_files
from tests.unit.lifecycle.sample import days_after, lifecycle, make_output


def _metric(name: str, **labels: str) -> float:
    value = REGISTRY.get_sample_value(name, labels)
    return 0.0 if value is None else value


def test_tiers_are_measured_and_exported(tmp_path: Path) -> None:
    root = make_output(tmp_path / "out", ledgers=2, formats=("parquet", "jsonl"))
    live = sum(m.bytes for m in live_files(read_commits(root)).values())
    plan = lifecycle(root, days_after(1), compaction=False).plan()
    assert plan.storage.live_bytes == live and plan.storage.archive_bytes == 0
    assert _metric("lifecycle_bytes", tier="live") == live
    assert _metric("lifecycle_bytes", tier="free") > 0
    archive = tmp_path / "archive"
    done = _metric("lifecycle_actions_total", action="archive", outcome="committed")
    plan, _ = lifecycle(root, days_after(8), archive_location=str(archive), compaction=False).apply()
    archived = sum(i.archived_bytes for i in ArchiveStore(str(archive)).files().values())
    assert plan.storage.archive_bytes == archived > 0
    assert _metric("lifecycle_bytes", tier="archive") == archived
    assert _metric("lifecycle_actions_total", action="archive", outcome="committed") == done + 4
    assert b"lifecycle_action_bytes_total" in generate_latest(REGISTRY)


def test_over_the_total_limit_the_oldest_archived_files_are_purged_first(tmp_path: Path) -> None:
    root = make_output(tmp_path / "out", ledgers=3, formats=("parquet", "jsonl"))
    archive = tmp_path / "archive"
    settings = {"archive_location": str(archive), "compaction": False}
    lifecycle(root, days_after(8), **settings).apply()
    store = ArchiveStore(str(archive))
    items = sorted(store.files().values(), key=lambda i: (i.newest, i.archived_path))
    total = lifecycle(root, days_after(8), **settings).plan().storage.total_bytes
    # a limit just below the total: the oldest archived file alone brings it back under
    limit = total - 1
    plan = lifecycle(root, days_after(8), max_total_bytes=limit, **settings).plan()
    (purge,) = [a for a in plan.actions if a.kind == "purge"]
    assert purge.reason.startswith("emergency") and purge.files == (items[0].archived_path,)
    # a limit the archive cannot meet: all archived data goes, live data is never touched
    live_before = set(live_files(read_commits(root)))
    _, report = lifecycle(root, days_after(8), max_total_bytes=1, **settings).apply()
    assert sum(len(a.files) for a in report.done if a.kind == "purge") == len(items)
    assert store.files() == {} and set(live_files(read_commits(root))) == live_before


def test_below_the_free_space_limit_archived_data_on_the_same_disk_is_purged(tmp_path: Path) -> None:
    root = make_output(tmp_path / "out", ledgers=2, formats=("parquet", "csv"))
    archive = tmp_path / "archive"
    settings = {"archive_location": str(archive), "compaction": False}
    lifecycle(root, days_after(8), **settings).apply()
    huge = 2**62  # more free space than any disk has
    plan = lifecycle(root, days_after(8), min_free_bytes=huge, **settings).plan()
    purged = {p for a in plan.actions if a.kind == "purge" for p in a.files}
    assert purged == set(ArchiveStore(str(archive)).files())
    bare = lifecycle(root, days_after(8), min_free_bytes=huge, compaction=False).plan()
    assert any("min_free_bytes" in p for p in bare.problems)  # no archive: nothing to purge, said so
