"""The standard-library StrKey codec (xdr/strkey.py) against stellar-sdk's: every kind, hostile strings.

Encoding: the pure-Python encoder, the compiled one when built, and the memoised public functions all give
stellar-sdk's text. Decoding: every string ``decode_strkey`` accepts, stellar-sdk accepts with the same
payload; every string stellar-sdk refuses, ``decode_strkey`` refuses with a ``ValueError``; the one
difference is trailing ``=`` padding, which stellar-sdk tolerates and SEP-23 strkeys never carry.
"""

from __future__ import annotations

import base64
import binascii
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stellar_sdk import StrKey

from stellar_arrow.xdr import model as X
from stellar_arrow.xdr import strkey
from stellar_arrow.xdr.strkey import (
    account_strkey,
    claimable_balance_strkey,
    contract_strkey,
    decode_python,
    decode_strkey,
    encode_python,
    liquidity_pool_strkey,
    muxed_strkey,
    sc_address_strkey,
)

KEY = st.binary(min_size=32, max_size=32)
UINT64 = st.integers(min_value=0, max_value=2**64 - 1)

# prefix -> (stellar-sdk decoder, stellar-sdk encoder)
SDK: dict[str, tuple[Callable[[str], bytes], Callable[[bytes], str]]] = {
    "G": (StrKey.decode_ed25519_public_key, StrKey.encode_ed25519_public_key),
    "M": (StrKey.decode_med25519_public_key, StrKey.encode_med25519_public_key),
    "C": (StrKey.decode_contract, StrKey.encode_contract),
    "L": (StrKey.decode_liquidity_pool, StrKey.encode_liquidity_pool),
    "B": (StrKey.decode_claimable_balance, StrKey.encode_claimable_balance),
}
VERSIONS = {
    "G": strkey.VERSION_ACCOUNT,
    "M": strkey.VERSION_MUXED_ACCOUNT,
    "C": strkey.VERSION_CONTRACT,
    "L": strkey.VERSION_LIQUIDITY_POOL,
    "B": strkey.VERSION_CLAIMABLE_BALANCE,
}
SIZES = {"G": 32, "M": 40, "C": 32, "L": 32, "B": 33}


def _sdk_decode(text: Any) -> bytes | None:
    """stellar-sdk's payload of ``text`` under the kind its first letter names, or None if refused."""
    codec = SDK.get(text[:1]) if isinstance(text, str) else None
    if codec is None:
        return None
    try:
        return codec[0](text)
    except (ValueError, TypeError):
        return None


def _ours(text: Any) -> bytes | None:
    try:
        prefix, payload = decode_python(text)
    except ValueError:
        return None
    assert prefix == text[0]
    return payload


def _agree(text: Any) -> None:
    ours, theirs = _ours(text), _sdk_decode(text)
    if ours is not None:
        assert theirs == ours, text
        prefix = text[0]
        assert encode_python(VERSIONS[prefix], ours) == text  # only the canonical text decodes
        assert decode_strkey(text) == (prefix, ours)
    elif theirs is not None:  # only '=' padding after a strkey we accept
        assert isinstance(text, str)
        assert text.endswith("="), f"stellar-sdk accepts {text!r}, decode_strkey refuses it"
        assert _ours(text.rstrip("=")) == theirs
    if ours is None:
        with pytest.raises(ValueError):
            decode_strkey(text)


@settings(max_examples=300, deadline=None)
@given(KEY, UINT64)
def test_encoders_match_stellar_sdk(key: bytes, muxed_id: int) -> None:
    muxed = key + muxed_id.to_bytes(8, "big")
    payloads = {"G": key, "M": muxed, "C": key, "L": key, "B": b"\x00" + key}
    for prefix, payload in payloads.items():
        expected = SDK[prefix][1](payload)
        assert encode_python(VERSIONS[prefix], payload) == expected
        assert decode_python(expected) == (prefix, payload)
    assert account_strkey(key) == StrKey.encode_ed25519_public_key(key)
    assert muxed_strkey(key, muxed_id) == StrKey.encode_med25519_public_key(muxed)
    assert contract_strkey(key) == StrKey.encode_contract(key)
    assert liquidity_pool_strkey(key) == StrKey.encode_liquidity_pool(key)
    assert claimable_balance_strkey(key) == StrKey.encode_claimable_balance(b"\x00" + key)


@settings(max_examples=200, deadline=None)
@given(st.sampled_from("GMCLB"), st.data())
def test_any_payload_of_a_kind_round_trips(prefix: str, data: st.DataObject) -> None:
    """B payloads of any type byte too: stellar-sdk checks only their length."""
    payload = data.draw(st.binary(min_size=SIZES[prefix], max_size=SIZES[prefix]))
    text = encode_python(VERSIONS[prefix], payload)
    assert text == SDK[prefix][1](payload)
    assert decode_strkey(text) == (prefix, payload)


def test_the_compiled_encoder_is_used_when_built_and_agrees() -> None:
    compiled = pytest.importorskip("stellar_arrow.xdr._strkey", reason="extension not built")
    assert strkey._encode is compiled.encode
    for version in (*VERSIONS.values(), 0, 255):
        for size in (0, 1, 32, 33, 40, 64):
            payload = bytes(range(size))
            assert compiled.encode(version, payload) == encode_python(version, payload)


@pytest.mark.parametrize("size", [65, 1000])
def test_payload_longer_than_the_bound_is_refused(size: int) -> None:
    with pytest.raises(ValueError, match=f"{size} bytes"):
        encode_python(strkey.VERSION_ACCOUNT, bytes(size))


