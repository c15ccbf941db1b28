"""What an operation handler sees (:class:`OperationContext`) and the central mint/burn/transfer classifier.

``classify`` mirrors the reference ``mintOrBurnOrTransferEvent``: the issuer of a non-native asset on the
sending side mints, on the receiving side burns, on both sides (issuer paying itself) transfers. Destination
muxed info (muxed id, else the tx memo) is attached to transfers and mints only, and only when the caller
allows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final

from stellar_arrow.errors import EventDerivationError
from stellar_arrow.ledger.view import LedgerTransaction, muxed_key
from stellar_arrow.ttp.events import Asset, Burn, Event, EventMeta, Mint, MuxedInfo, Transfer
from stellar_arrow.ttp.sac import sac_address
from stellar_arrow.ttp.transaction import derivation_error
from stellar_arrow.vocabulary import operation_type_name
from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.strkey import account_strkey

__all__ = ["OperationContext", "classify", "operation_context"]

_MUXED: Final = X.CryptoKeyType.KEY_TYPE_MUXED_ED25519
_MEMO_TEXT: Final = X.MemoType.MEMO_TEXT
_MEMO_ID: Final = X.MemoType.MEMO_ID
_MEMO_HASH: Final = X.MemoType.MEMO_HASH
_MEMO_RETURN: Final = X.MemoType.MEMO_RETURN


@dataclass(slots=True)
class OperationContext:
    """One operation of a successful transaction, with its result and its ledger-entry changes.

    Read-only by convention; not ``frozen`` because one is built per operation and a frozen
    dataclass pays an ``object.__setattr__`` call per field."""

    tx: LedgerTransaction
    index0: int  # 0-based operation index
    operation: Any  # X.Operation
    result: Any | None  # the OperationResult ``tr`` union (None if the result list is short)
    source: bytes  # ed25519 of the op source (tx source when unset)
    source_account: Any | None  # X.MuxedAccount of the op source (or tx source); None for V0 txs
    operation_type: str  # the type name (``payment``, ``invoke_host_function``...), stamped on every event

    @property
    def changes(self) -> Sequence[Any]:
        """The operation's ledger-entry changes, read only by the handlers that need them (the
        compiled decoder builds them on first read)."""
        return self.tx.operation_changes(self.index0)

    @property
    def operation_index(self) -> int:
        return self.index0 + 1

    @property
    def source_address(self) -> str:
        return account_strkey(self.source)

    def meta(self, asset: Asset, to_muxed_info: MuxedInfo | None = None) -> EventMeta:
        """Envelope of a classic event: the asset's SAC is the contract address."""
        return self.contract_meta(sac_address(asset, self.tx.network.network_id), to_muxed_info)

    def contract_meta(self, contract_address: str, to_muxed_info: MuxedInfo | None = None) -> EventMeta:
        tx = self.tx
        return EventMeta(
            ledger_sequence=tx.ledger_sequence,
            closed_at=tx.ledger.close_time,
            tx_hash=tx.hash_hex,
            transaction_index=tx.transaction_index,
            operation_index=self.index0 + 1,
            contract_address=contract_address,
            to_muxed_info=to_muxed_info,
            operation_type=self.operation_type,
        )

    def destination_mux(self, destination: Any | None) -> MuxedInfo | None:
        """Muxed info of an account destination: its muxed id if it is an M account, else the tx memo.

        ``destination`` is an ``X.MuxedAccount`` or ``None`` for a plain G destination.
        """
        if destination is not None and destination.type == _MUXED:
            return MuxedInfo("id", destination.med25519.id)
        memo = self.tx.memo
        kind = memo.type
        if kind == _MEMO_ID:
            return MuxedInfo("id", memo.value)
        if kind == _MEMO_TEXT:
            return MuxedInfo("text", memo.value)
        if kind in (_MEMO_HASH, _MEMO_RETURN):
            return MuxedInfo("hash", memo.value)
        return None

    def error(self, message: str) -> EventDerivationError:
        return derivation_error(self.tx, message, self.index0 + 1)


def operation_context(tx: LedgerTransaction, index0: int) -> OperationContext:
    op = tx.operations[index0]
    results = tx.operation_results or ()
    result = results[index0].tr if index0 < len(results) else None
    source_account: X.MuxedAccount | None
    if op.source_account is not None:
        source_account = op.source_account
        source = muxed_key(source_account)
    else:
        source_account = tx.source_account
        source = tx.source_key
    return OperationContext(
        tx=tx,
        index0=index0,
        operation=op,
        result=result,
        source=source,
        source_account=source_account,
        operation_type=operation_type_name(op.body.type),
    )


def classify(
    ctx: OperationContext, asset: Asset, from_: str, to: str, amount: int, mux: MuxedInfo | None = None
) -> Event:
    """Transfer, mint (issuer sends) or burn (issuer receives); ``from_``/``to`` are G/L/B/C strkeys."""
    issuer = asset.issuer
    from_issuer = issuer is not None and from_ == issuer
    to_issuer = issuer is not None and to == issuer
    if from_issuer and not to_issuer:
        return Mint(ctx.meta(asset, mux), to, asset, amount)
    if to_issuer and not from_issuer:
        return Burn(ctx.meta(asset), from_, asset, amount)
    return Transfer(ctx.meta(asset, mux), from_, to, asset, amount)
