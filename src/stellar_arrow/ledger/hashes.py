"""Hashes recomputed from the exact XDR bytes the decoder kept (``.xdr``), never re-encoded.

* transaction hash = SHA-256(network_id ‖ envelope type ‖ tx) where the tagged transaction is the
  ``Transaction`` (``ENVELOPE_TYPE_TX``) or ``FeeBumpTransaction`` (``ENVELOPE_TYPE_TX_FEE_BUMP``);
  a V0 envelope hashes as ``ENVELOPE_TYPE_TX`` with its ``TransactionV0`` bytes prefixed by the
  4-byte ``KEY_TYPE_ED25519`` discriminant, which is exactly the V1 encoding of the same transaction;
* ledger hash = SHA-256(``LedgerHeader``);
* ``txSetResultHash`` = SHA-256(``TransactionResultSet``) = SHA-256(count ‖ result pairs);
* ``txSetHash`` = SHA-256(``GeneralizedTransactionSet``) for LCM V1/V2, and for a legacy
  ``TransactionSet`` SHA-256(previous ledger hash ‖ envelopes).

Pure functions.
"""

from __future__ import annotations

import hashlib
import struct
from collections.abc import Sequence

from stellar_arrow.xdr import model as X

__all__ = [
    "inner_transaction_hash",
    "ledger_header_hash",
    "legacy_tx_set_hash",
    "transaction_hash",
    "tx_set_result_hash",
]

_ENVELOPE_TYPE_TX = struct.pack(">I", X.EnvelopeType.ENVELOPE_TYPE_TX)
_ENVELOPE_TYPE_TX_FEE_BUMP = struct.pack(">I", X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP)
_KEY_TYPE_ED25519 = struct.pack(">I", X.PublicKeyType.PUBLIC_KEY_TYPE_ED25519)
_U32 = struct.Struct(">I")


def transaction_hash(envelope: X.TransactionEnvelope, network_id: bytes) -> bytes:
    """The 32-byte hash of an envelope's transaction (V0, V1 or fee-bump) under ``network_id``."""
    kind = envelope.type
    if kind == X.EnvelopeType.ENVELOPE_TYPE_TX:
        return hashlib.sha256(network_id + _ENVELOPE_TYPE_TX + envelope.value.tx.xdr).digest()
    if kind == X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP:
        return hashlib.sha256(network_id + _ENVELOPE_TYPE_TX_FEE_BUMP + envelope.value.tx.xdr).digest()
    return hashlib.sha256(network_id + _ENVELOPE_TYPE_TX + _KEY_TYPE_ED25519 + envelope.value.tx.xdr).digest()


def inner_transaction_hash(envelope: X.TransactionEnvelope, network_id: bytes) -> bytes | None:
    """The hash of a fee-bump envelope's inner transaction; None for other envelopes."""
    if envelope.type != X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP:
        return None
    inner = envelope.value.tx.inner_tx.value.tx
    return hashlib.sha256(network_id + _ENVELOPE_TYPE_TX + inner.xdr).digest()


def ledger_header_hash(header: X.LedgerHeader) -> bytes:
    """SHA-256 of the header's XDR: the ledger hash."""
    return hashlib.sha256(header.xdr).digest()


def tx_set_result_hash(result_pairs: Sequence[X.TransactionResultPair]) -> bytes:
    """SHA-256 of the ``TransactionResultSet`` made of ``result_pairs`` (in apply order)."""
    digest = hashlib.sha256(_U32.pack(len(result_pairs)))
    for pair in result_pairs:
        digest.update(pair.xdr)
    return digest.digest()


def legacy_tx_set_hash(tx_set: X.TransactionSet) -> bytes:
    """The contents hash of a legacy (pre-protocol-20) ``TransactionSet``."""
    digest = hashlib.sha256(tx_set.previous_ledger_hash)
    for envelope in tx_set.txs:
        digest.update(envelope.xdr)
    return digest.digest()
