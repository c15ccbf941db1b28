"""Operation -> events dispatch (one small handler per operation type) and the pre-protocol-8 XLM
reconciliation. reconciliation.

Operation types absent from :data:`HANDLERS` (set options, change trust, manage data, bump sequence,
sponsorship, TTL operations) have no token effect and yield nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from stellar_arrow.ledger.view import LedgerTransaction
from stellar_arrow.ttp.accounts import account_merge_events, create_account_events, inflation_events
from stellar_arrow.ttp.changes import add_balance_deltas
from stellar_arrow.ttp.claimable import (
    claim_claimable_balance_events,
    clawback_claimable_balance_events,
    clawback_events,
    create_claimable_balance_events,
)
from stellar_arrow.ttp.contract import invoke_host_function_events
from stellar_arrow.ttp.events import NATIVE, Burn, Event, Mint, Transfer
from stellar_arrow.ttp.operation import OperationContext
from stellar_arrow.ttp.pools import (
    liquidity_pool_deposit_events,
    liquidity_pool_withdraw_events,
    revocation_events,
)
from stellar_arrow.ttp.trades import (
    offer_events,
    path_payment_strict_receive_events,
    path_payment_strict_send_events,
    payment_events,
)
from stellar_arrow.vocabulary import OPERATION_TYPES
from stellar_arrow.xdr import model as X

__all__ = ["HANDLERS", "events_from_operation", "operation_events"]

Handler = Callable[[OperationContext], list[Event]]
_T = X.OperationType

HANDLERS: Final[dict[int, Handler]] = {
    _T.CREATE_ACCOUNT: create_account_events,
    _T.PAYMENT: payment_events,
    _T.PATH_PAYMENT_STRICT_RECEIVE: path_payment_strict_receive_events,
    _T.PATH_PAYMENT_STRICT_SEND: path_payment_strict_send_events,
    _T.MANAGE_SELL_OFFER: offer_events,
    _T.MANAGE_BUY_OFFER: offer_events,
    _T.CREATE_PASSIVE_SELL_OFFER: offer_events,
    _T.ACCOUNT_MERGE: account_merge_events,
    _T.INFLATION: inflation_events,
    _T.CREATE_CLAIMABLE_BALANCE: create_claimable_balance_events,
    _T.CLAIM_CLAIMABLE_BALANCE: claim_claimable_balance_events,
    _T.CLAWBACK: clawback_events,
    _T.CLAWBACK_CLAIMABLE_BALANCE: clawback_claimable_balance_events,
    _T.LIQUIDITY_POOL_DEPOSIT: liquidity_pool_deposit_events,
    _T.LIQUIDITY_POOL_WITHDRAW: liquidity_pool_withdraw_events,
    _T.ALLOW_TRUST: revocation_events,
    _T.SET_TRUST_LINE_FLAGS: revocation_events,
    _T.INVOKE_HOST_FUNCTION: invoke_host_function_events,
}
_NO_RECONCILIATION: Final = frozenset({_T.INVOKE_HOST_FUNCTION})


def _native_delta_from_events(events: list[Event], holder: str) -> int:
    total = 0
    for ev in events:
        if ev.asset is None or not ev.asset.is_native:
            continue
        if isinstance(ev, Transfer):
            total += (ev.to == holder) * ev.amount - (ev.from_ == holder) * ev.amount
        elif isinstance(ev, Mint):
            total += ev.amount if ev.to == holder else 0
        else:
            total -= ev.amount if ev.from_ == holder else 0
    return total


def _reconcile_pre8(ctx: OperationContext, events: list[Event]) -> list[Event]:
    """Before protocol 8 XLM could appear or vanish; mint/burn the source's unexplained native change."""
    deltas: dict[tuple[str, str], int] = {}
    add_balance_deltas(deltas, ctx.changes)
    source = ctx.source_address
    diff = deltas.get((source, "native"), 0) - _native_delta_from_events(events, source)
    if diff > 0:
        return [Mint(ctx.meta(NATIVE), source, NATIVE, diff), *events]
    if diff < 0:
        return [*events, Burn(ctx.meta(NATIVE), source, NATIVE, -diff)]
    return events


def events_from_operation(ctx: OperationContext) -> list[Event]:
    """The events of one operation of a successful transaction."""
    op_type = ctx.operation.body.type
    handler = HANDLERS.get(op_type)
    if handler is None:
        return []
    events = handler(ctx)
    if ctx.tx.ledger.protocol_version < 8 and op_type not in _NO_RECONCILIATION:
        events = _reconcile_pre8(ctx, events)
    return events


def operation_events(tx: LedgerTransaction) -> list[Event]:
    """Events of every operation of ``tx`` in operation order; none for a failed transaction.

    A context is built only for the operations a handler exists for (the others move nothing).
    """
    if not tx.successful:
        return []
    out: list[Event] = []
    results: list[Any] | None = None
    reconcile = tx.ledger.protocol_version < 8
    for index0, op in enumerate(tx.operations):
        op_type = op.body.type
        handler = HANDLERS.get(op_type)
        if handler is None:
            continue
        if results is None:
            results = tx.operation_results or []
        result = results[index0].tr if index0 < len(results) else None
        ctx = OperationContext(tx, index0, op, result, OPERATION_TYPES[op_type])
        events = handler(ctx)
        if reconcile and op_type not in _NO_RECONCILIATION:
            events = _reconcile_pre8(ctx, events)
        out += events
    return out
