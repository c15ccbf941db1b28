"""THE Arrow schema of the ``token_transfers`` table (one row per token transfer event).

The schema follows the convention of every table (:func:`stellar_arrow.schema.stamp`: metadata
``stellar_arrow.table`` / ``stellar_arrow.schema_version`` / ``stellar_arrow.ledger_column``, ``closed_at``
as ``timestamp[us, tz=UTC]``, ``ledger_sequence`` as ``uint32``); any change of a column's name, type or
meaning bumps :data:`SCHEMA_VERSION`. Column semantics follow the stellar-etl ``token_transfers_raw``
table with three deliberate differences:

* ``amount`` is an exact ``decimal128(38, 7)`` (``amount_raw`` / 10^7; null when it does not fit);
* ``to_muxed_id`` is a ``uint64`` set only for a muxed id (or an id memo), never ``0`` for text/hash
  memos; those travel in ``to_muxed_memo_type`` / ``to_muxed_memo`` (raw bytes, text need not be UTF-8);
* ``asset`` / ``asset_type`` are null (not ``""``) for custom (non-SAC) contract tokens;

and one addition: ``operation_type``, the type name of the operation that produced the event (the
``type_string`` of the ``operations`` table row with the same ledger, transaction and operation index),
null for fee events (charges and refunds), which no operation produces.
"""

from __future__ import annotations

from typing import Final

import pyarrow as pa

from stellar_arrow.schema import CLOSED_AT_TYPE, LEDGER_SEQUENCE_TYPE, stamp
from stellar_arrow.vocabulary import EVENT_TYPES, TableName

__all__ = ["AMOUNT_TYPE", "SCHEMA_VERSION", "TOKEN_TRANSFERS_SCHEMA", "TOKEN_TRANSFERS_TABLE"]

TOKEN_TRANSFERS_TABLE: Final[TableName] = "token_transfers"

#: Version 3: ``operation_type`` (version 2: the common stamp and ``closed_at`` in microseconds; version 1:
#: ``schema_version``/``table`` keys, ``timestamp[s]``).
SCHEMA_VERSION: Final = 3
AMOUNT_TYPE: Final = pa.decimal128(38, 7)

_FIELDS: Final = [
    pa.field("ledger_sequence", LEDGER_SEQUENCE_TYPE, nullable=False),
    pa.field("closed_at", CLOSED_AT_TYPE, nullable=False),
    pa.field("transaction_hash", pa.string(), nullable=False),
    pa.field("transaction_index", pa.uint32(), nullable=False),
    pa.field("operation_index", pa.uint32()),
    pa.field("event_index", pa.uint32(), nullable=False),
    pa.field("event_type", pa.string(), nullable=False),
    pa.field("from", pa.string()),
    pa.field("to", pa.string()),
    pa.field("asset", pa.string()),
    pa.field("asset_type", pa.string()),
    pa.field("asset_code", pa.string()),
    pa.field("asset_issuer", pa.string()),
    pa.field("amount_raw", pa.string(), nullable=False),
    pa.field("amount", AMOUNT_TYPE),
    pa.field("contract_id", pa.string(), nullable=False),
    pa.field("to_muxed", pa.string()),
    pa.field("to_muxed_id", pa.uint64()),
    pa.field("to_muxed_memo_type", pa.string()),
    pa.field("to_muxed_memo", pa.binary()),
    pa.field("transaction_id", pa.int64(), nullable=False),
    pa.field("operation_id", pa.int64()),
    pa.field("operation_type", pa.string()),
]

_DESCRIPTIONS: Final = {
    "ledger_sequence": "ledger sequence number (LedgerHeader.ledgerSeq)",
    "closed_at": "ledger close time (scpValue.closeTime)",
    "transaction_hash": "lowercase hex tx hash; the outer hash for fee bumps",
    "transaction_index": "1-based position of the tx in apply order (txProcessing)",
    "operation_index": "1-based operation index; null for fee events",
    "event_index": "0-based position of the event within its ledger (derived-mode order)",
    "event_type": " | ".join(EVENT_TYPES),
    "from": "strkey (G, M, C, L or B) losing the amount; null for mint",
    "to": "strkey gaining the amount; null for burn, clawback and fee",
    "asset": "native | credit_alphanum4:CODE:ISSUER | credit_alphanum12:CODE:ISSUER; null for custom tokens",
    "asset_type": "native | credit_alphanum4 | credit_alphanum12; null for custom tokens",
    "asset_code": "asset code of issued assets (trailing NULs stripped)",
    "asset_issuer": "G-strkey of the issuer of issued assets",
    "amount_raw": "exact amount in the smallest unit, decimal integer string (negative for fee refunds)",
    "amount": "amount_raw / 10^7 exactly; null when it does not fit decimal128(38, 7)",
    "contract_id": "C-strkey: SAC of the asset for classic events, emitting contract for contract events",
    "to_muxed": "M-strkey of the destination when the destination carries a muxed id (or an id memo)",
    "to_muxed_id": "muxed id of the destination (muxed account or MEMO_ID)",
    "to_muxed_memo_type": "id | text | hash: kind of the destination's muxed info",
    "to_muxed_memo": "raw bytes of a text memo (may be non-UTF-8) or of a hash/return memo",
    "transaction_id": "TOID of the transaction: ledger<<32 | transaction_index<<12",
    "operation_id": "TOID of the operation: transaction_id | operation_index; null for fee events",
    "operation_type": "type of the operation that produced the event (payment, ...); null for fee events",
}

TOKEN_TRANSFERS_SCHEMA: Final = stamp(
    pa.schema([f.with_metadata({"description": _DESCRIPTIONS[f.name]}) for f in _FIELDS]),
    TOKEN_TRANSFERS_TABLE,
    SCHEMA_VERSION,
)
