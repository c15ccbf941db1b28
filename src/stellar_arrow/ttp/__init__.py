"""Token transfer events (CAP-67 / SEP-41): typed values, THE Arrow schema, derivation and verification.

Pure: nothing in this package touches files, the network, the clock or the environment.

>>> from stellar_arrow.ttp import events_from_ledger, token_transfers_batch, verify_ledger
"""

from __future__ import annotations

from stellar_arrow.ttp.comparison import ModeDifference, compare_modes
from stellar_arrow.ttp.events import (
    NATIVE,
    Asset,
    Burn,
    Clawback,
    Event,
    EventMeta,
    EventType,
    Fee,
    Mint,
    MuxedInfo,
    Transfer,
)
from stellar_arrow.ttp.processor import (
    Mode,
    TransactionEvents,
    events_from_ledger,
    events_from_transaction,
    token_transfers_batch,
    transaction_events,
)
from stellar_arrow.ttp.report import LedgerVerification, verify_ledger_bytes, verify_ledgers
from stellar_arrow.ttp.schema import SCHEMA_VERSION, TOKEN_TRANSFERS_SCHEMA
from stellar_arrow.ttp.table import events_from_batch, events_to_batch
from stellar_arrow.ttp.transaction import LedgerTransaction, ledger_transactions
from stellar_arrow.ttp.verify import Mismatch, check_ledger, verify_ledger, verify_transaction

__all__ = [
    "NATIVE",
    "SCHEMA_VERSION",
    "TOKEN_TRANSFERS_SCHEMA",
    "Asset",
    "Burn",
    "Clawback",
    "Event",
    "EventMeta",
    "EventType",
    "Fee",
    "LedgerTransaction",
    "LedgerVerification",
    "Mint",
    "Mismatch",
    "Mode",
    "ModeDifference",
    "MuxedInfo",
    "TransactionEvents",
    "Transfer",
    "check_ledger",
    "compare_modes",
    "events_from_batch",
    "events_from_ledger",
    "events_from_transaction",
    "events_to_batch",
    "ledger_transactions",
    "token_transfers_batch",
    "transaction_events",
    "verify_ledger",
    "verify_ledger_bytes",
    "verify_ledgers",
    "verify_transaction",
]
