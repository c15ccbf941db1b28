"""Reconciliation: do the events explain the ledger's own balance changes? (spec §4)

Per transaction (the reference ``VerifyEvents``): the per-(holder, asset) deltas implied by the tx's events
equal the deltas of its ledger-entry changes (fee processing, tx-level before/after, every operation,
post-apply fee processing) for accounts, trustlines (pool shares excluded), claimable balances and liquidity
pools. Events of custom tokens (no asset) and contract (C) holders are left out: contract balances cannot be
told from the entries alone. ``txINTERNAL_ERROR`` at protocol <= 12 ignores operation and after-changes (core
wrote them anyway).

Derived Soroban fee events are read from the fee payer's balance changes, so the balance check alone cannot
catch a wrong fee: a changed balance moves the event with it. Every mode therefore also checks the fee events
against what the transaction result and meta say, independently of the balances (spec §2.3 and §4 item 4):

* ``fee``: charge plus refund (a negative amount) equals the result's ``feeCharged`` (outer, for fee bumps);
* ``refund``: a refund event only for a Soroban transaction and only negative; when the meta carries the
  Soroban fee breakdown (``SorobanTransactionMetaExtV1``), the refund equals the declared ``resourceFee``
  minus the non-refundable and refundable resource fees charged.

Strict mode adds, per operation, the balance check restricted to that operation's events and changes, with
the Stellar Asset Contract balances of contract holders (``CONTRACT_DATA`` ``["Balance", holder]`` of a SAC
whose asset an event names), and checks that every classic event names its asset's SAC.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final

from stellar_arrow.errors import ReconciliationError
from stellar_arrow.ledger.network import Network
from stellar_arrow.ledger.view import LedgerTransaction
from stellar_arrow.ttp.changes import CONTRACT_DATA, BalanceKey, add_balance_deltas, entry_pairs
from stellar_arrow.ttp.contract import i128_value
from stellar_arrow.ttp.events import Burn, Clawback, Event, Fee, Mint, Transfer
from stellar_arrow.ttp.processor import Mode, TransactionEvents, transaction_events
from stellar_arrow.ttp.sac import sac_address, sac_contract_id
from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.strkey import sc_address_strkey

__all__ = [
    "Mismatch",
    "check_ledger",
    "event_deltas",
    "transaction_changes",
    "verify_ledger",
    "verify_transaction",
]

_INTERNAL_ERROR: Final = X.TransactionResultCode.txINTERNAL_ERROR
_SYM: Final = X.SCValType.SCV_SYMBOL
_VEC: Final = X.SCValType.SCV_VEC
_MAP: Final = X.SCValType.SCV_MAP
_ADDR: Final = X.SCValType.SCV_ADDRESS
_I128: Final = X.SCValType.SCV_I128


@dataclass(frozen=True, slots=True)
class Mismatch:
    """One disagreement: the change-implied delta (``expected``) differs from the event-implied one
    (``actual``).

    ``check`` is ``transaction`` (per-tx balances), ``fee`` (fee events vs ``feeCharged``), ``refund``
    (the refund event vs the Soroban fee breakdown), ``operation`` (strict per-op balances) or ``contract``
    (strict: a classic event that does not name its asset's SAC).
    """

    check: str
    ledger_sequence: int
    tx_hash: str
    transaction_index: int
    operation_index: int | None
    holder: str
    asset: str
    expected: int
    actual: int

    def __str__(self) -> str:
        where = f"ledger {self.ledger_sequence} tx {self.tx_hash} (#{self.transaction_index})"
        if self.operation_index is not None:
            where += f" op {self.operation_index}"
        return (
            f"{self.check} mismatch at {where}: {self.holder} {self.asset}: "
            f"ledger changes {self.expected:+d}, events {self.actual:+d}"
        )


def _add(deltas: dict[BalanceKey, int], holder: str, asset: str, amount: int) -> None:
    total = deltas.get((holder, asset), 0) + amount
    if total:
        deltas[(holder, asset)] = total
    else:
        deltas.pop((holder, asset), None)


def event_deltas(events: Iterable[Event], *, contract_holders: bool = False) -> dict[BalanceKey, int]:
    """Per-(holder, canonical asset) balance changes the events imply (asset-less events skipped)."""
    deltas: dict[BalanceKey, int] = {}
    for ev in events:
        asset = ev.asset
        if asset is None:
            continue
        key = asset.canonical
        if isinstance(ev, Transfer):
            if contract_holders or not ev.from_.startswith("C"):
                _add(deltas, ev.from_, key, -ev.amount)
            if contract_holders or not ev.to.startswith("C"):
                _add(deltas, ev.to, key, ev.amount)
        elif isinstance(ev, Mint):
            if contract_holders or not ev.to.startswith("C"):
                _add(deltas, ev.to, key, ev.amount)
        elif isinstance(ev, Burn | Clawback | Fee) and (contract_holders or not ev.from_.startswith("C")):
            _add(deltas, ev.from_, key, -ev.amount)
    return deltas


def transaction_changes(t: TransactionEvents) -> list[Sequence[Any]]:
    """The tx's LedgerEntryChanges lists in application order (spec §4.1 step 2)."""
    tx = t.transaction
    lists: list[Sequence[Any]] = [tx.fee_processing, tx.tx_changes_before]
    if not (tx.result_code == _INTERNAL_ERROR and tx.ledger.protocol_version <= 12):
        lists.extend(tx.operation_changes(i) for i in range(len(tx.operations)))
        lists.append(tx.tx_changes_after)
    lists.append(tx.post_fee_processing)
    return lists


def _diff(
    check: str,
    t: TransactionEvents,
    op_index: int | None,
    expected: dict[BalanceKey, int],
    actual: dict[BalanceKey, int],
) -> list[Mismatch]:
    tx = t.transaction
    out = []
    for key in sorted(expected.keys() | actual.keys()):
        e, a = expected.get(key, 0), actual.get(key, 0)
        if e != a:
            out.append(
                Mismatch(
                    check,
                    tx.ledger_sequence,
                    tx.hash_hex,
                    tx.transaction_index,
                    op_index,
                    key[0],
                    key[1],
                    e,
                    a,
                )
            )
    return out


def _sac_balance_deltas(changes: Sequence[Any], sac_assets: dict[bytes, str]) -> dict[BalanceKey, int]:
    """Balance changes of the ``["Balance", holder]`` contract-data entries of the SACs in ``sac_assets``."""
    deltas: dict[BalanceKey, int] = {}
    for pre, post in entry_pairs(changes):
        for entry, sign in ((pre, -1), (post, 1)):
            if entry is None or entry.data.type != CONTRACT_DATA:
                continue
            data = entry.data.contract_data
            if data.contract.type != X.SCAddressType.SC_ADDRESS_TYPE_CONTRACT:
                continue
            asset = sac_assets.get(data.contract.contract_id)
            key = data.key
            if asset is None or key.type != _VEC or not key.vec or len(key.vec) != 2:
                continue
            name, holder = key.vec
            if name.type != _SYM or name.sym != b"Balance" or holder.type != _ADDR:
                continue
            val = data.val
            if val.type != _MAP or not val.map or val.map[0].val.type != _I128:
                continue
            _add(deltas, sc_address_strkey(holder.address), asset, sign * i128_value(val.map[0].val.i128))
    return deltas


def _soroban_refund(tx: LedgerTransaction) -> int | None:
    """Declared ``resourceFee`` minus the resource fees charged, per the meta's breakdown (None: absent)."""
    meta = tx.meta
    if meta.v not in (3, 4):
        return None
    soroban_meta = meta.value.soroban_meta
    breakdown = None if soroban_meta is None else soroban_meta.ext.v1
    if breakdown is None:
        return None
    declared = int(tx.tx.ext.value.resource_fee)
    charged = (
        breakdown.total_non_refundable_resource_fee_charged + breakdown.total_refundable_resource_fee_charged
    )
    return declared - int(charged)


def _fee_mismatches(t: TransactionEvents) -> list[Mismatch]:
    """Fee events against the result's ``feeCharged`` and the meta's refund, not against balances."""
    tx = t.transaction
    charge, refund = t.fees.charge, t.fees.refund
    refund_amount = refund.amount if refund is not None else 0

    def mismatch(check: str, expected: int, actual: int) -> Mismatch:
        return Mismatch(
            check,
            tx.ledger_sequence,
            tx.hash_hex,
            tx.transaction_index,
            None,
            charge.from_,
            "native",
            expected,
            actual,
        )

    out: list[Mismatch] = []
    if charge.amount + refund_amount != tx.fee_charged:
        out.append(mismatch("fee", tx.fee_charged, charge.amount + refund_amount))
    if refund is None:
        expected_refund = _soroban_refund(tx) if tx.is_soroban else None
        if expected_refund:  # a positive refund the events do not show
            out.append(mismatch("refund", -expected_refund, 0))
        return out
    if not tx.is_soroban or refund.amount >= 0:
        out.append(mismatch("refund", 0, refund.amount))
        return out
    expected_refund = _soroban_refund(tx)
    if expected_refund is not None and -refund.amount != expected_refund:
        out.append(mismatch("refund", -expected_refund, refund.amount))
    return out


def _strict(t: TransactionEvents) -> list[Mismatch]:
    tx = t.transaction
    network = tx.network.network_id
    out: list[Mismatch] = []
    by_op: dict[int, list[Event]] = {}
    for ev in t.operations:
        by_op.setdefault(ev.meta.operation_index or 0, []).append(ev)
        if ev.asset is not None and ev.meta.contract_address != sac_address(ev.asset, network):
            out.append(
                Mismatch(
                    "contract",
                    tx.ledger_sequence,
                    tx.hash_hex,
                    tx.transaction_index,
                    ev.meta.operation_index,
                    ev.meta.contract_address,
                    ev.asset.canonical,
                    0,
                    0,
                )
            )
    if tx.result_code == _INTERNAL_ERROR and tx.ledger.protocol_version <= 12:
        return out
    for index0 in range(len(tx.operations)):
        events = by_op.get(index0 + 1, [])
        changes = tx.operation_changes(index0)
        sac_assets = {sac_contract_id(ev.asset, network): ev.asset.canonical for ev in events if ev.asset}
        expected: dict[BalanceKey, int] = {}
        add_balance_deltas(expected, changes)
        for key, amount in _sac_balance_deltas(changes, sac_assets).items():
            _add(expected, key[0], key[1], amount)
        out.extend(_diff("operation", t, index0 + 1, expected, event_deltas(events, contract_holders=True)))
    return out


def verify_transaction(t: TransactionEvents, *, strict: bool = False) -> list[Mismatch]:
    """Mismatches between one transaction's events and its ledger-entry changes (empty when they agree)."""
    expected: dict[BalanceKey, int] = {}
    for changes in transaction_changes(t):
        add_balance_deltas(expected, changes)
    out = _diff("transaction", t, None, expected, event_deltas(t.all))
    out.extend(_fee_mismatches(t))
    if strict:
        out.extend(_strict(t))
    return out


def verify_ledger(
    lcm: Any, network: Network, *, mode: Mode = "derived", strict: bool = False
) -> list[Mismatch]:
    """Every mismatch of every transaction of a decoded ``LedgerCloseMeta``."""
    out: list[Mismatch] = []
    for t in transaction_events(lcm, network, mode):
        out.extend(verify_transaction(t, strict=strict))
    return out


def check_ledger(lcm: Any, network: Network, *, mode: Mode = "derived", strict: bool = False) -> None:
    """Raise :class:`~stellar_arrow.errors.ReconciliationError` naming the mismatches, if there are any."""
    mismatches = verify_ledger(lcm, network, mode=mode, strict=strict)
    if mismatches:
        seq = mismatches[0].ledger_sequence
        shown = "; ".join(map(str, mismatches[:5]))
        more = f" (and {len(mismatches) - 5} more)" if len(mismatches) > 5 else ""
        msg = f"ledger {seq}: {len(mismatches)} balance mismatches: {shown}{more}"
        raise ReconciliationError(msg, ledger_sequence=seq)
