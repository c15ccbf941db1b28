"""TOID: the int64 ids of Hubble/Horizon rows (stellar/go ``toid``).

``ledger_sequence`` (32 bits) | ``transaction_index`` (20 bits, 1-based apply order) |
``operation_index`` (12 bits, 1-based). A ledger's id is ``toid(seq)``, a transaction's
``toid(seq, tx)``, an operation's ``toid(seq, tx, op)``. Pure.
"""

from __future__ import annotations

from typing import Final

__all__ = ["TOID_MAX_OPERATION_INDEX", "TOID_MAX_TRANSACTION_INDEX", "parse_toid", "toid"]

TOID_MAX_TRANSACTION_INDEX: Final = (1 << 20) - 1
TOID_MAX_OPERATION_INDEX: Final = (1 << 12) - 1
_MAX_LEDGER: Final = (1 << 31) - 1  # the id is a signed int64


def toid(ledger_sequence: int, transaction_index: int = 0, operation_index: int = 0) -> int:
    """Pack a TOID; ``ValueError`` when a part does not fit its bits."""
    if not 0 <= ledger_sequence <= _MAX_LEDGER:
        msg = f"TOID ledger sequence {ledger_sequence} out of range 0..{_MAX_LEDGER}"
        raise ValueError(msg)
    if not 0 <= transaction_index <= TOID_MAX_TRANSACTION_INDEX:
        msg = f"TOID transaction index {transaction_index} of ledger {ledger_sequence} out of range"
        raise ValueError(msg)
    if not 0 <= operation_index <= TOID_MAX_OPERATION_INDEX:
        msg = f"TOID operation index {operation_index} of ledger {ledger_sequence} out of range"
        raise ValueError(msg)
    return (ledger_sequence << 32) | (transaction_index << 12) | operation_index


def parse_toid(value: int) -> tuple[int, int, int]:
    """``(ledger_sequence, transaction_index, operation_index)`` of a TOID."""
    return value >> 32, (value >> 12) & TOID_MAX_TRANSACTION_INDEX, value & TOID_MAX_OPERATION_INDEX
