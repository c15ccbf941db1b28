"""Assets of the decoded XDR model, their Stellar Asset Contract (SAC) ids and the ids derived from them.

``SAC id = sha256(XDR(HashIDPreimage{ENVELOPE_TYPE_CONTRACT_ID, sha256(passphrase), FROM_ASSET(asset)}))``.
The few XDR encodings needed here (Asset, HashIDPreimage arms) are a handful of fixed-width fields, so they
are written directly; tests compare them with stellar-sdk.
"""

from __future__ import annotations

import hashlib
import re
import struct
from functools import lru_cache
from typing import Any, Final

from stellar_arrow.ttp.events import NATIVE, Asset
from stellar_arrow.xdr.strkey import account_strkey, contract_strkey, decode_strkey

__all__ = [
    "asset_from_xdr",
    "asset_xdr",
    "issued_sac_address",
    "native_sac_address",
    "parse_sep11_asset",
    "revoke_claimable_balance_id",
    "sac_address",
    "sac_contract_id",
]

_ENVELOPE_TYPE_POOL_REVOKE_OP_ID: Final = 7
_ENVELOPE_TYPE_CONTRACT_ID: Final = 8
_CONTRACT_ID_PREIMAGE_FROM_ASSET: Final = 1
_SEP11: Final = re.compile(r"([A-Za-z0-9]{1,12}):(G[A-Z2-7]{55})")


@lru_cache(maxsize=1 << 14)
def _issued(kind: int, code: bytes, issuer: bytes) -> Asset:
    del kind  # the code length decides alphanum4 / alphanum12 when the asset is rebuilt
    return Asset(code.rstrip(b"\x00").decode("latin-1"), account_strkey(issuer))


def asset_from_xdr(asset: Any) -> Asset:
    """Our :class:`Asset` from an ``X.Asset`` (or a ``TrustLineAsset`` of a classic asset)."""
    kind = asset.type
    if kind == 0:
        return NATIVE
    if kind not in (1, 2):
        msg = f"asset type {kind} is not a classic asset"
        raise ValueError(msg)
    arm = asset.value  # AlphaNum4 or AlphaNum12
    return _issued(kind, arm.asset_code, arm.issuer.ed25519)


@lru_cache(maxsize=1 << 14)
def asset_xdr(asset: Asset) -> bytes:
    """XDR encoding of ``X.Asset`` for a classic asset."""
    if asset.code is None or asset.issuer is None:
        return struct.pack(">I", 0)
    code = asset.code.encode("latin-1")
    width, kind = (4, 1) if len(code) <= 4 else (12, 2)
    issuer = decode_strkey(asset.issuer)[1]
    return struct.pack(">I", kind) + code.ljust(width, b"\x00") + struct.pack(">I", 0) + issuer


@lru_cache(maxsize=1 << 14)
def sac_contract_id(asset: Asset, network_id: bytes) -> bytes:
    """32-byte contract id of the asset's SAC on the network with id ``network_id`` (deployed or not).

    ``network_id`` is :attr:`stellar_arrow.ledger.Network.network_id`.
    """
    preimage = (
        struct.pack(">I", _ENVELOPE_TYPE_CONTRACT_ID)
        + network_id
        + struct.pack(">I", _CONTRACT_ID_PREIMAGE_FROM_ASSET)
        + asset_xdr(asset)
    )
    return hashlib.sha256(preimage).digest()


@lru_cache(maxsize=1 << 14)
def sac_address(asset: Asset, network_id: bytes) -> str:
    """C-strkey of the asset's SAC on the network with id ``network_id``."""
    return contract_strkey(sac_contract_id(asset, network_id))


@lru_cache(maxsize=1 << 14)
def issued_sac_address(code: str, issuer: str, network_id: bytes) -> str:
    """``sac_address(Asset(code, issuer), network_id)``, cached by the asset's strings (hashed in C; an
    :class:`Asset` key is hashed by a Python-level ``__hash__``): read for every classic event."""
    return sac_address(Asset(code, issuer), network_id)


@lru_cache(maxsize=16)
def native_sac_address(network_id: bytes) -> str:
    """``sac_address(NATIVE, network_id)``, cached by the network id alone (read for every transaction)."""
    return sac_address(NATIVE, network_id)


def revoke_claimable_balance_id(
    source_ed25519: bytes, seq_num: int, op_index0: int, pool_id: bytes, asset: Asset
) -> bytes:
    """Hash of the claimable balance created when a revocation redeems pool shares
    (ENVELOPE_TYPE_POOL_REVOKE_OP_ID). (ENVELOPE_TYPE_POOL_REVOKE_OP_ID).

    ``source_ed25519`` / ``seq_num`` are the (inner) tx source and sequence, ``op_index0`` the 0-based op
    index.
    """
    preimage = (
        struct.pack(">II", _ENVELOPE_TYPE_POOL_REVOKE_OP_ID, 0)
        + source_ed25519
        + struct.pack(">qI", seq_num, op_index0)
        + pool_id
        + asset_xdr(asset)
    )
    return hashlib.sha256(preimage).digest()


@lru_cache(maxsize=1 << 12)
def parse_sep11_asset(text: bytes) -> Asset | None:
    """``native`` (any case) or ``CODE:G...`` with a valid issuer strkey; ``None`` otherwise (cached: the
    same few asset strings end every SAC event)."""
    try:
        s = text.decode("ascii")
    except UnicodeDecodeError:
        return None
    if s.lower() == "native":
        return NATIVE
    m = _SEP11.fullmatch(s)
    if m is None:
        return None
    try:
        decode_strkey(m.group(2))
    except ValueError:
        return None
    return Asset(m.group(1), m.group(2))
