"""The compiled StrKey encoder (xdr/_strkey.pyx) against stellar-sdk's, on random payloads of every kind."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from stellar_sdk import StrKey

_strkey = pytest.importorskip("stellar_arrow.xdr._strkey", reason="extension not built")

KEY = st.binary(min_size=32, max_size=32)


@settings(max_examples=300, deadline=None)
@given(KEY, st.integers(min_value=0, max_value=2**64 - 1))
def test_every_kind_matches_stellar_sdk(key: bytes, muxed_id: int) -> None:
    assert _strkey.encode(6 << 3, key) == StrKey.encode_ed25519_public_key(key)
    assert _strkey.encode(2 << 3, key) == StrKey.encode_contract(key)
    assert _strkey.encode(11 << 3, key) == StrKey.encode_liquidity_pool(key)
    assert _strkey.encode(1 << 3, b"\x00" + key) == StrKey.encode_claimable_balance(b"\x00" + key)
    muxed = key + muxed_id.to_bytes(8, "big")
    assert _strkey.encode(12 << 3, muxed) == StrKey.encode_med25519_public_key(muxed)


def test_payload_longer_than_the_buffer_is_refused() -> None:
    with pytest.raises(ValueError, match="65 bytes"):
        _strkey.encode(6 << 3, bytes(65))


@pytest.mark.parametrize("version", [-1, 256])
def test_version_byte_out_of_range_is_refused(version: int) -> None:
    with pytest.raises(ValueError, match="out of range"):
        _strkey.encode(version, bytes(32))
