"""Claimable balances and clawbacks: CREATE/CLAIM/CLAWBACK_CLAIMABLE_BALANCE and CLAWBACK."""

from __future__ import annotations

from typing import Any

from stellar_arrow.ledger.view import muxed_key
from stellar_arrow.ttp.changes import CLAIMABLE_BALANCE, paired_entries
from stellar_arrow.ttp.events import Clawback, Event
from stellar_arrow.ttp.operation import OperationContext, classify
from stellar_arrow.ttp.sac import asset_from_xdr
from stellar_arrow.xdr.strkey import account_strkey, claimable_balance_strkey

__all__ = [
    "claim_claimable_balance_events",
    "clawback_claimable_balance_events",
    "clawback_events",
    "create_claimable_balance_events",
]


def _removed_balance(ctx: OperationContext) -> Any:
    """The pre-state of the single claimable balance the operation removed."""
    removed = [pre for pre, post in paired_entries(ctx.changes, CLAIMABLE_BALANCE) if post is None]
    if len(removed) != 1 or removed[0] is None:
        msg = f"expected exactly one removed claimable balance with its state, found {len(removed)}"
        raise ctx.error(msg)
    return removed[0].data.claimable_balance


def create_claimable_balance_events(ctx: OperationContext) -> list[Event]:
    """Transfer (or mint, if the source issues the asset) to the new balance's B address."""
    if ctx.result is None or ctx.result.value.balance_id is None:
        msg = "successful CREATE_CLAIMABLE_BALANCE without a balance id"
        raise ctx.error(msg)
    op = ctx.operation.body.value  # CreateClaimableBalanceOp
    holder = claimable_balance_strkey(ctx.result.value.balance_id.v0)
    return [classify(ctx, asset_from_xdr(op.asset), ctx.source_address, holder, op.amount)]


def claim_claimable_balance_events(ctx: OperationContext) -> list[Event]:
    """Transfer (burn if the claimant issues the asset) from B to the source; its mux id / memo applies."""
    entry = _removed_balance(ctx)
    holder = claimable_balance_strkey(ctx.operation.body.claim_claimable_balance_op.balance_id.v0)
    return [
        classify(
            ctx,
            asset_from_xdr(entry.asset),
            holder,
            ctx.source_address,
            entry.amount,
            ctx.destination_mux(ctx.source_account),
        )
    ]


def clawback_events(ctx: OperationContext) -> list[Event]:
    op = ctx.operation.body.value  # ClawbackOp
    asset = asset_from_xdr(op.asset)
    return [Clawback(ctx.meta(asset), account_strkey(muxed_key(op.from_)), asset, op.amount)]


def clawback_claimable_balance_events(ctx: OperationContext) -> list[Event]:
    entry = _removed_balance(ctx)
    asset = asset_from_xdr(entry.asset)
    holder = claimable_balance_strkey(ctx.operation.body.clawback_claimable_balance_op.balance_id.v0)
    return [Clawback(ctx.meta(asset), holder, asset, entry.amount)]
