"""Native-only operations: CREATE_ACCOUNT, ACCOUNT_MERGE and INFLATION."""

from __future__ import annotations

from stellar_arrow.ledger.view import muxed_key
from stellar_arrow.ttp.events import NATIVE, Event, Mint
from stellar_arrow.ttp.operation import OperationContext, classify
from stellar_arrow.xdr.strkey import account_strkey

__all__ = ["account_merge_events", "create_account_events", "inflation_events"]


def create_account_events(ctx: OperationContext) -> list[Event]:
    """Always a transfer of the starting balance; the memo applies (the destination is never muxed)."""
    op = ctx.operation.body.value  # CreateAccountOp (the handler is chosen by type)
    dest = account_strkey(op.destination.ed25519)
    return [classify(ctx, NATIVE, ctx.source_address, dest, op.starting_balance, ctx.destination_mux(None))]


def account_merge_events(ctx: OperationContext) -> list[Event]:
    """The merged balance moves to the (possibly muxed) destination; nothing if the result has no balance."""
    if ctx.result is None:
        msg = "successful ACCOUNT_MERGE without a result"
        raise ctx.error(msg)
    balance = ctx.result.value.source_account_balance
    if balance is None:
        return []
    dest = ctx.operation.body.destination
    to = account_strkey(muxed_key(dest))
    return [classify(ctx, NATIVE, ctx.source_address, to, balance, ctx.destination_mux(dest))]


def inflation_events(ctx: OperationContext) -> list[Event]:
    """One native mint per payout, in payout order (protocol < 12)."""
    if ctx.result is None:
        msg = "successful INFLATION without a result"
        raise ctx.error(msg)
    payouts = ctx.result.value.payouts or ()
    return [Mint(ctx.meta(NATIVE), account_strkey(p.destination.ed25519), NATIVE, p.amount) for p in payouts]
