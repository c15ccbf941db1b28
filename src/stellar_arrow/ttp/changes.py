"""Ledger-entry changes: pairing STATE/UPDATED/REMOVED into (pre, post) and the balance deltas they imply.

Pairing follows the reference ingest code: a STATE (or, from protocol 23, a RESTORED) entry is the ``pre`` of
the UPDATED/REMOVED change right after it; CREATED has no ``pre``; REMOVED has no ``post``; a lone RESTORED
has no ``pre``. Balance deltas (spec §4.2) are keyed by ``(holder strkey, canonical asset)``:

======================  ===========  ========================  ===========================
entry                   holder       asset                     delta
======================  ===========  ========================  ===========================
ACCOUNT                 G            ``native``                balance
TRUSTLINE (no shares)   G            ``CODE:ISSUER``           balance
CLAIMABLE_BALANCE       B            the entry's asset         amount
LIQUIDITY_POOL          L            asset A and asset B       reserve A / reserve B
======================  ===========  ========================  ===========================
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Final

from stellar_arrow.ttp.sac import asset_from_xdr
from stellar_arrow.xdr.strkey import account_strkey, claimable_balance_strkey, liquidity_pool_strkey

__all__ = [
    "ACCOUNT",
    "CLAIMABLE_BALANCE",
    "CONTRACT_DATA",
    "LIQUIDITY_POOL",
    "TRUSTLINE",
    "BalanceKey",
    "add_balance_deltas",
    "entry_pairs",
    "paired_entries",
]

# LedgerEntryType / LedgerEntryChangeType values (Stellar-ledger-entries.x, Stellar-ledger.x)
ACCOUNT: Final = 0
TRUSTLINE: Final = 1
CLAIMABLE_BALANCE: Final = 4
LIQUIDITY_POOL: Final = 5
CONTRACT_DATA: Final = 6
_CREATED, _UPDATED, _REMOVED, _STATE, _RESTORED = 0, 1, 2, 3, 4
_POOL_SHARE: Final = 3

BalanceKey = tuple[str, str]  # (holder strkey, canonical asset)


def entry_pairs(changes: Sequence[Any]) -> Iterator[tuple[Any | None, Any | None]]:
    """Yield ``(pre, post)`` LedgerEntry pairs of a LedgerEntryChanges list (either side may be ``None``)."""
    n = len(changes)
    for i, change in enumerate(changes):
        kind = change.type
        if kind == _CREATED:
            yield None, change.created
        elif kind in (_UPDATED, _REMOVED):
            prev = changes[i - 1] if i else None
            pre = None
            if prev is not None and prev.type == _STATE:
                pre = prev.state
            elif prev is not None and prev.type == _RESTORED:
                pre = prev.restored
            yield pre, (change.updated if kind == _UPDATED else None)
        elif kind == _RESTORED:
            nxt = changes[i + 1] if i + 1 < n else None
            if nxt is None or nxt.type not in (_UPDATED, _REMOVED):
                yield None, change.restored


def paired_entries(changes: Sequence[Any], entry_type: int) -> list[tuple[Any | None, Any | None]]:
    """The ``(pre, post)`` pairs of one ledger entry type."""
    out = []
    for pre, post in entry_pairs(changes):
        entry = post if post is not None else pre
        if entry is not None and entry.data.type == entry_type:
            out.append((pre, post))
    return out


def _add(deltas: dict[BalanceKey, int], key: BalanceKey, amount: int) -> None:
    if amount:
        total = deltas.get(key, 0) + amount
        if total:
            deltas[key] = total
        else:
            deltas.pop(key, None)


def _entry_balances(entry: Any) -> Iterable[tuple[BalanceKey, int]]:
    data = entry.data
    kind = data.type
    if kind == ACCOUNT:
        acc = data.account
        return (((account_strkey(acc.account_id.ed25519), "native"), acc.balance),)
    if kind == TRUSTLINE:
        tl = data.trust_line
        if tl.asset.type == _POOL_SHARE:
            return ()
        return (((account_strkey(tl.account_id.ed25519), asset_from_xdr(tl.asset).canonical), tl.balance),)
    if kind == CLAIMABLE_BALANCE:
        cb = data.claimable_balance
        holder = claimable_balance_strkey(cb.balance_id.v0)
        return (((holder, asset_from_xdr(cb.asset).canonical), cb.amount),)
    if kind == LIQUIDITY_POOL:
        lp = data.liquidity_pool
        cp = lp.body.constant_product
        holder = liquidity_pool_strkey(lp.liquidity_pool_id)
        return (
            ((holder, asset_from_xdr(cp.params.asset_a).canonical), cp.reserve_a),
            ((holder, asset_from_xdr(cp.params.asset_b).canonical), cp.reserve_b),
        )
    return ()


def add_balance_deltas(deltas: dict[BalanceKey, int], changes: Sequence[Any]) -> None:
    """Add the balance deltas implied by ``changes`` to ``deltas`` (entries reaching 0 are dropped)."""
    for pre, post in entry_pairs(changes):
        if pre is not None:
            for key, amount in _entry_balances(pre):
                _add(deltas, key, -amount)
        if post is not None:
            for key, amount in _entry_balances(post):
                _add(deltas, key, amount)
