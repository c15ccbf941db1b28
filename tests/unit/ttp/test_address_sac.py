"""Strkeys (G, M, C, L, B), SAC contract ids and revoke claimable-balance ids."""

from __future__ import annotations

import hashlib

import pytest
from stellar_sdk import Asset as SdkAsset
from stellar_sdk import Network, StrKey
from stellar_sdk import xdr as x

from stellar_arrow.ledger import resolve_network
from stellar_arrow.ttp import NATIVE, Asset
from stellar_arrow.ttp.sac import (
    asset_xdr,
    parse_sep11_asset,
    revoke_claimable_balance_id,
    sac_address,
)
from stellar_arrow.xdr.strkey import (
    account_strkey,
    claimable_balance_strkey,
    contract_strkey,
    decode_strkey,
    liquidity_pool_strkey,
    muxed_strkey,
)
from tests.unit.ttp.scenario import ALICE, ISSUER, account_id

PUBNET = Network.PUBLIC_NETWORK_PASSPHRASE
TESTNET = Network.TESTNET_NETWORK_PASSPHRASE
KEY = bytes(range(32))


def test_native_sac_vectors() -> None:
    assert (
        sac_address(NATIVE, resolve_network(PUBNET).network_id)
        == "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
    )
    assert (
        sac_address(NATIVE, resolve_network(TESTNET).network_id)
        == "CDLZFC3SYJYDZT7K67VZ75HPJVIEUVNIXF47ZG2FB2RMQQVU2HHGCYSC"
    )


@pytest.mark.parametrize("code", ["X", "USD", "USDC", "ABCDE", "ABCDEFGHIJKL"])
def test_credit_sac_and_asset_xdr_match_stellar_sdk(code: str) -> None:
    sdk = SdkAsset(code, ISSUER.public_key)
    ours = Asset(code, ISSUER.public_key)
    assert asset_xdr(ours) == sdk.to_xdr_object().to_xdr_bytes()
    assert sac_address(ours, resolve_network(PUBNET).network_id) == sdk.contract_id(PUBNET)


def test_strkeys_match_stellar_sdk_and_round_trip() -> None:
    assert account_strkey(KEY) == StrKey.encode_ed25519_public_key(KEY)
    assert contract_strkey(KEY) == StrKey.encode_contract(KEY)
    assert liquidity_pool_strkey(KEY) == StrKey.encode_liquidity_pool(KEY)
    assert claimable_balance_strkey(KEY) == StrKey.encode_claimable_balance(b"\x00" + KEY)
    assert decode_strkey(claimable_balance_strkey(KEY)) == ("B", b"\x00" + KEY)
    for enc in (account_strkey, contract_strkey, liquidity_pool_strkey):
        assert decode_strkey(enc(KEY))[1] == KEY


def test_muxed_vector_of_the_spec() -> None:
    g = StrKey.decode_ed25519_public_key("GAHK7EEG2WWHVKDNT4CEQFZGKF2LGDSW2IVM4S5DP42RBW3K6BTODB4A")
    m = "MAHK7EEG2WWHVKDNT4CEQFZGKF2LGDSW2IVM4S5DP42RBW3K6BTOCAAAAAADZU6VFBOJ2"
    assert muxed_strkey(g, 1020515624) == m
    assert decode_strkey(m) == ("M", g + (1020515624).to_bytes(8, "big"))


def test_bad_strkeys_are_rejected() -> None:
    good = account_strkey(KEY)
    with pytest.raises(ValueError, match="wrong checksum"):
        decode_strkey(good[:-1] + ("A" if good[-1] != "A" else "B"))
    with pytest.raises(ValueError, match="56 characters, not 54"):
        decode_strkey(contract_strkey(KEY)[:-2])
    with pytest.raises(ValueError, match="prefix"):
        decode_strkey("X" + good[1:])


def test_sep11_parsing() -> None:
    issuer = ISSUER.public_key
    assert parse_sep11_asset(b"native") == NATIVE and parse_sep11_asset(b"Native") == NATIVE
    assert parse_sep11_asset(f"USDC:{issuer}".encode()) == Asset("USDC", issuer)
    for bad in (
        b"",
        b"USDC",
        b"TOOLONGCODE13:" + issuer.encode(),
        b"US-D:" + issuer.encode(),
        b"USD:" + issuer[:-1].encode() + b"A",
        b"\xff",
    ):
        assert parse_sep11_asset(bad) is None


def test_revoke_claimable_balance_id_matches_sdk_preimage() -> None:
    pool = hashlib.sha256(b"pool").digest()
    usd = SdkAsset("USD", ISSUER.public_key)
    preimage = x.HashIDPreimage(
        x.EnvelopeType.ENVELOPE_TYPE_POOL_REVOKE_OP_ID,
        revoke_id=x.HashIDPreimageRevokeID(
            account_id(ALICE),
            x.SequenceNumber(x.Int64(77)),
            x.Uint32(2),
            x.PoolID(x.Hash(pool)),
            usd.to_xdr_object(),
        ),
    )
    expected = hashlib.sha256(preimage.to_xdr_bytes()).digest()
    ours = revoke_claimable_balance_id(ALICE.raw_public_key(), 77, 2, pool, Asset("USD", ISSUER.public_key))
    assert ours == expected
