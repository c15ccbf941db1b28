"""One writer per output directory: an exclusive ``flock`` on ``DIR/_manifests/writer.lock``.

The sink (:class:`~stellar_arrow.sink.dataset.DatasetSink`) holds it while open; ``stellar-arrow lifecycle
--apply`` takes it before it touches a directory, so the command never commits beside a running sink (inside
the sink, the lifecycle runs through the sink itself). The kernel drops the lock when its process dies, so a
killed sink never leaves a stale lock. Inside one process the lock is counted: a sink reopened on the same
folder (recovery tests, restarts in place) takes it again, but an *exclusive* holder refuses any other.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
from pathlib import Path
from typing import Final

from stellar_arrow.errors import SinkError

__all__ = ["LOCK_NAME", "WriterLock"]

LOCK_NAME: Final = "writer.lock"
_HELD: dict[str, tuple[int, int, bool]] = {}  # folder -> (fd, holders, exclusive) in this process
_GUARD = threading.Lock()


class WriterLock:
    """The writer lock of ``root``; :meth:`acquire` waits up to ``timeout_s`` for another process."""

    def __init__(self, root: Path, *, exclusive_in_process: bool = False) -> None:
        self.root = Path(root)
        self.exclusive = exclusive_in_process
        self._key = str(self.root.resolve())
        self._held = False

    def acquire(self, timeout_s: float = 30.0, *, holder: str = "a writer") -> None:
        with _GUARD:
            known = _HELD.get(self._key)
            if known is not None:
                fd, count, exclusive = known
                if exclusive or self.exclusive:
                    msg = f"{self.root} is already being written by {holder} in this process"
                    raise SinkError(msg)
                _HELD[self._key] = (fd, count + 1, False)
                self._held = True
                return
            folder = self.root / "_manifests"
            folder.mkdir(parents=True, exist_ok=True)
            fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT, 0o644)
            deadline = time.monotonic() + timeout_s
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    if time.monotonic() >= deadline:
                        os.close(fd)
                        msg = (
                            f"{self.root} is being written by another process (a running sink or lifecycle "
                            f"run holds {folder / LOCK_NAME}); {holder} cannot start"
                        )
                        raise SinkError(msg) from None
                    time.sleep(0.05)
            _HELD[self._key] = (fd, 1, self.exclusive)
            self._held = True

    def release(self) -> None:
        with _GUARD:
            if not self._held:
                return
            self._held = False
            fd, count, exclusive = _HELD[self._key]
            if count > 1:
                _HELD[self._key] = (fd, count - 1, exclusive)
                return
            del _HELD[self._key]
            fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()
