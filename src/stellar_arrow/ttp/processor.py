"""Entry points: the token transfer events of a ledger or of one transaction, and the ledger's Arrow batch.

Event order within a ledger (one order for both modes):

* protocol < 23: the fee charges of all txs (apply order), then per tx its operation events followed by its
  Soroban refund (if any);
* protocol >= 23: the fee charges of all txs, then the operation events of all txs, then all refunds.

This is CAP-67's stage order (charges before all txs; refunds after each tx before 23, after all txs from 23).
Within an operation, derived mode uses the Go reference order (claim-atom pair: seller->source first); unified
mode keeps the order stellar-core wrote.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

import pyarrow as pa

from stellar_arrow.ledger.network import Network
from stellar_arrow.ledger.view import LedgerTransaction, LedgerView
from stellar_arrow.ttp.compiled import compiled_batch
from stellar_arrow.ttp.events import Event
from stellar_arrow.ttp.fees import FeeEvents, fee_events
from stellar_arrow.ttp.operations import operation_events
from stellar_arrow.ttp.table import ledger_events_batch
from stellar_arrow.ttp.transaction import ledger_transactions
from stellar_arrow.ttp.unified import unified_fee_events, unified_operation_events
from stellar_arrow.xdr import gc_paused

__all__ = [
    "Mode",
    "TransactionEvents",
    "events_from_ledger",
    "events_from_transaction",
    "token_transfers_batch",
    "transaction_events",
]

Mode = Literal["derived", "unified"]


@dataclass(frozen=True, slots=True)
class TransactionEvents:
    """The events of one transaction: fee charge (+ refund) and operation events."""

    transaction: LedgerTransaction
    fees: FeeEvents
    operations: list[Event]

    @property
    def all(self) -> list[Event]:
        refund = self.fees.refund
        return [self.fees.charge, *self.operations, *([refund] if refund is not None else [])]


def events_from_transaction(tx: LedgerTransaction, mode: Mode = "derived") -> TransactionEvents:
    """Fee and operation events of one transaction (``event_index`` not yet assigned)."""
    if mode == "unified":
        return TransactionEvents(tx, unified_fee_events(tx), unified_operation_events(tx))
    return TransactionEvents(tx, fee_events(tx), operation_events(tx))


def transaction_events(lcm: Any, network: Network, mode: Mode = "derived") -> list[TransactionEvents]:
    """Per-transaction events of a decoded ``LedgerCloseMeta``, in apply order."""
    _, txs = ledger_transactions(lcm, network)
    return [events_from_transaction(tx, mode) for tx in txs]


def _ordered(per_tx: list[tuple[FeeEvents, list[Event]]], protocol_version: int) -> list[Event]:
    """CAP-67 stage order of ``(fee events, operation events)`` per transaction (module docstring)."""
    out: list[Event] = [fees[0] for fees, _ in per_tx]
    if protocol_version < 23:
        for (_, refund), operations in per_tx:
            out += operations
            if refund is not None:
                out.append(refund)
        return out
    for _, operations in per_tx:
        out += operations
    out += [refund for (_, refund), _ in per_tx if refund is not None]
    return out


def _ledger_order(
    lcm: Any,
    network: Network,
    mode: Mode,
    paired: tuple[LedgerView, Sequence[LedgerTransaction]] | None,
) -> list[Event]:
    """The ledger's events in ledger order, not yet placed (``event_index`` 0)."""
    view, txs = ledger_transactions(lcm, network) if paired is None else paired
    if mode == "unified":
        per_tx = [(unified_fee_events(tx), unified_operation_events(tx)) for tx in txs]
    else:
        per_tx = [(fee_events(tx), operation_events(tx)) for tx in txs]
    return _ordered(per_tx, view.protocol_version)


def events_from_ledger(
    lcm: Any,
    network: Network,
    mode: Mode = "derived",
    *,
    paired: tuple[LedgerView, Sequence[LedgerTransaction]] | None = None,
) -> list[Event]:
    """Every token transfer event of a decoded ``LedgerCloseMeta``, in ledger order, ``event_index`` set.

    ``network`` is a :class:`~stellar_arrow.ledger.Network` (``stellar_arrow.ledger.PUBNET``,
    ``resolve_network("testnet")``...); a ledger of another network raises
    :class:`~stellar_arrow.errors.NetworkMismatchError`. ``paired``: the view of ``lcm`` and its
    transactions as :func:`stellar_arrow.ledger.pair_transactions` returned them under ``network``
    (a caller that already paired them saves hashing every envelope again).
    """
    with gc_paused():  # many small acyclic objects: cyclic GC passes over the decoded ledger are wasted time
        return [ev.at(i) for i, ev in enumerate(_ledger_order(lcm, network, mode, paired))]


def token_transfers_batch(
    lcm: Any,
    network: Network,
    mode: Mode = "derived",
    *,
    paired: tuple[LedgerView, Sequence[LedgerTransaction]] | None = None,
    compiled: bool = False,
) -> pa.RecordBatch:
    """The ``token_transfers`` rows of one ledger (schema :data:`~stellar_arrow.ttp.TOKEN_TRANSFERS_SCHEMA`).

    ``event_index`` is each event's position in the whole ledger (filters, applied later by
    :mod:`stellar_arrow.query`, keep it). ``paired`` as in :func:`events_from_ledger`. The same rows as
    ``events_to_batch(events_from_ledger(...))``, without placing a copy of every event first.
    ``compiled``: derived mode from the compiled extension (:mod:`stellar_arrow.ttp.compiled`), the same
    rows; the Python derivation runs when it is not built or declines the ledger.
    """
    with gc_paused():
        if compiled and mode == "derived":
            view, txs = ledger_transactions(lcm, network) if paired is None else paired
            batch = compiled_batch(view, txs, network)
            if batch is not None:
                return batch
            paired = (view, txs)
        return ledger_events_batch(_ledger_order(lcm, network, mode, paired))
