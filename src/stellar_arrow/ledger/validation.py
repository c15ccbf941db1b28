"""Consistency checks over decoded ledgers, each failure a typed error naming the ledger.

* :func:`check_ledger_hashes`: the ledger's own hash (``LedgerHeaderHistoryEntry.hash``) is
  SHA-256 of its header, ``txSetResultHash`` is SHA-256 of the ``TransactionResultSet``, and
  ``txSetHash`` is the tx set's contents hash;
* :class:`ChainValidator`: consecutive ledgers (no gap, nothing out of order) whose
  ``previous_ledger_hash`` is the hash of the ledger before.

The network check lives in :func:`stellar_arrow.ledger.view.pair_transactions`. Pure.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

from stellar_arrow.errors import HashChainError, LedgerGapError, LedgerHashMismatchError
from stellar_arrow.ledger.hashes import ledger_header_hash, legacy_tx_set_hash, tx_set_result_hash
from stellar_arrow.ledger.view import LedgerView

__all__ = ["ChainLink", "ChainValidator", "check_ledger_hashes"]


def check_ledger_hashes(view: LedgerView) -> None:
    """Raise :class:`LedgerHashMismatchError` if a hash in the header disagrees with the ledger's content."""
    seq = view.ledger_sequence
    header = view.header
    computed = ledger_header_hash(header)
    if computed != view.ledger_hash:
        msg = (
            f"ledger {seq}: LedgerHeaderHistoryEntry.hash {view.ledger_hash.hex()} is not SHA-256 of its "
            f"header ({computed.hex()})"
        )
        raise LedgerHashMismatchError(msg, ledger_sequence=seq)
    results = tx_set_result_hash(view.result_pairs)
    if results != bytes(header.tx_set_result_hash):
        msg = (
            f"ledger {seq}: header txSetResultHash {bytes(header.tx_set_result_hash).hex()} != SHA-256 of "
            f"the {len(view.processing)} transaction results ({results.hex()})"
        )
        raise LedgerHashMismatchError(msg, ledger_sequence=seq)
    tx_set = view.tx_set
    if view.meta_version == 0:
        tx_set_hash = legacy_tx_set_hash(tx_set)
    else:
        tx_set_hash = hashlib.sha256(tx_set.xdr).digest()
    declared = bytes(header.scp_value.tx_set_hash)
    if tx_set_hash != declared:
        msg = f"ledger {seq}: header txSetHash {declared.hex()} != hash of the tx set ({tx_set_hash.hex()})"
        raise LedgerHashMismatchError(msg, ledger_sequence=seq)


@dataclass(frozen=True, slots=True)
class ChainLink:
    """What the chain check needs from one ledger."""

    ledger_sequence: int
    ledger_hash: bytes
    previous_ledger_hash: bytes


class ChainValidator:
    """Checks that ledgers arrive consecutively and each links to the one before by hash."""

    __slots__ = ("_last",)

    def __init__(self, anchor: ChainLink | None = None) -> None:
        self._last = anchor

    @property
    def last(self) -> ChainLink | None:
        return self._last

    def check(self, link: ChainLink) -> None:
        """Accept ``link`` as the next ledger or raise :class:`LedgerGapError` / :class:`HashChainError`."""
        last = self._last
        if last is not None:
            expected = last.ledger_sequence + 1
            if link.ledger_sequence != expected:
                if link.ledger_sequence > expected:
                    missing = f"ledgers {expected}-{link.ledger_sequence - 1} are missing"
                else:
                    missing = "out of order"
                msg = (
                    f"ledger {link.ledger_sequence} follows ledger {last.ledger_sequence} "
                    f"(expected {expected}): {missing}"
                )
                raise LedgerGapError(msg, ledger_sequence=link.ledger_sequence)
            if link.previous_ledger_hash != last.ledger_hash:
                msg = (
                    f"ledger {link.ledger_sequence}: previous_ledger_hash {link.previous_ledger_hash.hex()} "
                    f"!= hash of ledger {last.ledger_sequence} ({last.ledger_hash.hex()})"
                )
                raise HashChainError(msg, ledger_sequence=link.ledger_sequence)
        self._last = link
