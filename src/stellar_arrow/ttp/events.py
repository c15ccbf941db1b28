"""Typed token transfer events: one frozen class per kind, a closed union, and their shared envelope.

``Event = Transfer | Mint | Burn | Clawback | Fee``. Amounts are Python ints (exact; i128 for contract
tokens, negative for fee refunds). Addresses are strkeys (G, M, C, L, B). ``asset`` is ``None`` for custom
(non-SAC) contract tokens.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, fields
from typing import ClassVar, Final, Literal

from stellar_arrow.ledger.toid import toid
from stellar_arrow.vocabulary import EventType

__all__ = [
    "NATIVE",
    "Asset",
    "Burn",
    "Clawback",
    "Event",
    "EventMeta",
    "EventType",
    "Fee",
    "Mint",
    "MuxedInfo",
    "Transfer",
]

MuxedKind = Literal["id", "text", "hash"]


def _slot_setters(cls: type) -> tuple[Callable[[object, object], None], ...]:
    """The slot setters of a frozen dataclass's fields, in field order.

    The events are built by the hundred per ledger: a hand-written ``__init__`` storing each field through
    its slot costs about half of the generated frozen ``__init__`` (one ``object.__setattr__`` per field),
    and the instances stay frozen (assignment still raises ``FrozenInstanceError``).
    """
    return tuple(getattr(cls, f.name).__set__ for f in fields(cls))


@dataclass(frozen=True, slots=True)
class Asset:
    """A classic asset: native (``code is None``) or issued (``code`` 1-12 chars, ``issuer`` G-strkey)."""

    code: str | None = None
    issuer: str | None = None

    @classmethod
    def issued(cls, code: str, issuer: str) -> Asset:
        return cls(code, issuer)

    @property
    def is_native(self) -> bool:
        return self.code is None

    @property
    def asset_type(self) -> str:
        """``native`` / ``credit_alphanum4`` (code length <= 4) / ``credit_alphanum12``."""
        if self.code is None:
            return "native"
        return "credit_alphanum4" if len(self.code) <= 4 else "credit_alphanum12"

    @property
    def canonical(self) -> str:
        """``native`` or ``CODE:ISSUER`` (SEP-11; the key used by balance reconciliation)."""
        return "native" if self.code is None else f"{self.code}:{self.issuer}"

    @property
    def qualified(self) -> str:
        """``native`` or ``credit_alphanum4:CODE:ISSUER`` / ``credit_alphanum12:CODE:ISSUER`` (table form)."""
        return "native" if self.code is None else f"{self.asset_type}:{self.code}:{self.issuer}"

    @classmethod
    def parse(cls, text: str) -> Asset:
        """Inverse of :attr:`canonical` and :attr:`qualified`; raises ``ValueError`` on anything else."""
        if text == "native":
            return NATIVE
        parts = text.split(":")
        if len(parts) == 3 and parts[0] in ("credit_alphanum4", "credit_alphanum12"):
            parts = parts[1:]
        if len(parts) != 2 or not parts[0] or not parts[1]:
            msg = f"not an asset string: {text!r} (expected native, CODE:ISSUER or TYPE:CODE:ISSUER)"
            raise ValueError(msg)
        return cls(parts[0], parts[1])

    def __str__(self) -> str:
        return self.canonical


NATIVE: Final = Asset()


@dataclass(frozen=True, slots=True)
class MuxedInfo:
    """Destination multiplexing info: a muxed id (M address or MEMO_ID), a text memo or a hash memo.

    ``value`` is an ``int`` (uint64) for ``id`` and raw ``bytes`` for ``text`` (not necessarily UTF-8) and
    ``hash`` (32 bytes; MEMO_HASH and MEMO_RETURN are indistinguishable here, as in the reference).
    """

    kind: MuxedKind
    value: int | bytes


@dataclass(frozen=True, slots=True, init=False)
class EventMeta:
    """Where an event comes from. ``operation_index`` is 1-based and ``None`` for fee events.

    ``operation_type`` is the name of the operation that produced the event
    (:data:`stellar_arrow.vocabulary.OPERATION_TYPES`), ``None`` for fee events.
    """

    ledger_sequence: int
    closed_at: int  # unix seconds (header scpValue.closeTime)
    tx_hash: str  # lowercase hex; outer hash for fee bumps
    transaction_index: int  # 1-based, apply order
    operation_index: int | None
    contract_address: str  # C-strkey: SAC of the asset, or the emitting contract
    to_muxed_info: MuxedInfo | None = None
    event_index: int = 0  # 0-based position within the ledger, set when the ledger is assembled
    operation_type: str | None = None  # type of the producing operation (``payment``...); None for fees

    def __init__(
        self,
        ledger_sequence: int,
        closed_at: int,
        tx_hash: str,
        transaction_index: int,
        operation_index: int | None,
        contract_address: str,
        to_muxed_info: MuxedInfo | None = None,
        event_index: int = 0,
        operation_type: str | None = None,
    ) -> None:
        _m0(self, ledger_sequence)
        _m1(self, closed_at)
        _m2(self, tx_hash)
        _m3(self, transaction_index)
        _m4(self, operation_index)
        _m5(self, contract_address)
        _m6(self, to_muxed_info)
        _m7(self, event_index)
        _m8(self, operation_type)

    def at(self, event_index: int) -> EventMeta:
        """A copy placed at ``event_index`` (cheaper than ``dataclasses.replace``)."""
        return EventMeta(
            self.ledger_sequence,
            self.closed_at,
            self.tx_hash,
            self.transaction_index,
            self.operation_index,
            self.contract_address,
            self.to_muxed_info,
            event_index,
            self.operation_type,
        )

    @property
    def transaction_id(self) -> int:
        """TOID of the transaction (:func:`stellar_arrow.ledger.toid`)."""
        return toid(self.ledger_sequence, self.transaction_index)

    @property
    def operation_id(self) -> int | None:
        """TOID of the operation, ``None`` for fee events."""
        if self.operation_index is None:
            return None
        return toid(self.ledger_sequence, self.transaction_index, self.operation_index)


_m0, _m1, _m2, _m3, _m4, _m5, _m6, _m7, _m8 = _slot_setters(EventMeta)


@dataclass(frozen=True, slots=True, init=False)
class Transfer:
    """``amount`` moves from ``from_`` to ``to``."""

    event_type: ClassVar[EventType] = "transfer"
    meta: EventMeta
    from_: str
    to: str
    asset: Asset | None
    amount: int

    def __init__(self, meta: EventMeta, from_: str, to: str, asset: Asset | None, amount: int) -> None:
        _transfer0(self, meta)
        _transfer1(self, from_)
        _transfer2(self, to)
        _transfer3(self, asset)
        _transfer4(self, amount)

    def at(self, event_index: int) -> Transfer:
        return Transfer(self.meta.at(event_index), self.from_, self.to, self.asset, self.amount)


_transfer0, _transfer1, _transfer2, _transfer3, _transfer4 = _slot_setters(Transfer)


@dataclass(frozen=True, slots=True, init=False)
class Mint:
    """``amount`` is created and credited to ``to`` (issuer or admin paid it)."""

    event_type: ClassVar[EventType] = "mint"
    meta: EventMeta
    to: str
    asset: Asset | None
    amount: int

    def __init__(self, meta: EventMeta, to: str, asset: Asset | None, amount: int) -> None:
        _mint0(self, meta)
        _mint1(self, to)
        _mint2(self, asset)
        _mint3(self, amount)

    def at(self, event_index: int) -> Mint:
        return Mint(self.meta.at(event_index), self.to, self.asset, self.amount)


_mint0, _mint1, _mint2, _mint3 = _slot_setters(Mint)


@dataclass(frozen=True, slots=True, init=False)
class Burn:
    """``amount`` is debited from ``from_`` and destroyed (sent to its issuer or burnt)."""

    event_type: ClassVar[EventType] = "burn"
    meta: EventMeta
    from_: str
    asset: Asset | None
    amount: int

    def __init__(self, meta: EventMeta, from_: str, asset: Asset | None, amount: int) -> None:
        _burn0(self, meta)
        _burn1(self, from_)
        _burn2(self, asset)
        _burn3(self, amount)

    def at(self, event_index: int) -> Burn:
        return Burn(self.meta.at(event_index), self.from_, self.asset, self.amount)


_burn0, _burn1, _burn2, _burn3 = _slot_setters(Burn)


@dataclass(frozen=True, slots=True, init=False)
class Clawback:
    """``amount`` is clawed back from ``from_`` by the issuer."""

    event_type: ClassVar[EventType] = "clawback"
    meta: EventMeta
    from_: str
    asset: Asset | None
    amount: int

    def __init__(self, meta: EventMeta, from_: str, asset: Asset | None, amount: int) -> None:
        _clawback0(self, meta)
        _clawback1(self, from_)
        _clawback2(self, asset)
        _clawback3(self, amount)

    def at(self, event_index: int) -> Clawback:
        return Clawback(self.meta.at(event_index), self.from_, self.asset, self.amount)


_clawback0, _clawback1, _clawback2, _clawback3 = _slot_setters(Clawback)


@dataclass(frozen=True, slots=True, init=False)
class Fee:
    """Network fee paid by ``from_`` in XLM; a negative ``amount`` is a Soroban fee refund."""

    event_type: ClassVar[EventType] = "fee"
    meta: EventMeta
    from_: str
    amount: int

    @property
    def asset(self) -> Asset:
        return NATIVE

    def __init__(self, meta: EventMeta, from_: str, amount: int) -> None:
        _fee0(self, meta)
        _fee1(self, from_)
        _fee2(self, amount)

    def at(self, event_index: int) -> Fee:
        return Fee(self.meta.at(event_index), self.from_, self.amount)


_fee0, _fee1, _fee2 = _slot_setters(Fee)


Event = Transfer | Mint | Burn | Clawback | Fee
