"""Type aliases shared by every stage."""

from __future__ import annotations

from typing import Literal, NewType

__all__ = ["LedgerSequence", "NetworkName", "Stroops", "TableName"]

LedgerSequence = NewType("LedgerSequence", int)
Stroops = NewType("Stroops", int)
NetworkName = Literal["pubnet", "testnet", "futurenet", "standalone"]
TableName = Literal["ledgers", "transactions", "operations", "token_transfers"]
