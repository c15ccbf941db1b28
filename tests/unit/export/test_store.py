"""The output stores of an export: a local folder and any fsspec URL (here ``memory://``), same objects."""

from __future__ import annotations

from pathlib import Path

import fsspec
import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.export import run_export
from stellar_arrow.export.store import LocalOutput, ObjectStoreOutput, is_remote, open_output
from tests.conftest import DATA

FIRST, LAST = 63092982, 63092991
LAKE = DATA / "lakes" / "pubnet-p26"


def _export(output: str) -> None:
    settings = load_settings(
        source={"datalake_uri": str(LAKE), "start_ledger": FIRST, "end_ledger": LAST},
        export={"output_dir": output, "tables": ("ledgers", "transactions"), "chunk_size": 5},
    )
    run_export(settings)


def test_an_fsspec_url_gets_the_same_objects_as_a_folder(tmp_path: Path) -> None:
    _export(str(tmp_path / "local"))
    _export("memory://stellar-arrow-test/out")
    fs = fsspec.filesystem("memory")
    remote = {
        p.removeprefix("/stellar-arrow-test/out/"): fs.cat_file(p)
        for p in fs.find("/stellar-arrow-test/out")
        if ".stellar-arrow-write-probe" not in p
    }
    local = {
        p.relative_to(tmp_path / "local").as_posix(): p.read_bytes()
        for p in (tmp_path / "local").rglob("*")
        if p.is_file()
    }
    assert remote == local
    assert len(local) == 6  # 2 chunks x (2 tables + manifest)


@pytest.mark.parametrize(
    ("uri", "remote"),
    [("out/x", False), ("/abs/x", False), ("file:///abs/x", False), ("s3://b/p", True), ("memory://m", True)],
)
def test_which_outputs_are_object_stores(uri: str, remote: bool) -> None:
    assert is_remote(uri) is remote


def test_open_output_picks_the_store(tmp_path: Path) -> None:
    assert isinstance(open_output(str(tmp_path)), LocalOutput)
    assert isinstance(open_output(f"file://{tmp_path}"), LocalOutput)
    assert open_output(f"file://{tmp_path}").location("a/b") == f"{tmp_path}/a/b"
    store = open_output("memory://stellar-arrow-test/probe")
    assert isinstance(store, ObjectStoreOutput)
    stored = store.put("t/x.bin", lambda out: out.write(b"abc"))
    assert (stored.bytes, store.size("t/x.bin"), store.read("t/x.bin")) == (3, 3, b"abc")
    assert store.names("t") == ["x.bin"] and store.size("t/nope") is None and store.read("t/nope") is None
    store.remove("t/x.bin")
    assert store.names("t") == []
