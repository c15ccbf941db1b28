"""What the generator decides per type: which values keep their bytes, are shared, are called.

These constants steer both decoders generated from the schema (the pure-Python ``_decoders.py``
and the compiled ``_compiled.pyx``); docs/decode.md ("How it is fast") gives their measured gains.
"""

from __future__ import annotations

__all__ = [
    "CALLED_TYPES",
    "COMPILED_SHARED_STRUCTS",
    "DISPATCH_MIN_ARMS",
    "HOT_ARMS",
    "INLINE_MAX_ARMS",
    "INTERNED_UNIONS",
    "INTERN_MAX",
    "INTERN_MAX_BYTES",
    "LAZY_FIELDS",
    "RAW_TYPES",
    "SCALAR_FMT",
    "SCALAR_SIZE",
]

RAW_TYPES = frozenset(
    {
        "LedgerHeader",
        "LedgerHeaderHistoryEntry",
        "GeneralizedTransactionSet",
        "TransactionEnvelope",
        "Transaction",
        "TransactionV0",
        "FeeBumpTransaction",
        "TransactionResult",
        "TransactionResultPair",
        "TransactionMeta",
    }
)
"""Types whose decoded values also carry their exact XDR bytes as the attribute ``xdr``."""

INTERNED_UNIONS = frozenset(
    {
        "PublicKey",
        "MuxedAccount",
        "SignerKey",
        "Asset",
        "TrustLineAsset",
        "ChangeTrustAsset",
        "SCAddress",
        "SCVal",
        "AccountEntryExtensionV2Ext",
    }
)
"""Unions whose values repeat within a ledger (measured on the 20 protocol-26 pubnet ledgers: 80–96% of
the ``PublicKey``, ``Asset``, ``SignerKey`` values and of ``SCVal`` symbols are repeats). Their arms
whose value is a scalar or bytes, or has a fixed size and holds no list, return a shared value from
a bounded per-arm table instead of building a new one (see ``_Interned`` in the generated module)."""

CALLED_TYPES = frozenset(
    {"LedgerEntryChange", "ContractEvent", "DiagnosticEvent", "TransactionEvent", "SCPHistoryEntry"}
)
"""Types always decoded by calling ``d_<Type>``, never in place, so that a decoding profile
(``xdr/profile.py``) can swap that function for a skipper."""

HOT_ARMS = {"SCVal": ("SCV_SYMBOL", "SCV_ADDRESS", "SCV_I128")}
"""Arms tested first, before the balanced if-tree, in big unions where a few arms dominate (measured
on the 20 protocol-26 pubnet ledgers: of 6,000 ``SCVal`` values per ledger, 35% are symbols, 22%
addresses, 14% i128)."""

COMPILED_SHARED_STRUCTS = frozenset({"Liabilities", "Price"})
"""Fixed-size structs that the compiled decoder also shares by their wire bytes (measured on ledger
63092982: 2,651 ``Liabilities`` with 500 distinct values, 809 ``Price``s with 323); in the pure-Python
decoder the lookup cost what it saved (docs/decode.md)."""

INTERN_MAX = 4096
INTERN_MAX_BYTES = 64
DISPATCH_MIN_ARMS = 5
INLINE_MAX_ARMS = 4
SCALAR_FMT = {"int": "i", "unsigned_int": "I", "hyper": "q", "unsigned_hyper": "Q", "bool": "I"}
SCALAR_SIZE = {"i": 4, "I": 4, "q": 8, "Q": 8}

LAZY_FIELDS: dict[str, tuple[str, ...]] = {
    "TransactionResultMeta": ("fee_processing",),
    "TransactionResultMetaV1": ("fee_processing", "post_tx_apply_fee_processing"),
    "TransactionMetaV1": ("tx_changes",),
    "TransactionMetaV2": ("tx_changes_before", "tx_changes_after"),
    "TransactionMetaV3": ("tx_changes_before", "tx_changes_after"),
    "TransactionMetaV4": ("tx_changes_before", "tx_changes_after", "events", "diagnostic_events"),
    "SorobanTransactionMeta": ("diagnostic_events",),
    "OperationMeta": ("changes",),
    "OperationMetaV2": ("changes", "events"),
}
"""Struct fields the compiled decoder validates completely at decode time but builds only when first
read (docs/decode.md, "Lazy parts"): the ledger-entry changes and events of transaction and operation
metas, which the tables and the token-transfer derivation read for a few transactions only (measured
on the 20 protocol-26 pubnet ledgers: changes are 60% of a decoded ledger's objects)."""
