"""The rolling windows recomputed the plain way: every event whose close time lies inside the window."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def recompute(rows: list[dict[str, Any]], start: str, end: str) -> dict[str, dict[str, int]]:
    """Per asset: events, transfers, volume_raw, fee_events, fees_raw of rows closed in [start, end]."""
    low, high = datetime.fromisoformat(start), datetime.fromisoformat(end)
    out: dict[str, dict[str, int]] = {}
    for r in rows:
        if not low <= r["closed_at"] <= high:
            continue
        cell = out.setdefault(
            r["asset"] or r["contract_id"],
            {"events": 0, "transfers": 0, "volume_raw": 0, "fee_events": 0, "fees_raw": 0},
        )
        cell["events"] += 1
        if r["event_type"] == "transfer":
            cell["transfers"] += 1
            cell["volume_raw"] += int(r["amount_raw"])
        elif r["event_type"] == "fee":
            cell["fee_events"] += 1
            cell["fees_raw"] += int(r["amount_raw"])
    return out


def as_numbers(snapshot: dict[str, Any]) -> dict[str, dict[str, int]]:
    """A window snapshot's assets with the ``*_raw`` strings as ints."""
    return {a["asset"]: {k: int(v) for k, v in a.items() if k != "asset"} for a in snapshot["assets"]}
