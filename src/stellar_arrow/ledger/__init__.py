"""Pure views over decoded ledgers: header facts, transactions in apply order, hashes, TOIDs, validation."""

from __future__ import annotations

from stellar_arrow.ledger.hashes import (
    inner_transaction_hash,
    ledger_header_hash,
    legacy_tx_set_hash,
    transaction_hash,
    tx_set_result_hash,
)
from stellar_arrow.ledger.network import (
    NETWORK_PASSPHRASES,
    PUBNET,
    TESTNET,
    Network,
    require_network,
    resolve_network,
)
from stellar_arrow.ledger.toid import parse_toid, toid
from stellar_arrow.ledger.validation import ChainLink, ChainValidator, check_ledger_hashes
from stellar_arrow.ledger.view import (
    LedgerTransaction,
    LedgerView,
    detect_network,
    ledger_view,
    muxed_key,
    pair_transactions,
)

__all__ = [
    "NETWORK_PASSPHRASES",
    "PUBNET",
    "TESTNET",
    "ChainLink",
    "ChainValidator",
    "LedgerTransaction",
    "LedgerView",
    "Network",
    "check_ledger_hashes",
    "detect_network",
    "inner_transaction_hash",
    "ledger_header_hash",
    "ledger_view",
    "legacy_tx_set_hash",
    "muxed_key",
    "pair_transactions",
    "parse_toid",
    "require_network",
    "resolve_network",
    "toid",
    "transaction_hash",
    "tx_set_result_hash",
]
