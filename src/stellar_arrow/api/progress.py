"""Ledger progress seen by the sink: recent ledgers, ledgers per second and lag to the source."""

from __future__ import annotations

import threading
from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

import pyarrow as pa

from stellar_arrow.schema import ledger_column
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_TABLE

__all__ = ["LedgerProgress", "RecentLedger"]

_RECENT: Final = 20
_RATE_WINDOW_S: Final = 10.0


@dataclass(slots=True)
class RecentLedger:
    ledger_sequence: int
    closed_at: datetime | None
    transfers: int = 0
    transactions: int | None = None


class LedgerProgress:
    """Fed with every accepted batch; ``status(now)`` is the dashboard's status message."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: OrderedDict[int, RecentLedger] = OrderedDict()
        self._arrivals: deque[tuple[float, int]] = deque()
        self._last: RecentLedger | None = None
        self._source_tip: int | None = None
        self._events_total = 0

    def note_source_tip(self, ledger_sequence: int) -> None:
        """The newest ledger the source has (the pipeline reports it)."""
        with self._lock:
            self._source_tip = max(self._source_tip or 0, ledger_sequence)

    def seed(self, ledgers: list[dict[str, Any]]) -> None:
        """Ledgers known at start-up (``ledger_sequence``, ``closed_at``, ``transfers``); no rate impact."""
        with self._lock:
            for item in ledgers:
                seq = item["ledger_sequence"]
                if seq in self._recent:
                    continue
                entry = RecentLedger(seq, item["closed_at"], item["transfers"])
                self._recent[seq] = entry
                if self._last is None or seq > self._last.ledger_sequence:
                    self._last = entry
            ordered = sorted(self._recent.items())[-_RECENT:]
            self._recent = OrderedDict(ordered)

    def _ledger(self, sequence: int, closed_at: datetime | None, now: float) -> RecentLedger:
        entry = self._recent.get(sequence)
        if entry is None:
            entry = RecentLedger(sequence, closed_at)
            self._recent[sequence] = entry
            self._arrivals.append((now, sequence))
            while len(self._recent) > _RECENT:
                self._recent.popitem(last=False)
            if self._last is None or sequence > self._last.ledger_sequence:
                self._last = entry
        return entry

    def observe(self, table: str, rows: pa.Table, now: float) -> None:
        if rows.num_rows == 0:
            return
        if table == TOKEN_TRANSFERS_TABLE:
            grouped = rows.group_by("ledger_sequence").aggregate(
                [("closed_at", "min"), ("transaction_hash", "count_distinct"), ("event_index", "count")]
            )
            with self._lock:
                self._events_total += rows.num_rows
                for item in grouped.to_pylist():
                    entry = self._ledger(item["ledger_sequence"], item["closed_at_min"], now)
                    entry.transfers += item["event_index_count"]
            return
        if table == "ledgers":
            column = ledger_column(rows.schema)
            if column is None:
                return
            closed = rows["closed_at"] if "closed_at" in rows.column_names else pa.nulls(rows.num_rows)
            counts = next((c for c in ("transaction_count", "tx_count") if c in rows.column_names), None)
            txs = rows[counts].to_pylist() if counts else [None] * rows.num_rows
            with self._lock:
                for seq, at, n in zip(rows[column].to_pylist(), closed.to_pylist(), txs, strict=True):
                    entry = self._ledger(seq, at, now)
                    entry.transactions = n

    def _rate(self, now: float) -> float:
        while self._arrivals and now - self._arrivals[0][0] > _RATE_WINDOW_S:
            self._arrivals.popleft()
        if len(self._arrivals) < 2:
            return 0.0
        span = max(now - self._arrivals[0][0], 1.0)
        return len(self._arrivals) / span

    def status(self, now: float, wall: datetime | None = None) -> dict[str, Any]:
        wall = wall or datetime.now(UTC)
        with self._lock:
            last = self._last
            behind = None
            if self._source_tip is not None and last is not None:
                behind = max(self._source_tip - last.ledger_sequence, 0)
            age = None
            if last is not None and last.closed_at is not None:
                age = round((wall - last.closed_at).total_seconds(), 1)
            recent = [
                {
                    "ledger_sequence": r.ledger_sequence,
                    "closed_at": None if r.closed_at is None else r.closed_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "transfers": r.transfers,
                    "transactions": r.transactions,
                }
                for r in reversed(self._recent.values())
            ]
            return {
                "type": "status",
                "last_ledger": None if last is None else last.ledger_sequence,
                "ledgers_per_second": round(self._rate(now), 3),
                "source_tip": self._source_tip,
                "lag_ledgers": behind,
                "last_ledger_age_seconds": age,
                "events_streamed": self._events_total,
                "recent_ledgers": recent,
            }
