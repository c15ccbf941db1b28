"""Every file the sink writes (Parquet, JSON lines, CSV, commit records) is fsynced before the rename that
makes it visible, and its folder is fsynced before the commit names it.

The real ``os.fsync``/``os.replace`` run; the test only records, in order, which path each call touched.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from stellar_arrow.config import SinkSettings
from stellar_arrow.sink import DatasetSink, write_atomically
from stellar_arrow.sink.manifest import MANIFEST_DIR, PENDING_SUFFIX
from tests.unit.sink.realdata import ledger_tables, schemas


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, str, str]]:
    seen: list[tuple[str, str, str]] = []
    real_fsync, real_replace = os.fsync, os.replace

    def fsync(fd: int) -> None:
        seen.append(("fsync", os.readlink(f"/proc/self/fd/{fd}"), ""))
        real_fsync(fd)

    def replace(src: str | os.PathLike[str], dst: str | os.PathLike[str]) -> None:
        seen.append(("replace", os.fspath(src), os.fspath(dst)))
        real_replace(src, dst)

    monkeypatch.setattr(os, "fsync", fsync)
    monkeypatch.setattr(os, "replace", replace)
    return seen


def test_data_files_and_records_are_fsynced_before_their_rename(
    tmp_path: Path, calls: list[tuple[str, str, str]]
) -> None:
    options = SinkSettings(output_formats=("parquet", "jsonl", "csv"), partition_by=("event_type",))
    with DatasetSink(tmp_path, {"token_transfers": schemas()["token_transfers"]}, options) as sink:
        seq, per = ledger_tables()[0]
        sink.write_batch("token_transfers", per["token_transfers"])
        record = sink.commit()
        assert record is None  # nothing reported complete yet
        sink.advance(seq)
        record = sink.commit()
    assert record is not None and {m.format for m in record.files} == {"parquet", "jsonl", "csv"}
    root = tmp_path.resolve()
    synced = [path for kind, path, _ in calls if kind == "fsync"]
    renames = [(src, dst) for kind, src, dst in calls if kind == "replace"]
    position = {call: i for i, call in enumerate(calls)}
    record_path = str(root / MANIFEST_DIR / "000000000001.json")
    record_rename = next(c for c in calls if c[0] == "replace" and c[2] == record_path)
    for manifest in record.files:
        final = str(root / manifest.path)
        pending = final + PENDING_SUFFIX
        assert (pending, final) in renames, manifest.path
        data_sync = position[("fsync", pending, "")]
        folder_sync = position[("fsync", str(Path(final).parent), "")]
        assert data_sync < folder_sync < position[record_rename] < position[("replace", pending, final)]
    assert str(root / MANIFEST_DIR / ".000000000001.json.tmp") in synced  # the record itself
    assert position[("fsync", str(root / MANIFEST_DIR), "")] > position[record_rename]


def test_write_atomically_leaves_the_old_file_or_the_new_one(tmp_path: Path) -> None:
    target = tmp_path / "table.jsonl"
    write_atomically(target, lambda fh: fh.write(b"old\n"))

    def broken(fh: object) -> None:
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, lambda fh: (fh.write(b"partial"), broken(fh)))
    assert target.read_bytes() == b"old\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["table.jsonl"]  # no temporary file left
    blocked = tmp_path / ".table.jsonl.tmp-x"
    blocked.mkdir()  # the temporary name is taken by a folder: the error is reported, the folder kept
    with pytest.raises(IsADirectoryError):
        write_atomically(target, lambda fh: fh.write(b"new\n"), tmp_name=blocked.name)
    assert blocked.is_dir() and target.read_bytes() == b"old\n"
