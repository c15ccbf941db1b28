"""An in-memory :class:`~stellar_arrow.source.base.LedgerSource`: ledgers from bytes, files or a builder.

:class:`MemoryLedgerSource` behaves like the lake and RPC sources: ``ledgers(start, end)`` yields
:class:`~stellar_arrow.source.base.RawLedger` values strictly in order, a ledger missing from a bounded
range is a :class:`~stellar_arrow.errors.LedgerMissingError`, and ``end=None`` follows the tip: it yields
what it holds, then waits for ledgers :meth:`MemoryLedgerSource.publish` adds, until
:meth:`~MemoryLedgerSource.stop` or :meth:`~MemoryLedgerSource.close`. Every wait is bounded
(``poll_interval``; ``gap_timeout`` for a ledger that never comes while later ones exist).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from pathlib import Path

from stellar_arrow.errors import ConfigError, LedgerMissingError
from stellar_arrow.source.base import RawLedger, check_range
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.header import read_ledger_header

__all__ = ["MemoryLedgerSource"]


class MemoryLedgerSource:
    """Ledgers held in memory, served like a lake or an RPC node (see the module docstring).

    ``ledgers``: ``{sequence: LedgerCloseMeta bytes}``, or an iterable of LCM bytes whose sequences are read
    from their headers. ``network_passphrase`` is what the source declares (as a lake manifest does).
    """

    def __init__(
        self,
        ledgers: Mapping[int, bytes] | Iterable[bytes] = (),
        *,
        network_passphrase: str | None = None,
        poll_interval: float = 0.05,
        gap_timeout: float = 30.0,
    ) -> None:
        if poll_interval <= 0 or gap_timeout <= 0:
            msg = f"poll_interval ({poll_interval}) and gap_timeout ({gap_timeout}) must be > 0"
            raise ConfigError(msg, key="poll_interval")
        self.network_passphrase = network_passphrase
        self._poll_interval = poll_interval
        self._gap_timeout = gap_timeout
        self._ledgers: dict[int, bytes] = {}  # shared with every source made by opener()
        self._changed = threading.Condition()
        self._stop = threading.Event()
        self.reads = 0  # ledgers yielded by this source so far (for tests that count fetches)
        if isinstance(ledgers, Mapping):
            for seq, lcm in ledgers.items():
                self._add(int(seq), bytes(lcm))
        else:
            for lcm in ledgers:
                self.publish(lcm)

    @classmethod
    def from_files(cls, paths: Iterable[str | Path], **kwargs: object) -> MemoryLedgerSource:
        """Every ledger of the given corpus files (any format :func:`read_ledger_file` reads)."""
        lcms = [lcm for path in paths for lcm in read_ledger_file(Path(path))]
        return cls(lcms, **kwargs)  # type: ignore[arg-type]

    def opener(self) -> Callable[[], MemoryLedgerSource]:
        """A factory of sources over the same ledgers, each with its own :meth:`stop` (what a service that
        opens one source per stream, like :class:`~stellar_arrow.flight.source_service.SourceService`, takes).
        Ledgers published to any of them reach all."""

        def open_source() -> MemoryLedgerSource:
            twin = MemoryLedgerSource(
                network_passphrase=self.network_passphrase,
                poll_interval=self._poll_interval,
                gap_timeout=self._gap_timeout,
            )
            twin._ledgers, twin._changed = self._ledgers, self._changed
            return twin

        return open_source

    def _add(self, seq: int, lcm: bytes) -> None:
        if seq < 1:
            msg = f"ledger sequence {seq} is not a ledger (need >= 1)"
            raise ConfigError(msg, key="ledger_sequence")
        with self._changed:
            self._ledgers[seq] = lcm
            self._changed.notify_all()

    def publish(self, lcm: bytes) -> int:
        """Add one ledger (its sequence is read from its header); returns the sequence."""
        seq = read_ledger_header(lcm, what="published ledger").ledger_sequence
        self._add(seq, bytes(lcm))
        return seq

    def first_ledger(self) -> int:
        with self._changed:
            if not self._ledgers:
                msg = "the memory source holds no ledger"
                raise LedgerMissingError(msg)
            return min(self._ledgers)

    def latest_ledger(self) -> int:
        with self._changed:
            if not self._ledgers:
                msg = "the memory source holds no ledger"
                raise LedgerMissingError(msg)
            return max(self._ledgers)

    def ledgers(self, start: int, end: int | None = None) -> Iterator[RawLedger]:
        """``[start, end]`` in order, or from ``start`` following the tip (``end=None``) until stopped."""
        check_range(start, end)
        self._stop.clear()
        return self._iterate(start, end)

    def _iterate(self, start: int, end: int | None) -> Iterator[RawLedger]:
        seq = start
        while end is None or seq <= end:
            lcm = self._wait_for(seq) if end is None else self._ledgers.get(seq)
            if lcm is None:
                if end is None:
                    return  # stopped while following the tip
                msg = f"the memory source holds no ledger {seq} (range {start}-{end})"
                raise LedgerMissingError(msg, ledger_sequence=seq)
            self.reads += 1
            yield RawLedger(seq, lcm)
            seq += 1

    def _wait_for(self, seq: int) -> bytes | None:
        """The ledger ``seq`` once published; ``None`` when stopped; an error after ``gap_timeout``."""
        deadline = time.monotonic() + self._gap_timeout
        with self._changed:
            while seq not in self._ledgers:
                if self._stop.is_set():
                    return None
                if self._ledgers and max(self._ledgers) > seq and time.monotonic() >= deadline:
                    msg = f"ledger {seq} is missing while later ledgers exist (waited {self._gap_timeout} s)"
                    raise LedgerMissingError(msg, ledger_sequence=seq)
                if not self._ledgers or max(self._ledgers) < seq:
                    deadline = time.monotonic() + self._gap_timeout  # past the tip: not a gap, keep waiting
                self._changed.wait(self._poll_interval)
            return self._ledgers[seq]

    def stop(self) -> None:
        """End a tip-following iteration at its next wait."""
        self._stop.set()
        with self._changed:
            self._changed.notify_all()

    def close(self) -> None:
        self.stop()

    def __enter__(self) -> MemoryLedgerSource:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
