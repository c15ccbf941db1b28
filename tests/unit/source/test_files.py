from __future__ import annotations

import gzip
import hashlib
import re
import struct
from pathlib import Path

import pytest
import zstandard
from stellar_sdk.xdr import LedgerCloseMeta

from stellar_arrow.errors import LedgerObjectError
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.header import read_ledger_header

CORPUS = Path(__file__).resolve().parents[3] / "data" / "corpus"


def _provenance_rows() -> dict[str, tuple[list[int], int, str]]:
    """file -> (sequences, protocol, LCM arm), read from the corpus PROVENANCE table."""
    rows: dict[str, tuple[list[int], int, str]] = {}
    for line in (CORPUS / "PROVENANCE.md").read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) < 9 or not (CORPUS / cells[0]).is_file():
            continue
        spec = cells[-10]
        if m := re.fullmatch(r"(\d+)-(\d+) \(\d+\)", spec):
            seqs = list(range(int(m.group(1)), int(m.group(2)) + 1))
        else:
            seqs = [int(x) for x in spec.split(",")]
        protocol = cells[-9].split(",")[0]
        rows[cells[0]] = (seqs, int(protocol), cells[-8])
    return rows


ROWS = _provenance_rows()


def test_corpus_copy_is_complete() -> None:
    assert len(ROWS) == 35
    assert sum(len(seqs) for seqs, _, _ in ROWS.values()) == 70


@pytest.mark.parametrize("name", sorted(ROWS))
def test_every_corpus_file_reads_with_the_documented_ledgers(name: str) -> None:
    seqs, protocol, arm = ROWS[name]
    lcms = read_ledger_file(CORPUS / name)
    headers = [read_ledger_header(lcm) for lcm in lcms]
    assert [h.ledger_sequence for h in headers] == seqs
    assert headers[0].protocol_version == protocol
    assert f"V{headers[0].meta_version}" == arm


# stellar-sdk is slow on MB-sized ledgers: one file per format/arm/protocol is enough for the oracle.
SDK_ORACLE = [
    n for n in sorted(ROWS) if not n.startswith(("synthetic", "pubnet-00630929", "pubnet-00630930"))
]


@pytest.mark.parametrize("name", [*SDK_ORACLE, "pubnet-0063092982.xdr.gz"])
def test_header_slice_matches_stellar_sdk(name: str) -> None:
    for lcm in read_ledger_file(CORPUS / name):
        header = read_ledger_header(lcm)
        sdk = LedgerCloseMeta.from_xdr_bytes(lcm)
        entry = {0: sdk.v0, 1: sdk.v1, 2: sdk.v2}[sdk.v].ledger_header  # type: ignore[union-attr]
        assert header.header_entry_xdr == entry.to_xdr_bytes()
        assert header.header_xdr == entry.header.to_xdr_bytes()
        assert header.ledger_hash == hashlib.sha256(header.header_xdr).digest() == entry.hash.hash
        assert header.previous_ledger_hash == entry.header.previous_ledger_hash.hash
        assert header.close_time == entry.header.scp_value.close_time.time_point.uint64
        assert header.meta_version == sdk.v


def test_lake_objects_from_the_corpus_are_the_same_bytes() -> None:
    batch = read_ledger_file(CORPUS / "pubnet-0060659332.lcmbatch.xdr")
    assert batch == [(CORPUS / "pubnet-0060659332.lcmbatch.xdr").read_bytes()[12:]]


def _write(tmp_path: Path, name: str, data: bytes) -> Path:
    path = tmp_path / name
    path.write_bytes(data)
    return path


def test_bad_inputs_are_typed_errors_naming_the_file(tmp_path: Path) -> None:
    good = read_ledger_file(CORPUS / "testnet-0000848581.xdr")[0]
    cases = {
        "corrupt.lcmbatch.xdr.zst": (b"\x28\xb5\x2f\xfd" + b"\x00garbage" * 20, "corrupt zstd"),
        "notzstd.xdr.zst": (b"hello world", "corrupt zstd"),
        "cut.lcmbatch.xdr.zst": (
            (CORPUS / "testnet-0000000997.lcmbatch.xdr.zst").read_bytes()[:-1],
            "truncated zstd",
        ),
        "bad.xdr.gz": (b"\x1f\x8b\x08\x00garbage", "corrupt gzip"),
        "short.lcmbatch.xdr": (b"\x00\x00", "truncated"),
        "range.lcmbatch.xdr": (struct.pack(">III", 10, 12, 1) + good, "declares range"),
        "seq.lcmbatch.xdr": (struct.pack(">III", 10, 10, 1) + good, "sequence 848581, expected 10"),
        "garbage.xdr": (b"\x00\x00\x00\x07" + b"\x00" * 50, "unknown LedgerCloseMeta.v arm 7"),
        "truncated.xdr": (good[:100], "truncated LedgerCloseMeta header"),
        "lines.b64.txt": (b"AAAA\n!!!notbase64\n", "line 2 is not valid base64"),
        "empty.b64.txt": (b"\n\n", "holds no LedgerCloseMeta"),
        "x.framed.xdr.zst": (
            zstandard.ZstdCompressor().compress(b"\x80\x00\x10\x00abc"),
            "declares 4096 bytes",
        ),
        "nolast.framed.xdr.zst": (
            zstandard.ZstdCompressor().compress(struct.pack(">I", len(good)) + good),
            "no last-fragment mark",
        ),
        "ledger.parquet": (b"PAR1", "unknown ledger file format"),
    }
    for name, (data, match) in cases.items():
        path = _write(tmp_path, name, data)
        with pytest.raises(LedgerObjectError, match=match) as info:
            read_ledger_file(path)
        assert name in str(info.value)
        assert info.value.object_key is not None and name in info.value.object_key


def test_zstd_without_content_size_and_multi_fragment_records(tmp_path: Path) -> None:
    good = read_ledger_file(CORPUS / "testnet-0000848581.xdr")[0]
    half = len(good) // 2
    stream = (
        struct.pack(">I", half)
        + good[:half]
        + struct.pack(">I", 0x80000000 | (len(good) - half))
        + good[half:]
    )
    compressor = zstandard.ZstdCompressor(write_content_size=False)
    path = _write(tmp_path, "s.framed.xdr.zst", compressor.compress(stream))
    assert read_ledger_file(path) == [good]
    path = _write(tmp_path, "g.xdr.gz", gzip.compress(good))
    assert read_ledger_file(path) == [good]


def test_missing_file_is_typed(tmp_path: Path) -> None:
    with pytest.raises(LedgerObjectError, match="cannot read"):
        read_ledger_file(tmp_path / "nope.xdr")
