from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stellar_arrow.errors import XdrDecodeError
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.header import read_ledger_header

CORPUS = Path(__file__).resolve().parents[3] / "data" / "corpus"
# one ledger per LCM arm: V0 (P2), V1 (P22, ext v1 present), V2 (P23)
SAMPLES = [
    read_ledger_file(CORPUS / "pubnet-v0-samples-p2-p19.b64.txt")[0],
    read_ledger_file(CORPUS / "testnet-0000004478.xdr")[0],
    read_ledger_file(CORPUS / "testnet-0000848581.xdr")[0],
]


@pytest.mark.parametrize("lcm", SAMPLES, ids=["v0", "v1", "v2"])
def test_every_truncation_of_the_header_is_a_typed_error(lcm: bytes) -> None:
    header = read_ledger_header(lcm)
    end = lcm.index(header.header_entry_xdr) + len(header.header_entry_xdr)
    for cut in range(end):
        with pytest.raises(XdrDecodeError, match="what: ") as info:
            read_ledger_header(lcm[:cut], what="what")
        assert info.value.type_name == "LedgerCloseMeta"
    assert read_ledger_header(lcm[:end]) == header  # the header needs nothing after itself


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from(SAMPLES), st.integers(min_value=0, max_value=400))
def test_garbage_never_escapes_as_another_exception(noise: bytes, lcm: bytes, splice: int) -> None:
    for data in (noise, lcm[:splice] + noise, noise[:8] + lcm[8:600]):
        try:
            header = read_ledger_header(data)
        except XdrDecodeError:
            continue
        assert len(header.ledger_hash) == 32 and header.meta_version in (0, 1, 2)
