"""Strkey addresses (SEP-23) of decoded XDR values: G, M, C, L and B.

A strkey is base32 (RFC 4648 alphabet, no padding) of a version byte, the payload and the CRC16-XModem
checksum of both, little-endian. Encoding runs in the compiled ``_strkey`` extension when it is built
and in :func:`encode_python` otherwise (the reference; the tests hold both to stellar-sdk). Decoding is
strict: the exact length of the kind, upper-case base32 digits only, no ``=`` padding, unused trailing
bits zero, the kind's version byte and a matching checksum; anything else is a ``ValueError``. Every
string this module accepts, stellar-sdk accepts with the same payload (stellar-sdk also accepts
trailing ``=`` padding, which SEP-23 strkeys never carry). Results are memoised: the same few thousand
keys recur in every ledger. Standard library only, so that importing it costs no third-party import.
Pure.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

from stellar_arrow.xdr import model as X

__all__ = [
    "MAX_PAYLOAD",
    "VERSION_ACCOUNT",
    "VERSION_CLAIMABLE_BALANCE",
    "VERSION_CONTRACT",
    "VERSION_LIQUIDITY_POOL",
    "VERSION_MUXED_ACCOUNT",
    "account_strkey",
    "claimable_balance_strkey",
    "contract_strkey",
    "decode_python",
    "decode_strkey",
    "encode_python",
    "liquidity_pool_strkey",
    "muxed_strkey",
    "sc_address_strkey",
]

# Version bytes: the kind's letter index in the base32 alphabet, shifted left by 3 (G = 6 -> 0x30).
VERSION_ACCOUNT: Final = 6 << 3
VERSION_MUXED_ACCOUNT: Final = 12 << 3
VERSION_CONTRACT: Final = 2 << 3
VERSION_LIQUIDITY_POOL: Final = 11 << 3
VERSION_CLAIMABLE_BALANCE: Final = 1 << 3

#: The longest payload :func:`encode_python` takes (the compiled encoder's buffer has the same bound).
MAX_PAYLOAD: Final = 64

# prefix -> (version byte, payload bytes): an M payload is the key and the id, a B payload a type byte
# and the hash.
_KINDS: Final[dict[str, tuple[int, int]]] = {
    "G": (VERSION_ACCOUNT, 32),
    "M": (VERSION_MUXED_ACCOUNT, 40),
    "C": (VERSION_CONTRACT, 32),
    "L": (VERSION_LIQUIDITY_POOL, 32),
    "B": (VERSION_CLAIMABLE_BALANCE, 33),
}
_BASE32: Final = re.compile("[A-Z2-7]+")


def _checksum(data: bytes) -> bytes:
    """CRC16-XModem (polynomial 0x1021, initial 0) of ``data``, low byte first."""
    return binascii.crc_hqx(data, 0).to_bytes(2, "little")


def encode_python(version: int, payload: bytes) -> str:
    """Strkey of ``payload`` under ``version`` (at most :data:`MAX_PAYLOAD` bytes). Pure Python."""
    if not 0 <= version <= 255:
        msg = f"strkey version byte {version} out of range"
        raise ValueError(msg)
    if len(payload) > MAX_PAYLOAD:
        msg = f"strkey payload of {len(payload)} bytes (at most {MAX_PAYLOAD})"
        raise ValueError(msg)
    data = bytes((version,)) + payload
    return base64.b32encode(data + _checksum(data)).decode("ascii").rstrip("=")


def _load_encoder() -> Callable[[int, bytes], str]:
    """The compiled encoder when its extension is built, else :func:`encode_python` (the same text)."""
    try:
        from stellar_arrow.xdr._strkey import encode
    except ImportError:
        return encode_python
    return encode  # type: ignore[no-any-return]


_encode: Final = _load_encoder()


def _text_length(payload_size: int) -> int:
    """Characters of a strkey of ``payload_size`` bytes: version, payload and checksum, 5 bits each."""
    return ((payload_size + 3) * 8 + 4) // 5


def decode_python(strkey: str) -> tuple[str, bytes]:
    """``(prefix, payload)`` of a G/M/C/L/B strkey; ``ValueError`` naming what is wrong with it."""
    if not isinstance(strkey, str):
        msg = f"a strkey is a string, not {type(strkey).__name__}"
        raise ValueError(msg)  # one error type for every unusable input
    prefix = strkey[:1]
    kind = _KINDS.get(prefix)
    if kind is None:
        msg = f"unsupported strkey prefix in {strkey[:80]!r}"
        raise ValueError(msg)
    version, size = kind
    length = _text_length(size)
    if len(strkey) != length:
        msg = f"a {prefix} strkey has {length} characters, not {len(strkey)}"
        raise ValueError(msg)
    if _BASE32.fullmatch(strkey) is None:
        msg = f"{strkey!r} has characters outside the base32 alphabet A-Z 2-7"
        raise ValueError(msg)
    text = strkey.encode("ascii")
    padded = text + b"=" * (-length % 8)
    data = base64.b32decode(padded)  # cannot fail: alphabet and length are checked
    if base64.b32encode(data) != padded:
        msg = f"{strkey!r} is not canonical base32 (its unused last bits are not zero)"
        raise ValueError(msg)
    if data[0] != version:
        msg = f"{strkey!r} has version byte {data[0]:#04x}, not {version:#04x}"
        raise ValueError(msg)
    if _checksum(data[:-2]) != data[-2:]:
        msg = f"{strkey!r} has a wrong checksum"
        raise ValueError(msg)
    return prefix, data[1:-2]


@lru_cache(maxsize=1 << 16)
def account_strkey(ed25519: bytes) -> str:
    """G-address of an ed25519 public key."""
    return _encode(VERSION_ACCOUNT, ed25519)


@lru_cache(maxsize=1 << 14)
def muxed_strkey(ed25519: bytes, muxed_id: int) -> str:
    """M-address of an ed25519 key and a uint64 id (id big-endian after the key)."""
    return _encode(VERSION_MUXED_ACCOUNT, ed25519 + muxed_id.to_bytes(8, "big"))


@lru_cache(maxsize=1 << 14)
def contract_strkey(contract_id: bytes) -> str:
    """C-address of a 32-byte contract id."""
    return _encode(VERSION_CONTRACT, contract_id)


@lru_cache(maxsize=1 << 14)
def liquidity_pool_strkey(pool_id: bytes) -> str:
    """L-address of a 32-byte liquidity pool id."""
    return _encode(VERSION_LIQUIDITY_POOL, pool_id)


@lru_cache(maxsize=1 << 14)
def claimable_balance_strkey(balance_hash: bytes) -> str:
    """B-address of a V0 claimable balance id: the payload is the type byte 0x00 followed by the hash."""
    return _encode(VERSION_CLAIMABLE_BALANCE, b"\x00" + balance_hash)


@lru_cache(maxsize=1 << 12)
def decode_strkey(strkey: str) -> tuple[str, bytes]:
    """``(prefix, payload)`` of a G/M/C/L/B strkey; ``ValueError`` on a bad prefix, checksum or length.

    Only the canonical text of a payload decodes, so ``decode`` then encode gives back ``strkey``.
    """
    return decode_python(strkey)


def sc_address_strkey(address: Any) -> str:
    """Strkey of an ``SCAddress``: G, C, M, B or L."""
    kind = address.type
    if kind == X.SCAddressType.SC_ADDRESS_TYPE_ACCOUNT:
        return account_strkey(address.account_id.ed25519)
    if kind == X.SCAddressType.SC_ADDRESS_TYPE_CONTRACT:
        return contract_strkey(address.contract_id)
    if kind == X.SCAddressType.SC_ADDRESS_TYPE_MUXED_ACCOUNT:
        muxed = address.muxed_account
        return muxed_strkey(muxed.ed25519, muxed.id)
    if kind == X.SCAddressType.SC_ADDRESS_TYPE_CLAIMABLE_BALANCE:
        return claimable_balance_strkey(address.claimable_balance_id.v0)
    return liquidity_pool_strkey(address.liquidity_pool_id)
