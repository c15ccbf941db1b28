"""Payments, path payments and offers: events of PAYMENT, PATH_PAYMENT_*, MANAGE_*_OFFER,
CREATE_PASSIVE_SELL_OFFER. CREATE_PASSIVE_SELL_OFFER.

Every claim atom (a trade against an order-book offer or a liquidity pool) yields two events, in the Go TTP
order: ``seller -> source`` of what the seller sold, then ``source -> seller`` of what it bought.
(stellar-core's own CAP-67 events put the pair the other way round; the multiset is the same.)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from stellar_arrow.ledger.view import muxed_key
from stellar_arrow.ttp.events import Event
from stellar_arrow.ttp.operation import OperationContext, classify
from stellar_arrow.ttp.sac import asset_from_xdr
from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.strkey import account_strkey, liquidity_pool_strkey

__all__ = [
    "claim_atom_events",
    "offer_events",
    "path_payment_strict_receive_events",
    "path_payment_strict_send_events",
    "payment_events",
]

_ATOM_V0: Final = X.ClaimAtomType.CLAIM_ATOM_TYPE_V0
_ATOM_ORDER_BOOK: Final = X.ClaimAtomType.CLAIM_ATOM_TYPE_ORDER_BOOK


def claim_atom_events(ctx: OperationContext, atoms: Sequence[Any]) -> list[Event]:
    """Two events per atom (zero amounts kept); never muxed info."""
    if not atoms:  # most offers cross nothing: no source address to look up
        return []
    source = ctx.source_address
    out: list[Event] = []
    for atom in atoms:
        kind = atom.type
        claim = atom.value  # the arm of ``kind``: ClaimOfferAtomV0, ClaimOfferAtom or ClaimLiquidityAtom
        if kind == _ATOM_V0:
            seller = account_strkey(claim.seller_ed25519)
        elif kind == _ATOM_ORDER_BOOK:
            seller = account_strkey(claim.seller_id.ed25519)
        else:
            seller = liquidity_pool_strkey(claim.liquidity_pool_id)
        out.append(classify(ctx, asset_from_xdr(claim.asset_sold), seller, source, claim.amount_sold))
        out.append(classify(ctx, asset_from_xdr(claim.asset_bought), source, seller, claim.amount_bought))
    return out


def payment_events(ctx: OperationContext) -> list[Event]:
    op = ctx.operation.body.value  # PaymentOp (the handler is chosen by type)
    dest = op.destination
    return [
        classify(
            ctx,
            asset_from_xdr(op.asset),
            ctx.source_address,
            account_strkey(muxed_key(dest)),
            op.amount,
            ctx.destination_mux(dest),
        )
    ]


def _path_payment(ctx: OperationContext, op: Any, success: Any | None, amount: int) -> list[Event]:
    events = claim_atom_events(ctx, success.offers) if success is not None else []
    dest = op.destination
    events.append(
        classify(
            ctx,
            asset_from_xdr(op.dest_asset),
            ctx.source_address,
            account_strkey(muxed_key(dest)),
            amount,
            ctx.destination_mux(dest),
        )
    )
    return events


def path_payment_strict_receive_events(ctx: OperationContext) -> list[Event]:
    op = ctx.operation.body.value  # PathPaymentStrictReceiveOp
    success = ctx.result.value.success if ctx.result is not None else None
    if success is None:
        msg = "successful PATH_PAYMENT_STRICT_RECEIVE without a success result"
        raise ctx.error(msg)
    return _path_payment(ctx, op, success, op.dest_amount)


def path_payment_strict_send_events(ctx: OperationContext) -> list[Event]:
    op = ctx.operation.body.value  # PathPaymentStrictSendOp
    success = ctx.result.value.success if ctx.result is not None else None
    if success is None:
        msg = "successful PATH_PAYMENT_STRICT_SEND without a success result"
        raise ctx.error(msg)
    return _path_payment(ctx, op, success, success.last.amount)


def offer_events(ctx: OperationContext) -> list[Event]:
    """MANAGE_SELL_OFFER, MANAGE_BUY_OFFER, CREATE_PASSIVE_SELL_OFFER.

    Reads the arm the result itself names: core writes passive-offer results as MANAGE_SELL_OFFER results.
    """
    if ctx.result is None:
        msg = "successful offer operation without a result"
        raise ctx.error(msg)
    success = ctx.result.value.success
    if success is None:
        msg = "successful offer operation without a success result"
        raise ctx.error(msg)
    return claim_atom_events(ctx, success.offers_claimed)
