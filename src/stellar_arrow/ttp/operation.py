"""What an operation handler sees (:class:`OperationContext`) and the central mint/burn/transfer classifier.

``classify`` mirrors the reference ``mintOrBurnOrTransferEvent``: the issuer of a non-native asset on the
sending side mints, on the receiving side burns, on both sides (issuer paying itself) transfers. Destination
muxed info (muxed id, else the tx memo) is attached to transfers and mints only, and only when the caller
allows it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from stellar_arrow.errors import EventDerivationError
from stellar_arrow.ledger.view import LedgerTransaction, muxed_key
from stellar_arrow.ttp.events import Asset, Burn, Event, EventMeta, Mint, MuxedInfo, Transfer
from stellar_arrow.ttp.sac import issued_sac_address, native_sac_address
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


class OperationContext:
    """One operation of a successful transaction, with its result and its ledger-entry changes.

    Read-only by convention. Built for every operation that can move tokens, so it holds only what
    every handler reads; the rest (source key and account, changes) is read on demand, and the
    source's strkey and the event envelopes are made once per operation.
    """

    __slots__ = ("_metas", "_source_address", "index0", "operation", "operation_type", "result", "tx")

    def __init__(
        self, tx: LedgerTransaction, index0: int, operation: Any, result: Any | None, operation_type: str
    ):
        self.tx = tx
        self.index0 = index0  # 0-based operation index
        self.operation = operation  # X.Operation
        self.result = result  # the OperationResult ``tr`` union (None if the result list is short)
        self.operation_type = operation_type  # type name (``payment``...), stamped on every event
        self._source_address: str | None = None
        self._metas: dict[str, EventMeta] | None = None

    @property
    def operation_index(self) -> int:
        return self.index0 + 1

    @property
    def source_account(self) -> Any | None:
        """X.MuxedAccount of the op source (or tx source); None for the source of a V0 tx."""
        account = self.operation.source_account
        return account if account is not None else self.tx.source_account

    @property
    def source(self) -> bytes:
        """ed25519 key of the op source (the tx source when unset)."""
        account = self.operation.source_account
        return muxed_key(account) if account is not None else self.tx.source_key

    @property
    def source_address(self) -> str:
        address = self._source_address
        if address is None:
            address = self._source_address = account_strkey(self.source)
        return address

    @property
    def changes(self) -> Sequence[Any]:
        """The operation's ledger-entry changes (empty when the meta has none)."""
        return self.tx.operation_changes(self.index0)

    def meta(self, asset: Asset, to_muxed_info: MuxedInfo | None = None) -> EventMeta:
        """Envelope of a classic event: the asset's SAC is the contract address."""
        code = asset.code
        network_id = self.tx.network.network_id
        if code is None:
            address = native_sac_address(network_id)
        else:
            address = issued_sac_address(code, asset.issuer, network_id)
        return self.contract_meta(address, to_muxed_info)

    def contract_meta(self, contract_address: str, to_muxed_info: MuxedInfo | None = None) -> EventMeta:
        """Envelope of an event of this operation (one shared object per contract when no muxed info)."""
        if to_muxed_info is not None:
            return self._new_meta(contract_address, to_muxed_info)
        metas = self._metas
        if metas is None:
            metas = self._metas = {}
        meta = metas.get(contract_address)
        if meta is None:
            meta = metas[contract_address] = self._new_meta(contract_address, None)
        return meta

    def _new_meta(self, contract_address: str, to_muxed_info: MuxedInfo | None) -> EventMeta:
        tx = self.tx
        ledger = tx.ledger
        return EventMeta(
            ledger.ledger_sequence,
            ledger.close_time,
            tx.hash_hex,
            tx.transaction_index,
            self.index0 + 1,
            contract_address,
            to_muxed_info,
            0,
            self.operation_type,
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


def operation_context(
    tx: LedgerTransaction, index0: int, results: Sequence[Any] | None = None
) -> OperationContext:
    """The context of operation ``index0`` of ``tx`` (``results``: ``tx.operation_results``, if read)."""
    op = tx.operations[index0]
    if results is None:
        results = tx.operation_results or ()
    result = results[index0].tr if index0 < len(results) else None
    return OperationContext(tx, index0, op, result, operation_type_name(op.body.type))


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
