"""Strkey addresses (SEP-23) of decoded XDR values: G, M, C, L and B.

Encoding and decoding are stellar-sdk's (``stellar_sdk.StrKey``); this module only memoises them
(the same few thousand keys recur in every ledger) and maps model values to them. Pure.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache
from typing import Any, Final

from stellar_sdk import StrKey

from stellar_arrow.xdr import model as X

__all__ = [
    "account_strkey",
    "claimable_balance_strkey",
    "contract_strkey",
    "decode_strkey",
    "liquidity_pool_strkey",
    "muxed_strkey",
    "sc_address_strkey",
]


@lru_cache(maxsize=1 << 16)
def account_strkey(ed25519: bytes) -> str:
    """G-address of an ed25519 public key."""
    return StrKey.encode_ed25519_public_key(ed25519)


@lru_cache(maxsize=1 << 14)
def muxed_strkey(ed25519: bytes, muxed_id: int) -> str:
    """M-address of an ed25519 key and a uint64 id (id big-endian after the key)."""
    return StrKey.encode_med25519_public_key(ed25519 + muxed_id.to_bytes(8, "big"))


@lru_cache(maxsize=1 << 14)
def contract_strkey(contract_id: bytes) -> str:
    """C-address of a 32-byte contract id."""
    return StrKey.encode_contract(contract_id)


@lru_cache(maxsize=1 << 14)
def liquidity_pool_strkey(pool_id: bytes) -> str:
    """L-address of a 32-byte liquidity pool id."""
    return StrKey.encode_liquidity_pool(pool_id)


@lru_cache(maxsize=1 << 14)
def claimable_balance_strkey(balance_hash: bytes) -> str:
    """B-address of a V0 claimable balance id: the payload is the type byte 0x00 followed by the hash."""
    return StrKey.encode_claimable_balance(b"\x00" + balance_hash)


_DECODERS: Final[dict[str, Callable[[str], bytes]]] = {
    "G": StrKey.decode_ed25519_public_key,
    "M": StrKey.decode_med25519_public_key,
    "C": StrKey.decode_contract,
    "L": StrKey.decode_liquidity_pool,
    "B": StrKey.decode_claimable_balance,
}


def decode_strkey(strkey: str) -> tuple[str, bytes]:
    """``(prefix, payload)`` of a G/M/C/L/B strkey; ``ValueError`` on a bad prefix, checksum or length."""
    decoder = _DECODERS.get(strkey[:1])
    if decoder is None:
        msg = f"unsupported strkey prefix in {strkey!r}"
        raise ValueError(msg)
    return strkey[:1], decoder(strkey)


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
