"""The contract every ledger source implements: raw ``LedgerCloseMeta`` bytes, in ledger order."""

from __future__ import annotations

from collections.abc import Iterator
from typing import NamedTuple, Protocol, runtime_checkable

from stellar_arrow.errors import ConfigError

__all__ = ["LedgerSource", "RawLedger", "check_range"]


class RawLedger(NamedTuple):
    """One ledger as a source delivers it: its sequence and its exact LCM XDR bytes."""

    ledger_sequence: int
    ledger_close_meta: bytes


@runtime_checkable
class LedgerSource(Protocol):
    """A producer of consecutive ledgers.

    ``ledgers(start, end)`` yields every ledger of the inclusive range ``[start, end]`` strictly in
    order, or, with ``end=None``, follows the tip forever (polling; "not there yet" is not an error)
    until :meth:`stop` or :meth:`close` is called. ``latest_ledger()`` is the newest ledger the
    source can serve now.
    """

    def ledgers(self, start: int, end: int | None = None) -> Iterator[RawLedger]: ...

    def latest_ledger(self) -> int: ...

    def stop(self) -> None: ...

    def close(self) -> None: ...


def check_range(start: int, end: int | None) -> None:
    """Reject a ledger range no source can serve: ``1 <= start <= end`` (``end=None``: follow the tip)."""
    if start < 1 or (end is not None and end < start):
        msg = f"invalid ledger range [{start}, {end}]: need 1 <= start <= end"
        raise ConfigError(msg, key="start_ledger")
