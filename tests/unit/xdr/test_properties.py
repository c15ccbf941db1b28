"""Property tests: random valid values decode as stellar-sdk decodes them; damaged ledgers raise
the typed error and nothing else."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from stellar_sdk import xdr as sdk_xdr

from stellar_arrow.errors import XdrDecodeError
from stellar_arrow.xdr import decode, decode_ledger_close_meta, from_sdk
from stellar_arrow.xdr.choice import compiled_decode
from tests.strategies import xdr_values
from tests.unit.xdr.deep import assert_same

KEY_TYPES = [
    "SCVal",
    "Asset",
    "MuxedAccount",
    "ClaimPredicate",
    "TransactionEnvelope",
    "TransactionResult",
    "LedgerEntryChange",
    "ContractEvent",
    "TransactionMeta",
    "LedgerHeader",
    "SorobanTransactionData",
]


@pytest.mark.parametrize("type_name", KEY_TYPES)
def test_random_values_decode_like_stellar_sdk(type_name: str) -> None:
    cls = getattr(sdk_xdr, type_name)

    @settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
    @given(xdr_values(type_name))
    def check(data: bytes) -> None:
        expected = from_sdk(cls.from_xdr_bytes(data), type_name)
        assert_same(decode(type_name, data), expected)
        assert_same(compiled_decode(type_name, data), expected)
        assert cls.from_xdr_bytes(data).to_xdr_bytes() == data

    check()


@pytest.fixture(scope="module")
def small_ledgers(corpus_ledgers: list[tuple[str, bytes]]) -> list[bytes]:
    return [lcm for _, lcm in corpus_ledgers if len(lcm) < 12_000]


def test_every_truncation_of_a_small_ledger_is_a_typed_error(small_ledgers: list[bytes]) -> None:
    lcm = small_ledgers[0]
    for cut in range(0, len(lcm), 3):
        with pytest.raises(XdrDecodeError):
            decode_ledger_close_meta(lcm[:cut], ledger_sequence=7)


@settings(max_examples=300, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_byte_flips_raise_typed_error_or_decode_as_stellar_sdk(
    data: st.DataObject, small_ledgers: list[bytes]
) -> None:
    lcm = bytearray(data.draw(st.sampled_from(small_ledgers)))
    for _ in range(data.draw(st.integers(1, 3))):
        pos = data.draw(st.integers(0, len(lcm) - 1))
        lcm[pos] ^= data.draw(st.integers(1, 255))
    damaged = bytes(lcm)
    try:
        ours = decode_ledger_close_meta(damaged)
    except XdrDecodeError:
        return
    # Whatever we accept, stellar-sdk reads the same way: a flip never yields a silently different value.
    theirs = from_sdk(sdk_xdr.LedgerCloseMeta.from_xdr_bytes(damaged), "LedgerCloseMeta")
    assert_same(ours, theirs)


def test_trailing_bytes_and_garbage_are_rejected(small_ledgers: list[bytes]) -> None:
    with pytest.raises(XdrDecodeError, match="trailing"):
        decode_ledger_close_meta(small_ledgers[0] + b"\0\0\0\0")
    with pytest.raises(XdrDecodeError, match="LedgerCloseMeta"):
        decode_ledger_close_meta(b"\x00\x00\x00\x07" + b"\xff" * 64)
    with pytest.raises(XdrDecodeError):
        decode_ledger_close_meta(b"")
