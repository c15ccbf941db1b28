"""Rolling windows (1 min, 1 h, 24 h) of volume, counts and fees per asset, by ledger close time.

Memory is bounded: each window keeps a ring of time buckets (1 s buckets for ``1m``, 1 min for ``1h``, 10 min
for ``24h``), each bucket a small map asset -> running totals, never raw events; at most ``max_assets`` assets
per bucket (later ones are added up under ``"(other)"``). A window ends at the newest close time seen and
starts at the beginning of its oldest bucket: ``[floor(end / bucket) * bucket - (buckets - 1) * bucket, end]``
(so a ``1h`` window spans between 59 and 60 minutes of close time).

Per asset: ``events`` (all events), ``transfers`` and ``volume_raw`` (``transfer`` events), ``fee_events``
and ``fees_raw`` (``fee`` events, net of refunds). Sums are Python integers (exact, unbounded).

Rows are fed in event order (:meth:`RollingWindows.add`); each event counts once: rows at or below the
highest event id (``ledger << 32 | event_index``) already counted are skipped, so a seed from committed data
(:meth:`RollingWindows.seed`) and the live feed never count a row twice.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final, Literal

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.errors import RequestError
from stellar_arrow.query import format_time

__all__ = ["OTHER_ASSETS", "WINDOWS", "RollingWindows", "WindowName", "WindowSpec", "parse_window"]

WindowName = Literal["1m", "1h", "24h"]
OTHER_ASSETS: Final = "(other)"
_FIELDS: Final = ("events", "transfers", "volume_raw", "fee_events", "fees_raw")
_PER_SECOND: Final = {"s": 1, "ms": 1_000, "us": 1_000_000, "ns": 1_000_000_000}


@dataclass(frozen=True, slots=True)
class WindowSpec:
    seconds: int
    bucket_seconds: int

    @property
    def buckets(self) -> int:
        return self.seconds // self.bucket_seconds


WINDOWS: Final[dict[WindowName, WindowSpec]] = {
    "1m": WindowSpec(60, 1),
    "1h": WindowSpec(3600, 60),
    "24h": WindowSpec(86_400, 600),
}


def parse_window(value: object) -> WindowName:
    """``1m``, ``1h`` or ``24h`` exactly (anything else: :class:`RequestError` on field ``window``)."""
    for name in WINDOWS:
        if value == name:
            return name
    msg = f"window {str(value)[:60]!r} must be one of {', '.join(WINDOWS)}"
    raise RequestError(msg, field="window")


@dataclass(slots=True)
class _Ring:
    spec: WindowSpec
    max_assets: int
    buckets: dict[int, dict[str, list[int]]] = field(default_factory=dict)  # bucket index -> asset -> totals

    def add(self, second: int, asset: str, values: tuple[int, int, int, int, int], newest: int) -> None:
        index = second // self.spec.bucket_seconds
        if index <= newest // self.spec.bucket_seconds - self.spec.buckets:
            return  # older than the window
        per = self.buckets.setdefault(index, {})
        if asset not in per and len(per) >= self.max_assets:
            asset = OTHER_ASSETS
        cell = per.setdefault(asset, [0, 0, 0, 0, 0])
        for i, v in enumerate(values):
            cell[i] += v

    def trim(self, newest: int) -> None:
        oldest = newest // self.spec.bucket_seconds - self.spec.buckets + 1
        for index in [i for i in self.buckets if i < oldest]:
            del self.buckets[index]

    def totals(self) -> dict[str, list[int]]:
        out: dict[str, list[int]] = {}
        for per in self.buckets.values():
            for asset, cell in per.items():
                acc = out.setdefault(asset, [0, 0, 0, 0, 0])
                for i, v in enumerate(cell):
                    acc[i] += v
        return out


class RollingWindows:
    """The three windows over one stream of ``token_transfers`` rows; thread-safe."""

    def __init__(
        self, *, max_assets: int = 1000, await_seed: bool = False, max_parked_rows: int = 1_000_000
    ) -> None:
        self._lock = threading.Lock()
        # until seed() runs, rows are parked (bounded): the seed may already include some of them
        self._parked: list[pa.Table] | None = [] if await_seed else None
        self._parked_rows = 0
        self._max_parked_rows = max_parked_rows
        self.complete = True  # False once parked rows had to be dropped (the windows then undercount)
        self._rings = {name: _Ring(spec, max_assets) for name, spec in WINDOWS.items()}
        self._newest: int | None = None  # newest close time seen (unix seconds)
        self._last_id = -1
        self.version = 0  # bumped on every change (the push loop sends only changes)

    @property
    def last_id(self) -> int:
        with self._lock:
            return self._last_id

    def add(self, rows: pa.Table) -> int:
        """Count the rows not counted yet (``token_transfers`` columns); returns how many were counted."""
        if rows.num_rows == 0:
            return 0
        with self._lock:
            if self._parked is not None:
                if self._parked_rows + rows.num_rows > self._max_parked_rows:
                    self.complete = False
                else:
                    self._parked.append(rows)
                    self._parked_rows += rows.num_rows
                return 0
        return self._add(rows)

    def _add(self, rows: pa.Table) -> int:
        closed_at = rows.column("closed_at")
        per_second = _PER_SECOND[closed_at.type.unit]  # close times as whole unix seconds, truncated
        seconds = pc.divide(pc.cast(closed_at, pa.int64()), per_second).to_pylist()
        columns = rows.select(
            ["ledger_sequence", "event_index", "event_type", "asset", "contract_id", "amount_raw"]
        ).to_pydict()
        events = zip(*columns.values(), seconds, strict=True)
        # rows of one batch summed per (second, asset) first, in order of first appearance (so each
        # bucket admits its assets in the same order as row by row), then counted once per group
        groups: dict[tuple[int, str], list[int]] = {}
        counted = 0
        with self._lock:
            last_id = self._last_id
            for ledger, index, kind, asset, contract, raw, second in events:
                ident = (ledger << 32) | index
                if ident <= last_id:
                    continue
                last_id = ident
                amount = int(raw)
                cell = groups.get((second, asset or contract))
                if cell is None:
                    cell = groups[(second, asset or contract)] = [0, 0, 0, 0, 0]
                cell[0] += 1
                if kind == "transfer":
                    cell[1] += 1
                    cell[2] += amount
                elif kind == "fee":
                    cell[3] += 1
                    cell[4] += amount
                counted += 1
            self._last_id = last_id
            for (second, key), cell in groups.items():
                self._count(second, key, (cell[0], cell[1], cell[2], cell[3], cell[4]))
            if counted:
                self.version += 1
        return counted

    def _count(self, second: int, asset: str, values: tuple[int, int, int, int, int]) -> None:
        if self._newest is None or second > self._newest:
            self._newest = second
            for ring in self._rings.values():
                ring.trim(second)
        for ring in self._rings.values():
            ring.add(second, asset, values, self._newest)

    def seed(
        self, buckets: Mapping[WindowName, Iterable[Mapping[str, Any]]], last_id: int, newest: int | None
    ) -> None:
        """Start from totals computed elsewhere (committed data): per window, rows of ``bucket`` (index),
        ``asset`` and the five totals; ``last_id`` the highest event id they include, ``newest`` its time
        (``None``: no data). Rows parked while waiting for the seed are then counted (above ``last_id``)."""
        with self._lock:
            parked, self._parked, self._parked_rows = self._parked or [], None, 0
            if last_id > self._last_id and newest is not None:
                self._newest = max(newest, self._newest or newest)
                for name, rows in buckets.items():
                    ring = self._rings[name]
                    for row in rows:
                        values = (*(int(row[f]) for f in _FIELDS),)
                        second = int(row["bucket"]) * ring.spec.bucket_seconds
                        ring.add(second, str(row["asset"]), values, self._newest)  # type: ignore[arg-type]
                    ring.trim(self._newest)
                self._last_id = last_id
                self.version += 1
        for rows in parked:
            self._add(rows)

    def snapshot(self, name: WindowName) -> dict[str, Any]:
        """The window's totals per asset (largest volume first) and over all assets; amounts as text."""
        with self._lock:
            ring = self._rings[name]
            totals = ring.totals()
            newest = self._newest
        spec = ring.spec
        start = end = None
        if newest is not None:
            first = (newest // spec.bucket_seconds - spec.buckets + 1) * spec.bucket_seconds
            start = format_time(datetime.fromtimestamp(first, tz=UTC))
            end = format_time(datetime.fromtimestamp(newest, tz=UTC))
        assets = [
            {
                "asset": asset,
                **{f: (str(v) if f.endswith("_raw") else v) for f, v in zip(_FIELDS, cell, strict=True)},
            }
            for asset, cell in sorted(totals.items(), key=lambda kv: (-kv[1][2], -kv[1][0], kv[0]))
        ]
        overall = [sum(cell[i] for cell in totals.values()) for i in range(len(_FIELDS))]
        return {
            "window": name,
            "bucket_seconds": spec.bucket_seconds,
            "start": start,
            "end": end,
            "complete": self.complete,
            "totals": {
                f: (str(v) if f.endswith("_raw") else v) for f, v in zip(_FIELDS, overall, strict=True)
            },
            "assets": assets,
        }

    def snapshots(self) -> dict[str, dict[str, Any]]:
        """Every window's :meth:`snapshot`, by name."""
        return {name: self.snapshot(name) for name in WINDOWS}
