"""Fee events: the fee charged to the fee account and, for Soroban transactions, the resource-fee refund.

* Classic transaction: one event, ``feeCharged`` of the (outer) result, emitted even when it is 0.
* Soroban transaction: the charge is the fee account's balance drop in ``feeProcessing``; the refund is its
  balance gain in ``txChangesAfter`` (protocol < 23) plus ``postTxApplyFeeProcessing`` (protocol >= 23).
  A refund event (negative amount) follows only when the refund is positive; failed txs get it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stellar_arrow.ledger.view import LedgerTransaction
from stellar_arrow.ttp.changes import ACCOUNT, entry_pairs
from stellar_arrow.ttp.events import EventMeta, Fee
from stellar_arrow.ttp.sac import native_sac_address
from stellar_arrow.xdr.strkey import account_strkey

__all__ = ["FeeEvents", "fee_events"]


class FeeEvents(tuple[Fee, Fee | None]):
    """``(charge, refund or None)``."""

    __slots__ = ()

    @property
    def charge(self) -> Fee:
        return self[0]

    @property
    def refund(self) -> Fee | None:
        return self[1]


def _balance_change(changes: Sequence[Any], account: bytes, *, last_only: bool) -> int:
    """Balance change of ``account`` over STATE->UPDATED pairs (the last pair only, if ``last_only``)."""
    total = 0
    for pre, post in entry_pairs(changes):
        if pre is None or post is None or pre.data.type != ACCOUNT:
            continue
        if pre.data.account.account_id.ed25519 != account:
            continue
        delta = post.data.account.balance - pre.data.account.balance
        total = delta if last_only else total + delta
    return total


def fee_events(tx: LedgerTransaction) -> FeeEvents:
    """The fee event(s) of one transaction (successful or not)."""
    ledger = tx.ledger
    meta = EventMeta(
        ledger.ledger_sequence,
        ledger.close_time,
        tx.hash_hex,
        tx.transaction_index,
        None,
        native_sac_address(tx.network.network_id),
    )
    fee_source = tx.fee_source_key
    payer = account_strkey(fee_source)
    if not tx.is_soroban:
        return FeeEvents((Fee(meta, payer, tx.fee_charged), None))
    charge = -_balance_change(tx.fee_processing, fee_source, last_only=True)
    refund = 0
    if tx.meta_version >= 2:
        refund += _balance_change(tx.tx_changes_after, fee_source, last_only=False)
    refund += _balance_change(tx.post_fee_processing, fee_source, last_only=False)
    return FeeEvents((Fee(meta, payer, charge), Fee(meta, payer, -refund) if refund > 0 else None))
