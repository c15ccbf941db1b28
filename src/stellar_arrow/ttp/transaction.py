"""The transactions every deriver reads: :class:`stellar_arrow.ledger.LedgerTransaction`, in apply order.

Pairing results with envelopes (by hash, under the network id) is the ledger package's job
(:func:`stellar_arrow.ledger.pair_transactions`); a ledger of another network raises
:class:`~stellar_arrow.errors.NetworkMismatchError` there, on every path. This module only adds what
derivation needs on top: the typed error naming a transaction and operation.
"""

from __future__ import annotations

from typing import Any

from stellar_arrow.errors import EventDerivationError
from stellar_arrow.ledger.network import Network
from stellar_arrow.ledger.view import LedgerTransaction, LedgerView, ledger_view, pair_transactions

__all__ = ["LedgerTransaction", "derivation_error", "ledger_transactions"]


def ledger_transactions(lcm: Any, network: Network) -> tuple[LedgerView, list[LedgerTransaction]]:
    """The view of a decoded ``LedgerCloseMeta`` and its transactions (apply order, envelopes by hash).

    ``network`` is a :class:`~stellar_arrow.ledger.Network` (a passphrase string is a ``TypeError``).
    """
    view = ledger_view(lcm)
    return view, pair_transactions(view, network)


def derivation_error(
    tx: LedgerTransaction, message: str, operation_index: int | None = None
) -> EventDerivationError:
    """A typed error naming the ledger, tx hash and (1-based) operation index of ``tx``."""
    tx_hash = tx.hash_hex
    where = f"ledger {tx.ledger_sequence} tx {tx_hash}"
    if operation_index is not None:
        where += f" operation {operation_index}"
    return EventDerivationError(
        f"{where}: {message}",
        ledger_sequence=tx.ledger_sequence,
        tx_hash=tx_hash,
        operation_index=operation_index,
    )
