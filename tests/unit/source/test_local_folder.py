"""A lake in a local folder is read with plain file I/O (fsspec is not even imported) and behaves as it
did through fsspec: same bytes, same listing, the same typed errors naming the object."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import zstandard

from stellar_arrow.errors import LedgerMissingError, LedgerObjectError
from stellar_arrow.source.keys import LakeSchema
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.source.storage import LakeStore, ObjectNotFound
from tests.conftest import REPO

LAKES = REPO / "data" / "lakes"
FIRST, LAST = 63092982, 63093001


@pytest.fixture
def lake(tmp_path: Path) -> Path:
    target = tmp_path / "pubnet-p26"
    shutil.copytree(LAKES / "pubnet-p26", target)
    return target


def _key(seq: int) -> str:
    return LakeSchema(1, 64000).batch_key(seq).key


def test_a_local_lake_is_read_without_importing_fsspec() -> None:
    script = textwrap.dedent(
        f"""
        import sys
        from stellar_arrow.source.lake import DataLakeLedgerSource

        source = DataLakeLedgerSource({str(LAKES / "pubnet-p26")!r})
        assert source.latest_ledger() == {LAST}
        assert len(list(source.ledgers({FIRST}, {LAST}))) == {LAST - FIRST + 1}
        print("fsspec" in sys.modules)
        """
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


@pytest.mark.parametrize("spelling", ["path", "file-uri", "relative"])
def test_plain_reads_and_listing_equal_fsspec_s(
    lake: Path, spelling: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(lake.parent)
    uri = {"path": str(lake), "file-uri": f"file://{lake}", "relative": lake.name}[spelling]
    plain = LakeStore(uri)
    through_fsspec = LakeStore(f"local://{lake}")  # fsspec's local filesystem: the former way
    assert plain._fs is None and through_fsspec._fs is not None
    assert plain.newest_object() == through_fsspec.newest_object()
    assert plain.newest_object() == (_key(LAST), plain.newest_object()[1])  # type: ignore[index]
    for key in (".config.json", _key(FIRST), _key(LAST)):
        assert plain.read(key) == through_fsspec.read(key) == (lake / key).read_bytes()


def test_a_missing_object_or_folder_is_object_not_found_naming_it(lake: Path) -> None:
    for store in (LakeStore(str(lake)), LakeStore(f"local://{lake}")):
        with pytest.raises(ObjectNotFound) as info:
            store.read(_key(LAST + 1))
        assert str(info.value) == store.object_uri(_key(LAST + 1))
    for store in (LakeStore(str(lake / "nope")), LakeStore(f"local://{lake}/nope")):
        with pytest.raises(ObjectNotFound):
            store.newest_object()


def test_an_empty_folder_holds_no_objects(tmp_path: Path) -> None:
    assert LakeStore(str(tmp_path)).newest_object() is None


def test_a_folder_in_place_of_an_object_is_a_typed_error_naming_it(lake: Path) -> None:
    path = lake / _key(63092990)
    path.unlink()
    path.mkdir()
    messages = []
    for uri in (str(lake), f"local://{lake}"):
        with pytest.raises(LedgerObjectError) as info:
            LakeStore(uri).read(_key(63092990))
        assert path.name in str(info.value) and info.value.object_key is not None
        messages.append(str(info.value).replace("local://", ""))
    assert messages[0] == messages[1]


def test_a_missing_object_in_a_range_names_the_object(lake: Path) -> None:
    (lake / _key(63092990)).unlink()
    source = DataLakeLedgerSource(str(lake))
    with pytest.raises(LedgerMissingError) as info:
        list(source.ledgers(FIRST, LAST))
    assert info.value.ledger_sequence == 63092990
    assert info.value.object_key == f"{lake}/{_key(63092990)}"


def test_bad_zstd_is_a_typed_error_naming_the_object(lake: Path) -> None:
    path = lake / _key(63092983)
    path.write_bytes(b"\x28\xb5\x2f\xfd" + b"garbage!" * 10)
    with pytest.raises(LedgerObjectError, match="corrupt zstd") as info:
        list(DataLakeLedgerSource(str(lake)).ledgers(63092983, 63092983))
    assert info.value.object_key == f"{lake}/{_key(63092983)}"
    path.write_bytes(zstandard.ZstdCompressor().compress(b"\x00\x00\x00"))
    with pytest.raises(LedgerObjectError, match="LedgerCloseMetaBatch truncated") as info:
        list(DataLakeLedgerSource(f"file://{lake}").ledgers(63092983, 63092983))
    assert info.value.object_key == f"file://{lake}/{_key(63092983)}"
