"""Real ledgers from the corpus, and real ledgers altered in one precise place (for the failure tests)."""

from __future__ import annotations

import hashlib
from functools import cache

from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.xdr import decode_ledger_close_meta
from tests.conftest import CORPUS

P26_FIRST, P26_LAST = 63092982, 63093001


@cache
def p26(sequence: int) -> bytes:
    """Raw LCM of one of the 20 consecutive protocol-26 pubnet ledgers."""
    (raw,) = read_ledger_file(CORPUS / f"pubnet-{sequence:010d}.xdr.gz")
    return raw


@cache
def lcm_of_testnet(sequence: int) -> bytes:
    (path,) = CORPUS.glob(f"testnet-{sequence:010d}.*")
    (raw,) = read_ledger_file(path)
    return raw


def relinked(raw: bytes, previous_ledger_hash: bytes) -> bytes:
    """``raw`` with another ``previousLedgerHash`` in its header, and its own hash recomputed to match.

    The result is self-consistent (hash = SHA-256 of the header) but no longer links to its predecessor.
    """
    lcm = decode_ledger_close_meta(raw)
    entry = lcm.value.ledger_header
    old_header = entry.header.xdr
    new_header = old_header.replace(entry.header.previous_ledger_hash, previous_ledger_hash, 1)
    start = raw.index(old_header)
    out = raw[:start] + new_header + raw[start + len(old_header) :]
    hash_at = raw.index(entry.hash)
    assert hash_at < start
    new_hash = hashlib.sha256(new_header).digest()
    return out[:hash_at] + new_hash + out[hash_at + 32 :]


def with_fee_charged_changed(raw: bytes) -> bytes:
    """``raw`` with the first transaction result's ``feeCharged`` changed (header left as it was)."""
    lcm = decode_ledger_close_meta(raw)
    pair = lcm.value.tx_processing[0].result
    at = raw.index(pair.xdr) + 32 + 7  # hash, then the last byte of the int64 feeCharged
    return raw[:at] + bytes([raw[at] ^ 1]) + raw[at + 1 :]
