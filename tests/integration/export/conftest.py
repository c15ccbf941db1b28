"""Fixtures for export tests: a writable copy of the sample lake, object paths, a moto S3 server."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from stellar_arrow.source.keys import LakeSchema
from tests.conftest import DATA

SAMPLE_LAKE = DATA / "lakes" / "pubnet-p26"
FIRST, LAST = 63092982, 63093001
BUCKET = "stellar-lake"


def object_path(lake: Path, ledger_sequence: int) -> Path:
    """The object holding ``ledger_sequence`` in a lake laid out like the sample lake (1 ledger/object)."""
    return lake / LakeSchema(1, 64000, "zst").batch_key(ledger_sequence).key


@pytest.fixture
def lake_copy(tmp_path: Path) -> Path:
    """A writable copy of the sample lake (to corrupt objects in)."""
    target = tmp_path / "lake"
    shutil.copytree(SAMPLE_LAKE, target)
    return target


@pytest.fixture(scope="module")
def s3_lake() -> Iterator[tuple[str, dict[str, object]]]:
    """``(s3://bucket/root, storage options)``: the sample lake uploaded to a moto S3 server on loopback."""
    import boto3
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    credentials = {"aws_access_key_id": "test", "aws_secret_access_key": "test"}
    client = boto3.client("s3", endpoint_url=endpoint, region_name="us-east-1", **credentials)
    client.create_bucket(Bucket=BUCKET)
    for path in sorted(SAMPLE_LAKE.rglob("*")):
        if path.is_file():
            key = f"pubnet/{path.relative_to(SAMPLE_LAKE).as_posix()}"
            client.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes())
    options: dict[str, object] = {
        "endpoint_url": endpoint,
        "key": "test",
        "secret": "test",
        "client_kwargs": {"region_name": "us-east-1"},
    }
    yield f"s3://{BUCKET}/pubnet", options
    server.stop()
