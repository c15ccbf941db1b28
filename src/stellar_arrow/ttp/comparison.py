"""Cross-check of derived mode against unified mode (the network's own CAP-67 events).

The two modes order events differently inside an operation (claim-atom pairs, revocations), so they are
compared as multisets: per operation for operation events, per transaction for fee events. A transaction
without unified events (meta before v4, or core ran without EMIT_CLASSIC_EVENTS) is not compared. One
documented difference is tolerated: derived mode, like the reference, emits a classic fee event of 0 where
core writes none.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from stellar_arrow.ledger.network import Network
from stellar_arrow.ttp.events import Event, MuxedInfo
from stellar_arrow.ttp.processor import TransactionEvents, events_from_transaction
from stellar_arrow.ttp.transaction import ledger_transactions
from stellar_arrow.ttp.unified import has_unified_events

__all__ = ["EventKey", "ModeDifference", "compare_modes", "compare_transaction", "event_key"]

EventKey = tuple[str, str | None, str | None, str | None, int, str, MuxedInfo | None]


@dataclass(frozen=True, slots=True)
class ModeDifference:
    """Events present in one mode's multiset and not the other's, for one operation (``None``: fee events)."""

    ledger_sequence: int
    tx_hash: str
    transaction_index: int
    operation_index: int | None
    only_derived: tuple[EventKey, ...]
    only_unified: tuple[EventKey, ...]

    def __str__(self) -> str:
        scope = "fees" if self.operation_index is None else f"op {self.operation_index}"
        return (
            f"ledger {self.ledger_sequence} tx {self.tx_hash} {scope}: "
            f"derived-only {list(self.only_derived)}, "
            f"unified-only {list(self.only_unified)}"
        )


def event_key(ev: Event) -> EventKey:
    """What must agree between modes: kind, parties, asset, amount, contract and muxed info."""
    from_ = getattr(ev, "from_", None)
    to = getattr(ev, "to", None)
    asset = ev.asset.canonical if ev.asset is not None else None
    return (ev.event_type, from_, to, asset, ev.amount, ev.meta.contract_address, ev.meta.to_muxed_info)


def _counter(events: Iterable[Event]) -> Counter[EventKey]:
    return Counter(event_key(ev) for ev in events)


def compare_transaction(derived: TransactionEvents, unified: TransactionEvents) -> list[ModeDifference]:
    """Differences between the two modes' events of one transaction (empty when they agree)."""
    tx = derived.transaction
    groups: dict[int | None, tuple[list[Event], list[Event]]] = {None: ([], [])}
    for side, t in enumerate((derived, unified)):
        fees = [f for f in (t.fees.charge, t.fees.refund) if f is not None]
        if side == 0:
            fees = [f for f in fees if f.amount != 0]  # core writes no zero fee event
        groups[None][side].extend(fees)
        for ev in t.operations:
            groups.setdefault(ev.meta.operation_index, ([], []))[side].append(ev)
    out: list[ModeDifference] = []
    for op_index, (d, u) in groups.items():
        cd, cu = _counter(d), _counter(u)
        if cd != cu:
            out.append(
                ModeDifference(
                    tx.ledger_sequence,
                    tx.hash_hex,
                    tx.transaction_index,
                    op_index,
                    tuple((cd - cu).elements()),
                    tuple((cu - cd).elements()),
                )
            )
    return out


def compare_modes(lcm: Any, network: Network) -> tuple[int, list[ModeDifference]]:
    """``(number of transactions compared, differences)`` for one decoded ledger."""
    _, txs = ledger_transactions(lcm, network)
    compared = 0
    out: list[ModeDifference] = []
    for tx in txs:
        if has_unified_events(tx):
            compared += 1
            derived = events_from_transaction(tx)
            out.extend(compare_transaction(derived, events_from_transaction(tx, "unified")))
    return compared, out
