from __future__ import annotations

import struct
from pathlib import Path

import pytest

from stellar_arrow.errors import LedgerObjectError
from stellar_arrow.source.batch import encode_ledger_close_meta_batch, split_ledger_close_meta_batch
from stellar_arrow.source.files import read_ledger_file

CORPUS = Path(__file__).resolve().parents[3] / "data" / "corpus"


@pytest.fixture(scope="module")
def three() -> list[bytes]:
    return [read_ledger_file(CORPUS / f"pubnet-{s:010d}.xdr.gz")[0] for s in (63092982, 63092983, 63092984)]


def test_multi_ledger_batch_round_trip(three: list[bytes]) -> None:
    data = encode_ledger_close_meta_batch(63092982, 63092984, three)
    batch = split_ledger_close_meta_batch(data, object_name="obj")
    assert (batch.start_sequence, batch.end_sequence) == (63092982, 63092984)
    assert list(batch.ledger_close_metas) == three
    assert batch.ledger(63092983, object_name="obj") == three[1]
    with pytest.raises(
        LedgerObjectError, match=r"obj: ledger 63092985 is outside the batch \[63092982, 63092984\]"
    ):
        batch.ledger(63092985, object_name="obj")


def test_batch_errors_name_the_object(three: list[bytes]) -> None:
    cases = [
        (encode_ledger_close_meta_batch(63092982, 63092984, three)[:-10], "truncated"),
        (encode_ledger_close_meta_batch(63092982, 63092984, three) + b"\0\0\0\0", "4 trailing bytes"),
        (encode_ledger_close_meta_batch(63092982, 63092984, three[:2]), "holds 2 ledgers"),
        (encode_ledger_close_meta_batch(63092983, 63092985, three), "sequence 63092982, expected 63092983"),
        (encode_ledger_close_meta_batch(63092982, 63092983, [three[0], b"\x00\x00\x00\x09" * 40]), "corrupt"),
        (struct.pack(">III", 5, 4, 0), "declares range"),
    ]
    for data, match in cases:
        with pytest.raises(LedgerObjectError, match=match) as info:
            split_ledger_close_meta_batch(data, object_name="s3://b/FC3D4709--63092982.xdr.zst")
        assert "FC3D4709--63092982.xdr.zst" in str(info.value)
