"""Time for the lifecycle: an injected clock, never the wall clock read inside the core.

Ages (retention) and grace periods are measured against ``clock()``; the command line and the sink's
scheduler pass :func:`system_clock`, tests and ``stellar-arrow lifecycle --now`` pass :func:`fixed_clock`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["Clock", "fixed_clock", "iso", "parse_iso", "system_clock"]

Clock = Callable[[], datetime]
"""Returns the current time as an aware UTC datetime."""


def system_clock() -> datetime:
    """The wall clock (UTC): only the entry points (CLI, scheduler) pass this one."""
    return datetime.now(UTC)


def fixed_clock(at: datetime) -> Clock:
    """A clock that always says ``at`` (aware; naive values are taken as UTC)."""
    moment = at if at.tzinfo is not None else at.replace(tzinfo=UTC)
    return lambda: moment


def iso(moment: datetime) -> str:
    """``2026-06-19T00:20:58.000000Z``: the spelling stored in commit records and journals."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def parse_iso(text: str) -> datetime:
    """Inverse of :func:`iso` (any ISO-8601 with an offset or ``Z``; naive values are taken as UTC)."""
    moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
