from __future__ import annotations

import shutil
import struct
import threading
import time
from pathlib import Path

import pytest
import zstandard

from stellar_arrow.errors import ConfigError, LedgerMissingError, LedgerObjectError, NetworkMismatchError
from stellar_arrow.source.base import LedgerSource, RawLedger
from stellar_arrow.source.batch import encode_ledger_close_meta_batch
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.keys import LakeSchema
from stellar_arrow.source.lake import DataLakeLedgerSource

REPO = Path(__file__).resolve().parents[3]
LAKES = REPO / "data" / "lakes"
CORPUS = REPO / "data" / "corpus"
PUBNET = "Public Global Stellar Network ; September 2015"
TESTNET = "Test SDF Network ; September 2015"
FIRST, LAST = 63092982, 63093001


def corpus_ledger(seq: int) -> bytes:
    return read_ledger_file(CORPUS / f"pubnet-{seq:010d}.xdr.gz")[0]


@pytest.fixture
def lake_copy(tmp_path: Path) -> Path:
    target = tmp_path / "pubnet-p26"
    shutil.copytree(LAKES / "pubnet-p26", target)
    return target


def test_bounded_range_is_the_corpus_bytes_in_order() -> None:
    source = DataLakeLedgerSource(str(LAKES / "pubnet-p26"), network_passphrase=PUBNET)
    assert isinstance(source, LedgerSource)
    assert source.schema == LakeSchema(1, 64000, "zst")
    assert source.network_passphrase == PUBNET
    assert source.latest_ledger() == LAST
    got = list(source.ledgers(FIRST, LAST))
    assert [r.ledger_sequence for r in got] == list(range(FIRST, LAST + 1))
    assert all(
        isinstance(r, RawLedger) and r.ledger_close_meta == corpus_ledger(r.ledger_sequence) for r in got
    )
    assert [s for s, _ in source.ledgers(63092990, 63092992)] == [63092990, 63092991, 63092992]


def test_multi_ledger_batches_use_start_sequence_indexing() -> None:
    source = DataLakeLedgerSource(str(LAKES / "pubnet-p26-batch4"), workers=2, buffer_size=3)
    assert source.schema.ledgers_per_batch == 4 and source.schema.batches_per_partition == 2
    assert source.latest_ledger() == 63092999
    got = list(source.ledgers(FIRST, 63092999))
    assert [s for s, _ in got] == list(range(FIRST, 63092999 + 1))
    assert all(lcm == corpus_ledger(seq) for seq, lcm in got)
    # 63092980-81 fall in the first object's name range but precede its startSequence
    with pytest.raises(
        LedgerMissingError, match=r"ledger 63092980 is missing \(the object holds \[63092982, 63092983\]\)"
    ):
        list(source.ledgers(63092980, 63092985))
    # the incomplete tail batch was never uploaded
    with pytest.raises(
        LedgerMissingError, match=r"FC3D46F7--63093000-63093003\.xdr\.zst containing ledger 63093000"
    ):
        list(source.ledgers(63092998, 63093001))


def test_old_zstd_extension_is_detected_and_manifest_is_needed_or_settings() -> None:
    uri = str(LAKES / "testnet" / "2024-02-06-zstd")
    with pytest.raises(ConfigError, match=r"no \.config\.json manifest"):
        DataLakeLedgerSource(uri)
    source = DataLakeLedgerSource(uri, ledgers_per_batch=1, batches_per_partition=1)
    assert source.schema.extension == "zstd"
    assert source.latest_ledger() == 999
    assert [s for s, _ in source.ledgers(997, 999)] == [997, 998, 999]
    assert (
        next(iter(source.ledgers(998, 998))).ledger_close_meta
        == read_ledger_file(CORPUS / "testnet-0000000998.lcmbatch.xdr.zst")[0]
    )


def test_every_sample_lake_serves_its_corpus_ledgers() -> None:
    expected = {
        "pubnet-history": [
            6154623,
            16154623,
            26154623,
            36154623,
            46154623,
            51000294,
            53312000,
            57500008,
            60659332,
        ],
        "testnet/2025-06-18": [4478, 4873],
        "testnet/2025-10-02": [848581, 848582],
        "testnet/2026-03-02": [1283415],
        "standalone-p23": [84, 85, 88],
    }
    for lake, seqs in expected.items():
        source = DataLakeLedgerSource(str(LAKES / lake))
        assert source.latest_ledger() == seqs[-1]
        for seq in seqs:
            ((got_seq, lcm),) = list(source.ledgers(seq, seq))
            assert got_seq == seq and len(lcm) > 100


def test_wrong_network_and_schema_settings(lake_copy: Path) -> None:
    with pytest.raises(NetworkMismatchError, match=r"\.config\.json: manifest networkPassphrase"):
        DataLakeLedgerSource(str(lake_copy), network_passphrase=TESTNET)
    with pytest.raises(ConfigError, match="ledgersPerBatch is 1 but 8"):
        DataLakeLedgerSource(str(lake_copy), ledgers_per_batch=8)
    (lake_copy / ".config.json").write_text('{"networkPassphrase": 5}')
    with pytest.raises(LedgerObjectError, match="networkPassphrase"):
        DataLakeLedgerSource(str(lake_copy))


