"""Strkey encoding of the holders a token event can name (SEP-23): G, M, C, L and B addresses.

``base32(version_byte || payload || crc16-xmodem(version_byte || payload) little-endian)`` without padding.
Encoders are memoised: the same few thousand keys recur in every ledger.
"""

from __future__ import annotations

import base64
import binascii
from functools import lru_cache
from typing import Final

__all__ = [
    "account_strkey",
    "claimable_balance_strkey",
    "contract_strkey",
    "decode_strkey",
    "liquidity_pool_strkey",
    "muxed_strkey",
]

_VERSION: Final = {"G": 6 << 3, "M": 12 << 3, "C": 2 << 3, "L": 11 << 3, "B": 1 << 3}
_PAYLOAD_SIZE: Final = {"G": 32, "M": 40, "C": 32, "L": 32, "B": 33}


def _encode(prefix: str, payload: bytes) -> str:
    if len(payload) != _PAYLOAD_SIZE[prefix]:
        msg = f"{prefix}-strkey payload must be {_PAYLOAD_SIZE[prefix]} bytes, got {len(payload)}"
        raise ValueError(msg)
    body = bytes([_VERSION[prefix]]) + payload
    crc = binascii.crc_hqx(body, 0)
    return base64.b32encode(body + crc.to_bytes(2, "little")).decode("ascii").rstrip("=")


@lru_cache(maxsize=1 << 16)
def account_strkey(ed25519: bytes) -> str:
    """G-address of an ed25519 public key."""
    return _encode("G", ed25519)


@lru_cache(maxsize=1 << 14)
def muxed_strkey(ed25519: bytes, muxed_id: int) -> str:
    """M-address of an ed25519 key and a uint64 id (id big-endian after the key)."""
    return _encode("M", ed25519 + muxed_id.to_bytes(8, "big"))


@lru_cache(maxsize=1 << 14)
def contract_strkey(contract_id: bytes) -> str:
    """C-address of a 32-byte contract id."""
    return _encode("C", contract_id)


@lru_cache(maxsize=1 << 14)
def liquidity_pool_strkey(pool_id: bytes) -> str:
    """L-address of a 32-byte liquidity pool id."""
    return _encode("L", pool_id)


@lru_cache(maxsize=1 << 14)
def claimable_balance_strkey(balance_hash: bytes) -> str:
    """B-address of a V0 claimable balance id: the payload is the type byte 0x00 followed by the hash."""
    return _encode("B", b"\x00" + balance_hash)


def decode_strkey(strkey: str) -> tuple[str, bytes]:
    """``(prefix, payload)`` of a G/M/C/L/B strkey; ``ValueError`` on a bad checksum or length."""
    prefix = strkey[:1]
    if prefix not in _VERSION:
        msg = f"unsupported strkey prefix in {strkey!r}"
        raise ValueError(msg)
    padded = strkey + "=" * (-len(strkey) % 8)
    try:
        raw = base64.b32decode(padded)
    except binascii.Error as exc:
        msg = f"strkey {strkey!r} is not base32"
        raise ValueError(msg) from exc
    body, crc = raw[:-2], raw[-2:]
    if body[:1] != bytes([_VERSION[prefix]]) or binascii.crc_hqx(body, 0).to_bytes(2, "little") != crc:
        msg = f"strkey {strkey!r} has a bad version byte or checksum"
        raise ValueError(msg)
    payload = body[1:]
    if len(payload) != _PAYLOAD_SIZE[prefix]:
        msg = f"strkey {strkey!r} has a {len(payload)}-byte payload, expected {_PAYLOAD_SIZE[prefix]}"
        raise ValueError(msg)
    return prefix, payload
