"""Crash points for the crash-safety tests: ``LIFECYCLE_CRASH_POINT=<name>`` SIGKILLs this process there.

Every lifecycle action calls :func:`crash_point` between its durable steps (``compact:written``,
``compact:committed``, ``archive:copied``, ``archive:committed``, ``delete:committed``, ``purge:recorded``,
``sweep:started``, ``delta:committed``); a test runs ``stellar-arrow lifecycle --apply`` in a subprocess
with the variable set, then checks that the next run completes or rolls back the interrupted action.
Unset, it does nothing.
"""

from __future__ import annotations

import os
import signal
from typing import Final

__all__ = ["CRASH_POINT_ENV", "crash_point"]

CRASH_POINT_ENV: Final = "LIFECYCLE_CRASH_POINT"


def crash_point(name: str) -> None:
    """Kill this process with SIGKILL (no clean-up of any kind) when the environment names ``name``."""
    if os.environ.get(CRASH_POINT_ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
