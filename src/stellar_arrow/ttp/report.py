"""Verification of whole ledgers (raw XDR in, typed report out): what ``stellar-arrow verify`` prints.

``mode`` ``derived`` reconciles derived events; ``unified`` reconciles core's own events where the ledger
carries them; ``both`` does both and also compares the two modes as multisets. Pure: the caller supplies
the bytes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Literal

from stellar_arrow.ledger.network import Network
from stellar_arrow.ttp.comparison import ModeDifference, compare_transaction
from stellar_arrow.ttp.processor import events_from_transaction
from stellar_arrow.ttp.transaction import ledger_transactions
from stellar_arrow.ttp.unified import has_unified_events
from stellar_arrow.ttp.verify import Mismatch, verify_transaction
from stellar_arrow.xdr.choice import ledger_decoder

__all__ = ["Decoder", "LedgerVerification", "VerifyMode", "verify_ledger_bytes", "verify_ledgers"]

VerifyMode = Literal["derived", "unified", "both"]
Decoder = str
"""A decoder name: compiled | python | sdk (``stellar_arrow.xdr.choice``)."""


@dataclass(frozen=True, slots=True)
class LedgerVerification:
    """Outcome for one ledger. ``unified_transactions`` counts txs that carried core's own events."""

    ledger_sequence: int
    protocol_version: int
    transactions: int
    events: int
    unified_transactions: int
    mismatches: tuple[Mismatch, ...]
    differences: tuple[ModeDifference, ...]

    @property
    def ok(self) -> bool:
        return not self.mismatches and not self.differences


def verify_ledger_bytes(
    lcm_bytes: bytes,
    network: Network,
    *,
    mode: VerifyMode = "derived",
    strict: bool = False,
    decoder: Decoder = "compiled",
) -> LedgerVerification:
    """Decode one ``LedgerCloseMeta`` (generated decoder, or stellar-sdk as the oracle) and verify it."""
    lcm = ledger_decoder(decoder)(lcm_bytes)
    view, txs = ledger_transactions(lcm, network)
    mismatches: list[Mismatch] = []
    differences: list[ModeDifference] = []
    events = 0
    unified_count = 0
    for tx in txs:
        derived = events_from_transaction(tx) if mode != "unified" else None
        unified = None
        if mode != "derived" and has_unified_events(tx):
            unified = events_from_transaction(tx, "unified")
        if derived is not None:
            events += len(derived.all)
            mismatches.extend(verify_transaction(derived, strict=strict))
        if unified is not None:
            unified_count += 1
            if derived is None:
                events += len(unified.all)
            mismatches.extend(verify_transaction(unified, strict=strict))
            if derived is not None:
                differences.extend(compare_transaction(derived, unified))
    return LedgerVerification(
        ledger_sequence=view.ledger_sequence,
        protocol_version=view.protocol_version,
        transactions=len(txs),
        events=events,
        unified_transactions=unified_count,
        mismatches=tuple(mismatches),
        differences=tuple(differences),
    )


def verify_ledgers(
    ledgers: Iterable[bytes],
    network: Network,
    *,
    mode: VerifyMode = "derived",
    strict: bool = False,
    decoder: Decoder = "compiled",
) -> Iterator[LedgerVerification]:
    """Verify each ledger in turn."""
    for lcm_bytes in ledgers:
        yield verify_ledger_bytes(lcm_bytes, network, mode=mode, strict=strict, decoder=decoder)