@pytest.mark.parametrize("version", [-1, 256])
def test_version_byte_out_of_range_is_refused(version: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        encode_python(version, bytes(32))


G = account_strkey(bytes(range(32)))
M = muxed_strkey(bytes(range(32)), 2**64 - 1)
B = claimable_balance_strkey(bytes(range(32)))
SEED = "SBFGFF27Y64ZUGFAIG5AMJGQODZZKV2YQKAVUUN4HNE24XZXD2OEUVUP"


def _with_version(prefix: str, version: int, size: int) -> str:
    """A text with a valid checksum, but the version byte ``version`` under the letter ``prefix``."""
    data = bytes((version,)) + bytes(size)
    raw = data + binascii.crc_hqx(data, 0).to_bytes(2, "little")
    return base64.b32encode(raw).decode().rstrip("=")


HOSTILE: list[Any] = [
    "",
    "G",
    "S",
    SEED,  # a secret seed
    "T" + G[1:],
    G.lower(),
    G[:-1] + ("A" if G[-1] != "A" else "B"),  # checksum
    G[:-1],
    G + "A",
    G + "=",
    G + "====",
    M + "=",
    M + "===",
    B + "======",
    "G" + "=" * 55,
    G[:10] + "=" + G[11:],
    G[:10] + "1" + G[11:],  # not in the base32 alphabet
    G[:10] + "0" + G[11:],
    G[:10] + "é" + G[12:],
    G[:10] + "\x00" + G[11:],
    G[:-1] + "\u0410",  # Cyrillic A
    " " + G[1:],
    G[:55] + " ",
    "GAAAAAAAAAAAAAAAAAAA",
    "G" * 10_000,
    M[:56],  # a muxed text cut to an account's length
    "M" + G[1:],
    "G" + M[1:],
    "C" + G[1:],
    B[:56],
    B[:-1],
    B + "A",
    _with_version("G", 0x31, 32),  # G, but a version byte with low bits set
    _with_version("G", 0x37, 32),
    _with_version("M", 0x61, 40),
    b"G" + G[1:].encode(),  # bytes, not text
    None,
    42,
]


@pytest.mark.parametrize("text", HOSTILE, ids=lambda t: repr(t)[:40])
def test_hostile_strings_agree_with_stellar_sdk(text: Any) -> None:
    _agree(text)


@pytest.mark.parametrize("text", [M + "=", M + "===", B + "======"])
def test_padding_stellar_sdk_tolerates_is_refused(text: str) -> None:
    assert _sdk_decode(text) is not None
    with pytest.raises(ValueError, match="characters"):
        decode_strkey(text)


@pytest.mark.parametrize("prefix", list("GMCLB"))
def test_nonzero_unused_bits_are_refused(prefix: str) -> None:
    """The last character carries bits beyond the checksum (except for G/C/L: 35 bytes fill 56 digits)."""
    text = encode_python(VERSIONS[prefix], bytes(SIZES[prefix]))
    for last in "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567":
        _agree(text[:-1] + last)


@settings(max_examples=500, deadline=None)
@given(st.sampled_from([G, M, B, contract_strkey(bytes(32))]), st.data())
def test_mutated_strkeys_agree_with_stellar_sdk(text: str, data: st.DataObject) -> None:
    index = data.draw(st.integers(min_value=0, max_value=len(text) - 1))
    char = data.draw(st.sampled_from("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=01a"))
    _agree(text[:index] + char + text[index + 1 :])


@settings(max_examples=500, deadline=None)
@given(st.text(alphabet="ABCDEFGHIJKLMNOPQRSTUVWXYZ234567=", min_size=0, max_size=80))
def test_random_base32_text_agrees_with_stellar_sdk(text: str) -> None:
    _agree(text)


def test_decode_names_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="unsupported strkey prefix"):
        decode_strkey(SEED)
    with pytest.raises(ValueError, match="56 characters, not 55"):
        decode_strkey(G[:-1])
    with pytest.raises(ValueError, match="checksum"):
        decode_strkey(G[:-2] + ("A" if G[-2] != "A" else "B") + G[-1])
    with pytest.raises(ValueError, match="version byte 0x31"):
        decode_strkey(_with_version("G", 0x31, 32))


def test_sc_address_strkey_of_every_address_kind() -> None:
    key = bytes(range(32))
    T = X.SCAddressType
    cases = [
        (T.SC_ADDRESS_TYPE_ACCOUNT, "account_id", _Obj(ed25519=key), account_strkey(key)),
        (T.SC_ADDRESS_TYPE_CONTRACT, "contract_id", key, contract_strkey(key)),
        (T.SC_ADDRESS_TYPE_MUXED_ACCOUNT, "muxed_account", _Obj(ed25519=key, id=9), muxed_strkey(key, 9)),
        (
            T.SC_ADDRESS_TYPE_CLAIMABLE_BALANCE,
            "claimable_balance_id",
            _Obj(v0=key),
            claimable_balance_strkey(key),
        ),
        (T.SC_ADDRESS_TYPE_LIQUIDITY_POOL, "liquidity_pool_id", key, liquidity_pool_strkey(key)),
    ]
    for kind, attribute, value, expected in cases:
        assert sc_address_strkey(_Obj(type=kind, **{attribute: value})) == expected


class _Obj:
    def __init__(self, **fields: Any) -> None:
        self.__dict__.update(fields)


def test_without_the_extension_the_python_encoder_gives_the_same_text() -> None:
    """With ``_strkey`` unimportable (as when its ``.so`` is absent) strkey.py encodes in Python."""
    script = (
        "import sys; sys.modules['stellar_arrow.xdr._strkey'] = None\n"
        "from stellar_arrow.xdr import strkey\n"
        "assert strkey._encode is strkey.encode_python\n"
        "print(strkey.account_strkey(bytes(range(32))), strkey.muxed_strkey(bytes(range(32)), 2**64 - 1))\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.split() == [G, M]
