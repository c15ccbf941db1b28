"""Differential proof: both generated decoders (pure Python and compiled) equal stellar-sdk on every
ledger of the corpus."""

from __future__ import annotations

import pytest

from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.xdr import decode_ledger_close_meta, model, sdk_decode, skip
from stellar_arrow.xdr.choice import decode_ledger_close_meta_compiled
from stellar_arrow.xdr.profile import TABLES_PROFILE, decoder_for
from tests.conftest import corpus_files
from tests.unit.xdr.deep import assert_same


@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_generated_decoders_equal_stellar_sdk(path) -> None:  # type: ignore[no-untyped-def]
    for lcm in read_ledger_file(path):
        oracle = sdk_decode("LedgerCloseMeta", lcm)
        assert_same(decode_ledger_close_meta(lcm), oracle)
        assert_same(decode_ledger_close_meta_compiled(lcm), oracle)
        assert skip("LedgerCloseMeta", lcm) == len(lcm)


def test_tables_profile_keeps_what_tables_read(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    tables = decoder_for(TABLES_PROFILE)
    for _name, lcm in corpus_ledgers[:8]:
        full = decode_ledger_close_meta(lcm)
        light = tables(lcm)
        arm = full.v
        f = full.value
        g = light.value
        assert light.v == arm
        assert_same(f.ledger_header, g.ledger_header)
        assert_same(f.tx_set, g.tx_set)
        assert len(f.tx_processing) == len(g.tx_processing)
        for a, b in zip(f.tx_processing, g.tx_processing, strict=True):
            assert_same(a.result, b.result)
            assert b.fee_processing == [None] * len(a.fee_processing)


def test_raw_bytes_are_exact_encodings(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    from stellar_sdk import xdr as sdk_xdr

    _name, lcm = next((n, b) for n, b in corpus_ledgers if "63092982" in n)
    v = decode_ledger_close_meta(lcm)
    header = v.v2.ledger_header if v.v2 is not None else None
    assert isinstance(header, model.LedgerHeaderHistoryEntry)
    assert sdk_xdr.LedgerHeader.from_xdr_bytes(header.header.xdr).ledger_seq.uint32 == 63092982
    pair = v.v2.tx_processing[0].result
    assert sdk_xdr.TransactionResultPair.from_xdr_bytes(pair.xdr).to_xdr_bytes() == pair.xdr


def test_profiles_reject_types_decoded_in_place() -> None:
    import pytest

    with pytest.raises(ValueError, match="decoded in place"):
        decoder_for({"AccountEntry"})
    with pytest.raises(ValueError, match="unknown XDR types"):
        decoder_for({"NoSuchType"})
