"""Running the lifecycle inside the sink on a cron schedule (``lifecycle.enabled``, ``lifecycle.schedule``).

A daemon thread first finishes or undoes the actions a killed sink left half done, then computes the next
due time with ``croniter`` (UTC, from the injected clock), sleeps in bounded steps until then (so
:meth:`LifecycleScheduler.stop` is honoured within a second), and runs one
:meth:`~stellar_arrow.lifecycle.runner.Lifecycle.apply` with the sink as the commit target. A failed run is
logged and counted (``lifecycle_actions_total{outcome="failed"}``); the sink keeps running.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime

from croniter import croniter

from stellar_arrow.errors import StellarArrowError
from stellar_arrow.lifecycle.clock import Clock
from stellar_arrow.lifecycle.runner import Lifecycle
from stellar_arrow.observability.metrics import LIFECYCLE_ACTIONS

__all__ = ["LifecycleScheduler", "next_run"]

log = logging.getLogger(__name__)
_STEP_S = 1.0


def next_run(expression: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` that the cron ``expression`` names (same time zone)."""
    found: datetime = croniter(expression, after).get_next(datetime)
    return found


class LifecycleScheduler:
    """Calls ``lifecycle.apply()`` at every time of ``expression`` until stopped."""

    def __init__(
        self,
        lifecycle: Lifecycle,
        expression: str,
        *,
        clock: Clock,
        until: Callable[[], bool] | None = None,
    ) -> None:
        self.lifecycle = lifecycle
        self.until = until  # e.g. "the sink is closed": the thread ends by itself
        self.expression = expression
        self.clock = clock
        self.runs = 0
        self.failures = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lifecycle", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self, timeout_s: float = 30.0) -> None:
        self._stop.set()
        if self._thread.ident is not None:
            self._thread.join(timeout=timeout_s)

    def run_once(self) -> None:
        try:
            plan, report = self.lifecycle.apply()
        except (StellarArrowError, OSError) as exc:
            self.failures += 1
            LIFECYCLE_ACTIONS.labels("run", "failed").inc()
            log.error("lifecycle run on %s failed: %s", self.lifecycle.root, exc)
            return
        finally:
            self.runs += 1
        log.info(
            "lifecycle run on %s: %d action(s), %d resumed, live %d bytes, archive %d bytes",
            self.lifecycle.root,
            len(report.done),
            len(report.resumed),
            plan.storage.live_bytes,
            plan.storage.archive_bytes,
        )

    def resume(self) -> None:
        """Finish or undo actions a killed sink left half done (run when the scheduler starts)."""
        try:
            for ident, outcome in self.lifecycle.executor.resume():
                log.info("lifecycle action %s interrupted by a crash: %s", ident, outcome)
        except (StellarArrowError, OSError) as exc:
            log.error("lifecycle recovery on %s failed: %s", self.lifecycle.root, exc)

    def _loop(self) -> None:
        self.resume()
        due = next_run(self.expression, self.clock())
        while not self._stop.is_set():
            if self.until is not None and self.until():
                return
            now = self.clock()
            if now >= due:
                self.run_once()
                due = next_run(self.expression, max(now, due))
                continue
            wait = min(_STEP_S, (due - now).total_seconds())
            self._stop.wait(max(wait, 0.01))