def test_bad_range_arguments() -> None:
    source = DataLakeLedgerSource(str(LAKES / "pubnet-p26"))
    with pytest.raises(ConfigError, match="invalid ledger range"):
        list(source.ledgers(10, 5))


def _object(lake: Path, seq: int) -> Path:
    return lake / LakeSchema(1, 64000).batch_key(seq).key


def test_missing_object_in_a_bounded_range_names_the_key(lake_copy: Path) -> None:
    _object(lake_copy, 63092990).unlink()
    source = DataLakeLedgerSource(str(lake_copy))
    got: list[int] = []
    with pytest.raises(LedgerMissingError) as info:
        for seq, _ in source.ledgers(FIRST, LAST):
            got.append(seq)
    assert got == list(range(FIRST, 63092990))  # everything before the hole, in order
    assert "FC3D4701--63092990.xdr.zst" in str(info.value) and "63092990" in str(info.value)
    assert info.value.ledger_sequence == 63092990


def _object_bytes(seq: int) -> bytes:
    return _object(LAKES / "pubnet-p26", seq).read_bytes()


def test_corrupt_objects_are_typed_errors_naming_the_object(lake_copy: Path) -> None:
    source = DataLakeLedgerSource(str(lake_copy))
    cases = {
        63092983: (b"\x28\xb5\x2f\xfd" + b"garbage!" * 10, "corrupt zstd"),
        63092984: (zstandard.ZstdCompressor().compress(b"\x00\x00\x00"), "LedgerCloseMetaBatch truncated"),
        63092987: (_object_bytes(63092987)[:-7], "truncated zstd data"),
        63092985: (
            zstandard.ZstdCompressor().compress(
                struct.pack(">III", 63092985, 63092985, 1) + b"\x00\x00\x00\x05" * 30
            ),
            "unknown LedgerCloseMeta.v arm 5",
        ),
        # a batch whose range does not match its key (the object for ...986 holds ...987)
        63092986: (
            zstandard.ZstdCompressor().compress(
                encode_ledger_close_meta_batch(63092987, 63092987, [corpus_ledger(63092987)])
            ),
            r"batch holds ledgers \[63092987, 63092987\] but its key covers \[63092986, 63092986\]",
        ),
    }
    for seq, (data, match) in cases.items():
        path = _object(lake_copy, seq)
        original = path.read_bytes()
        path.write_bytes(data)
        with pytest.raises(LedgerObjectError, match=match) as info:
            list(source.ledgers(seq, seq))
        assert path.name in str(info.value)
        assert info.value.object_key is not None and info.value.object_key.endswith(path.name)
        path.write_bytes(original)


def test_unbounded_range_tails_the_tip_until_stopped(lake_copy: Path) -> None:
    tail = [_object(lake_copy, s) for s in (63093000, 63093001)]
    saved = [p.read_bytes() for p in tail]
    for p in tail:
        p.unlink()
    source = DataLakeLedgerSource(str(lake_copy), poll_interval=0.05, workers=2, buffer_size=4)
    assert source.latest_ledger() == 63092999
    got: list[int] = []

    def publish() -> None:
        time.sleep(0.3)
        for path, data in zip(tail, saved, strict=True):
            tmp = path.with_suffix(".tmp")
            tmp.write_bytes(data)
            tmp.rename(path)  # atomic, like an object store PUT
            time.sleep(0.2)

    writer = threading.Thread(target=publish)
    writer.start()
    started = time.monotonic()
    for seq, lcm in source.ledgers(63092998):
        got.append(seq)
        assert lcm == corpus_ledger(seq)
        if seq == LAST:
            source.stop()
    writer.join()
    assert got == [63092998, 63092999, 63093000, 63093001]
    assert time.monotonic() - started >= 0.45  # it really waited for the objects to appear
    assert source.latest_ledger() == LAST


def test_tailing_reports_a_hole_in_the_lake(lake_copy: Path) -> None:
    _object(lake_copy, 63092990).unlink()
    source = DataLakeLedgerSource(str(lake_copy), poll_interval=0.02, gap_timeout=0.2)
    got: list[int] = []
    with pytest.raises(LedgerMissingError, match=r"FC3D4701--63092990\.xdr\.zst is still missing") as info:
        for seq, _ in source.ledgers(63092988):
            got.append(seq)
    assert got == [63092988, 63092989]
    assert "a gap in the lake, not the tip" in str(info.value)


def test_stop_ends_a_tail_waiting_at_the_tip() -> None:
    source = DataLakeLedgerSource(str(LAKES / "pubnet-p26"), poll_interval=0.05)
    threading.Timer(0.3, source.stop).start()
    started = time.monotonic()
    got = [seq for seq, _ in source.ledgers(LAST)]
    assert got == [LAST]
    assert time.monotonic() - started < 3


def test_sample_lakes_rebuild_byte_identical(tmp_path: Path) -> None:
    import runpy

    tool = runpy.run_path(str(REPO / "tools" / "build_sample_lakes.py"))
    tool["main"](["--out", str(tmp_path)])
    built = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    committed = sorted(
        p.relative_to(LAKES) for p in LAKES.rglob("*") if p.is_file() and p.name != "README.md"
    )
    assert built == committed
    for rel in built:
        assert (tmp_path / rel).read_bytes() == (LAKES / rel).read_bytes(), rel
