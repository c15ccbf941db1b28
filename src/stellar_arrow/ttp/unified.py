"""Unified mode: read the network's own CAP-67 events from ``TransactionMetaV4`` instead of deriving them.

Only possible when every transaction of the ledger has meta v4 (protocol >= 23, or older ledgers replayed with
``BACKFILL_STELLAR_ASSET_EVENTS``). Operation events: every event of every operation parsed as a v4 SEP-41
event (classic operations emit SAC events too; ``set_authorized`` and other functions are dropped). Fee
events: the tx-level events whose first topic is the symbol ``fee``; they must name the native SAC, have
exactly two topics and i128 data; the first is the charge, the second (if any) the refund.
"""

from __future__ import annotations

from typing import Final

from stellar_arrow.ledger.view import LedgerTransaction
from stellar_arrow.ttp.contract import contract_event, i128_value
from stellar_arrow.ttp.events import NATIVE, Event, EventMeta, Fee
from stellar_arrow.ttp.fees import FeeEvents
from stellar_arrow.ttp.operation import operation_context
from stellar_arrow.ttp.sac import sac_contract_id
from stellar_arrow.ttp.transaction import derivation_error
from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.strkey import contract_strkey, sc_address_strkey

__all__ = ["has_unified_events", "unified_fee_events", "unified_operation_events"]

_SYM: Final = X.SCValType.SCV_SYMBOL
_ADDR: Final = X.SCValType.SCV_ADDRESS
_I128: Final = X.SCValType.SCV_I128


def has_unified_events(tx: LedgerTransaction) -> bool:
    """True when core wrote CAP-67 events for the tx: meta v4 with a tx-level ``fee`` event.

    Core writes meta v4 from protocol 23 on, but classic and fee events only with ``EMIT_CLASSIC_EVENTS``
    (the synthetic load-test ledgers have none).
    """
    if tx.meta_version != 4:
        return False
    for tx_event in tx.meta.value.events:
        body = tx_event.event.body
        if body.v != 0:
            continue
        topics = body.value.topics
        if topics and topics[0].type == _SYM and topics[0].sym == b"fee":
            return True
    return False


def _require_v4(tx: LedgerTransaction) -> None:
    if tx.meta_version != 4:
        msg = f"unified mode needs TransactionMetaV4, this tx has meta v{tx.meta_version}"
        raise derivation_error(tx, msg)


def unified_fee_events(tx: LedgerTransaction) -> FeeEvents:
    """The tx-level ``fee`` events core wrote (charge, then refund if any)."""
    _require_v4(tx)
    native = sac_contract_id(NATIVE, tx.network.network_id)
    fees: list[Fee] = []
    for tx_event in tx.meta.value.events:
        event = tx_event.event
        if event.body.v != 0:
            continue
        body = event.body.value
        topics = body.topics
        if not topics or topics[0].type != _SYM or topics[0].sym != b"fee":
            continue
        data = body.data
        if len(topics) != 2 or topics[1].type != _ADDR or data.type != _I128 or event.contract_id != native:
            msg = "malformed fee event (needs 2 topics, an address, i128 data and the native SAC)"
            raise derivation_error(tx, msg)
        meta = EventMeta(
            ledger_sequence=tx.ledger_sequence,
            closed_at=tx.ledger.close_time,
            tx_hash=tx.hash_hex,
            transaction_index=tx.transaction_index,
            operation_index=None,
            contract_address=contract_strkey(native),
        )
        fees.append(Fee(meta, sc_address_strkey(topics[1].address), i128_value(data.i128)))
    if not 1 <= len(fees) <= 2:
        msg = f"expected 1 or 2 fee events in the meta, found {len(fees)}"
        raise derivation_error(tx, msg)
    return FeeEvents((fees[0], fees[1] if len(fees) == 2 else None))


def unified_operation_events(tx: LedgerTransaction) -> list[Event]:
    """Token events core wrote for each operation, in the order it wrote them."""
    _require_v4(tx)
    out: list[Event] = []
    for index0, op_meta in enumerate(tx.meta.value.operations):
        if not op_meta.events:
            continue
        ctx = operation_context(tx, index0)
        for event in op_meta.events:
            parsed = contract_event(ctx, event, 4)
            if parsed is not None:
                out.append(parsed)
    return out
