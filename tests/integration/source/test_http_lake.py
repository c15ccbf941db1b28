"""The lake source over plain HTTP (no listing): a static file server on loopback, with injected failures."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from stellar_arrow.errors import ConfigError, LedgerMissingError, StorageError
from stellar_arrow.source.keys import LakeSchema
from stellar_arrow.source.lake import DataLakeLedgerSource

from .conftest import LAKES, PUBNET

pytestmark = pytest.mark.integration
FIRST, LAST = 63092982, 63093001


class LakeHandler(SimpleHTTPRequestHandler):
    failures: dict[str, int]  # path suffix -> number of 500 replies still to send

    def do_GET(self) -> None:
        for suffix, left in list(self.failures.items()):
            if self.path.endswith(suffix) and left > 0:
                self.failures[suffix] = left - 1
                self.send_error(500, "injected failure")
                return
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def http_lake(tmp_path: Path) -> Iterator[tuple[str, Path, dict[str, int]]]:
    root = tmp_path / "www"
    shutil.copytree(LAKES / "pubnet-p26", root / "pubnet-p26")
    failures: dict[str, int] = {}
    handler = partial(type("H", (LakeHandler,), {"failures": failures}), directory=str(root))
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/pubnet-p26", root / "pubnet-p26", failures
    server.shutdown()
    server.server_close()


def test_http_lake_reads_manifest_and_ranges(http_lake: tuple[str, Path, dict[str, int]]) -> None:
    url, _, _ = http_lake
    source = DataLakeLedgerSource(url, network_passphrase=PUBNET)
    assert source.schema == LakeSchema(1, 64000, "zst")  # from the manifest; extension defaults to zst
    local = dict(DataLakeLedgerSource(str(LAKES / "pubnet-p26")).ledgers(FIRST, LAST))
    assert dict(source.ledgers(FIRST, LAST)) == local
    with pytest.raises(ConfigError, match="cannot be listed"):
        source.latest_ledger()
    with pytest.raises(LedgerMissingError, match=r"FC3D46F5--63093002\.xdr\.zst"):
        list(source.ledgers(LAST, LAST + 1))


def test_http_errors_are_retried_then_typed(http_lake: tuple[str, Path, dict[str, int]]) -> None:
    url, _, failures = http_lake
    source = DataLakeLedgerSource(url, retry_attempts=3, retry_wait=0.01)
    failures["--63092990.xdr.zst"] = 2  # two 500s, then the object
    assert [s for s, _ in source.ledgers(63092989, 63092991)] == [63092989, 63092990, 63092991]
    assert failures["--63092990.xdr.zst"] == 0
    failures["--63092991.xdr.zst"] = 10
    with pytest.raises(StorageError, match=r"FC3D4700--63092991\.xdr\.zst: read failed") as info:
        list(source.ledgers(63092991, 63092991))
    assert info.value.object_key is not None and info.value.object_key.endswith("FC3D4700--63092991.xdr.zst")


def test_http_lake_tail_polls_past_404(http_lake: tuple[str, Path, dict[str, int]]) -> None:
    url, root, _ = http_lake
    last = root / LakeSchema(1, 64000).batch_key(LAST).key
    saved = last.read_bytes()
    last.unlink()
    source = DataLakeLedgerSource(url, poll_interval=0.05)

    def publish() -> None:
        time.sleep(0.3)
        partial_name = last.with_name("upload.tmp")
        partial_name.write_bytes(saved)
        partial_name.rename(last)  # atomic, like an object store PUT

    threading.Thread(target=publish).start()
    got = []
    for seq, _ in source.ledgers(LAST - 1):
        got.append(seq)
        if seq == LAST:
            source.stop()
    assert got == [LAST - 1, LAST]
