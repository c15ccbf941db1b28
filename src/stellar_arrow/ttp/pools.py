"""Liquidity pools: LIQUIDITY_POOL_DEPOSIT / _WITHDRAW and pool-share redemption on trustline revocation.

Amounts come from the pool's reserve change in the operation's meta (exactly one pool change is expected).

Revocation (ALLOW_TRUST / SET_TRUST_LINE_FLAGS, protocol >= 18) follows stellar-core's semantics, per pool (in
ledger-key order) and per pool asset (A then B): a zero withdrawal emits nothing; if the trustor issues the
asset it is burnt from the pool; otherwise it goes to a new claimable balance whose id is the revoke-op hash
(inner tx source, inner seq num, 0-based op index, pool id, asset), so pools sharing the revoked asset are
told apart. A redemption whose claimable balance is missing from the meta is an :class:`EventDerivationError`.
"""

from __future__ import annotations

from typing import Any

from stellar_arrow.ttp.changes import CLAIMABLE_BALANCE, LIQUIDITY_POOL, paired_entries
from stellar_arrow.ttp.events import Burn, Event, Transfer
from stellar_arrow.ttp.operation import OperationContext, classify
from stellar_arrow.ttp.sac import asset_from_xdr, revoke_claimable_balance_id
from stellar_arrow.xdr.strkey import account_strkey, claimable_balance_strkey, liquidity_pool_strkey

__all__ = ["liquidity_pool_deposit_events", "liquidity_pool_withdraw_events", "revocation_events"]


def _pool(entry: Any | None) -> Any | None:
    return None if entry is None else entry.data.liquidity_pool


def _single_pool_change(ctx: OperationContext) -> tuple[Any, int, int]:
    """(pool entry, reserve A change, reserve B change) of the operation's only liquidity pool change."""
    pairs = paired_entries(ctx.changes, LIQUIDITY_POOL)
    if len(pairs) != 1:
        msg = f"expected exactly one liquidity pool change, found {len(pairs)}"
        raise ctx.error(msg)
    pre, post = (_pool(e) for e in pairs[0])
    pool = post if post is not None else pre
    pre_a = pre.body.constant_product.reserve_a if pre is not None else 0
    pre_b = pre.body.constant_product.reserve_b if pre is not None else 0
    post_a = post.body.constant_product.reserve_a if post is not None else 0
    post_b = post.body.constant_product.reserve_b if post is not None else 0
    return pool, post_a - pre_a, post_b - pre_b


def liquidity_pool_deposit_events(ctx: OperationContext) -> list[Event]:
    """Source -> pool for asset A then B (mint to the pool if the source issues the asset)."""
    pool, delta_a, delta_b = _single_pool_change(ctx)
    if delta_a <= 0 or delta_b <= 0:
        msg = f"liquidity pool deposit with non-positive reserve changes ({delta_a}, {delta_b})"
        raise ctx.error(msg)
    params = pool.body.constant_product.params
    holder = liquidity_pool_strkey(pool.liquidity_pool_id)
    src = ctx.source_address
    return [
        classify(ctx, asset_from_xdr(params.asset_a), src, holder, delta_a),
        classify(ctx, asset_from_xdr(params.asset_b), src, holder, delta_b),
    ]


def liquidity_pool_withdraw_events(ctx: OperationContext) -> list[Event]:
    """Pool -> source for asset A then B (zero amounts kept; burn if the source issues the asset)."""
    pool, delta_a, delta_b = _single_pool_change(ctx)
    if delta_a > 0 or delta_b > 0:
        msg = f"liquidity pool withdraw with growing reserves ({delta_a}, {delta_b})"
        raise ctx.error(msg)
    params = pool.body.constant_product.params
    holder = liquidity_pool_strkey(pool.liquidity_pool_id)
    src = ctx.source_address
    mux = ctx.destination_mux(ctx.source_account)
    return [
        classify(ctx, asset_from_xdr(params.asset_a), holder, src, -delta_a, mux),
        classify(ctx, asset_from_xdr(params.asset_b), holder, src, -delta_b, mux),
    ]


def _pool_id(pair: tuple[Any | None, Any | None]) -> bytes:
    entry: Any = pair[1] if pair[1] is not None else pair[0]
    pool_id: bytes = entry.data.liquidity_pool.liquidity_pool_id
    return pool_id


def revocation_events(ctx: OperationContext) -> list[Event]:
    """Pool-share redemption events of an ALLOW_TRUST / SET_TRUST_LINE_FLAGS that revoked authorization."""
    pools = paired_entries(ctx.changes, LIQUIDITY_POOL)
    if not pools:
        return []
    body = ctx.operation.body
    op = body.allow_trust_op if body.allow_trust_op is not None else body.set_trust_line_flags_op
    trustor = account_strkey(op.trustor.ed25519)
    created = {
        post.data.claimable_balance.balance_id.v0: post.data.claimable_balance
        for pre, post in paired_entries(ctx.changes, CLAIMABLE_BALANCE)
        if pre is None and post is not None
    }
    tx = ctx.tx
    ordered = sorted(pools, key=_pool_id)
    out: list[Event] = []
    for pre_entry, post_entry in ordered:
        pre, post = _pool(pre_entry), _pool(post_entry)
        if pre is None:
            msg = "trustline revocation created a liquidity pool"
            raise ctx.error(msg)
        pool_id = pre.liquidity_pool_id
        holder = liquidity_pool_strkey(pool_id)
        cp = pre.body.constant_product
        post_cp = post.body.constant_product if post is not None else None
        sides = (
            (cp.params.asset_a, cp.reserve_a - (post_cp.reserve_a if post_cp is not None else 0)),
            (cp.params.asset_b, cp.reserve_b - (post_cp.reserve_b if post_cp is not None else 0)),
        )
        for xdr_asset, amount in sides:
            if amount == 0:
                continue
            if amount < 0:
                msg = f"trustline revocation grew the reserves of pool {holder}"
                raise ctx.error(msg)
            asset = asset_from_xdr(xdr_asset)
            if asset.issuer == trustor:
                out.append(Burn(ctx.meta(asset), holder, asset, amount))
                continue
            cb_id = revoke_claimable_balance_id(tx.source_key, tx.seq_num, ctx.index0, pool_id, asset)
            entry = created.get(cb_id)
            if entry is None:
                msg = (
                    f"pool {holder} redeemed {amount} {asset} on revocation but claimable balance "
                    f"{claimable_balance_strkey(cb_id)} is not in the meta"
                )
                raise ctx.error(msg)
            out.append(
                Transfer(ctx.meta(asset), holder, claimable_balance_strkey(cb_id), asset, entry.amount)
            )
    return out
