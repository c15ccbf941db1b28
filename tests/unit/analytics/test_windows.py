"""RollingWindows on the real pubnet events: each window equals a recomputation over the events inside it;
memory stays bounded (buckets and assets); a seed and the live feed never count an event twice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pyarrow as pa
import pytest

from stellar_arrow.analytics import OTHER_ASSETS, WINDOWS, RollingWindows, parse_window
from stellar_arrow.errors import RequestError
from tests.unit.analytics.recompute import as_numbers, recompute
from tests.unit.sink.realdata import ledger_tables, whole


def _per_ledger() -> list[pa.Table]:
    return [per["token_transfers"] for _, per in ledger_tables()]


@pytest.mark.parametrize("name", list(WINDOWS))
def test_each_window_equals_a_recomputation_as_ledgers_arrive(name: str) -> None:
    windows = RollingWindows()
    seen: list[dict[str, object]] = []
    for rows in _per_ledger():
        windows.add(rows)
        seen.extend(rows.to_pylist())
        snap = windows.snapshot(name)  # type: ignore[arg-type]
        assert as_numbers(snap) == recompute(seen, snap["start"], snap["end"])
        assert int(snap["totals"]["volume_raw"]) == sum(c["volume_raw"] for c in as_numbers(snap).values())
    assert snap["end"] == max(r["closed_at"] for r in seen).strftime("%Y-%m-%dT%H:%M:%SZ")


def _shifted(rows: pa.Table, seconds: int, ledger_offset: int) -> pa.Table:
    """The same events as if closed ``seconds`` later in ledger + ``ledger_offset`` (to move time on)."""
    closed = pa.array(
        [t + timedelta(seconds=seconds) for t in rows["closed_at"].to_pylist()], rows["closed_at"].type
    )
    ledgers = pa.array(
        [s + ledger_offset for s in rows["ledger_sequence"].to_pylist()], rows["ledger_sequence"].type
    )
    out = rows.set_column(rows.schema.get_field_index("closed_at"), "closed_at", closed)
    return out.set_column(out.schema.get_field_index("ledger_sequence"), "ledger_sequence", ledgers)


def test_old_events_leave_the_windows_and_buckets_stay_bounded() -> None:
    windows = RollingWindows()
    rows = _per_ledger()[0]
    everything: list[dict[str, object]] = []
    for step in range(30):  # the same ledger every 2 hours of close time: 60 hours in all
        shifted = _shifted(rows, step * 7200, step * 1000)
        windows.add(shifted)
        everything.extend(shifted.to_pylist())
    for name, spec in WINDOWS.items():
        snap = windows.snapshot(name)
        assert as_numbers(snap) == recompute(everything, snap["start"], snap["end"])
        assert len(windows._rings[name].buckets) <= spec.buckets
    assert windows.snapshot("1m")["totals"]["events"] == rows.num_rows  # only the newest ledger
    assert windows.snapshot("24h")["totals"]["events"] == 12 * rows.num_rows  # 22 h, 20 h, ... 0 h back


def test_assets_per_bucket_are_capped_into_other() -> None:
    windows = RollingWindows(max_assets=3)
    rows = _per_ledger()[0]
    windows.add(rows)
    snap = windows.snapshot("24h")
    assert len(snap["assets"]) <= 4 and OTHER_ASSETS in {a["asset"] for a in snap["assets"]}
    assert snap["totals"]["events"] == rows.num_rows  # nothing is lost, only grouped
    assert int(snap["totals"]["fees_raw"]) == sum(
        int(r["amount_raw"]) for r in rows.to_pylist() if r["event_type"] == "fee"
    )


def test_replayed_rows_count_once_and_parked_rows_wait_for_the_seed() -> None:
    parts = _per_ledger()[:6]
    plain = RollingWindows()
    for rows in parts:
        plain.add(rows)
        plain.add(rows)  # delivered again: skipped by event id
    waiting = RollingWindows(await_seed=True)
    for rows in parts[2:]:
        assert waiting.add(rows) == 0  # parked until the seed
    seeded = RollingWindows()
    for rows in parts[:4]:
        seeded.add(rows)
    buckets = {name: [] for name in WINDOWS}
    for name in WINDOWS:
        ring = seeded._rings[name]
        for index, per in ring.buckets.items():
            for asset, cell in per.items():
                keys = ("events", "transfers", "volume_raw", "fee_events", "fees_raw")
                buckets[name].append({"bucket": index, "asset": asset, **dict(zip(keys, cell, strict=True))})
    newest = int(max(t.timestamp() for t in pa.concat_tables(parts[:4])["closed_at"].to_pylist()))
    waiting.seed(buckets, seeded.last_id, newest)  # the seed covers ledgers 0-3; parked 2-5 add 4 and 5
    for name in WINDOWS:
        assert waiting.snapshot(name) == plain.snapshot(name)


def test_window_names_are_checked() -> None:
    assert parse_window("24h") == "24h"
    for bad in ("7y", "", "1H", "1h ", None, 60, "1m" * 1000):
        with pytest.raises(RequestError, match="window"):
            parse_window(bad)


def test_an_empty_seed_then_live_rows() -> None:
    windows = RollingWindows(await_seed=True)
    rows = whole("token_transfers").slice(0, 50)
    windows.add(rows)
    windows.seed({}, -1, None)
    assert windows.snapshot("1h")["totals"]["events"] == 50
    assert RollingWindows().snapshot("1h")["start"] is None
    assert datetime.fromisoformat(windows.snapshot("1h")["end"]).tzinfo == UTC
