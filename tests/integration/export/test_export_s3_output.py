"""``export --output s3://bucket/prefix``: the chunks written straight to a real (moto) S3 server.

The S3 output equals the local output object for object, byte for byte (one process and ``--cluster
local:2``); a re-run skips the chunks whose manifest and objects still match; a chunk with its data
objects but no manifest (a crash before the commit) or with an altered object is written again.
Credentials come from the environment only.
"""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import load_settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.export import run_export
from stellar_arrow.scaleout import task_settings
from tests.conftest import DATA
from tests.integration.resilience.moto_s3 import REGION, RestartableMoto
from tests.output_trees import assert_same_files

pytestmark = pytest.mark.integration
FIRST, LAST = 63092982, 63093001
TABLES = ("ledgers", "transactions", "token_transfers")
LAKE = DATA / "lakes" / "pubnet-p26"
KEY_ID, SECRET = "AKIAWORKERENVONLY", "worker-environment-secret"  # moto accepts any


@pytest.fixture(scope="module")
def moto() -> Iterator[RestartableMoto]:
    server = RestartableMoto().start()
    yield server
    server.stop()


@pytest.fixture
def s3_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials in the environment (as on a worker machine), never in the settings."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)


@pytest.fixture
def bucket(moto: RestartableMoto, request: pytest.FixtureRequest) -> str:
    name = "out-" + request.node.name.replace("_", "-")[:50].lower().strip("-")
    moto.client().create_bucket(Bucket=name)  # type: ignore[attr-defined]
    return name


def _objects(moto: RestartableMoto, bucket: str, prefix: str) -> dict[str, bytes]:
    client: Any = moto.client()
    found: dict[str, bytes] = {}
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=f"{prefix}/"):
        for item in page.get("Contents", []):
            body = client.get_object(Bucket=bucket, Key=item["Key"])["Body"].read()
            found[item["Key"][len(prefix) + 1 :]] = body
    return found


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def _settings(output: str, moto: RestartableMoto, **export: Any) -> Any:
    return load_settings(
        source={"datalake_uri": str(LAKE), "start_ledger": FIRST, "end_ledger": LAST},
        export={
            "output_dir": output,
            "output_storage_options": {"endpoint_url": moto.endpoint},
            "tables": TABLES,
            "chunk_size": 10,
            **export,
        },
    )


@pytest.fixture(scope="module")
def local_output(tmp_path_factory: pytest.TempPathFactory) -> dict[str, bytes]:
    out = tmp_path_factory.mktemp("local")
    settings = load_settings(
        source={"datalake_uri": str(LAKE), "start_ledger": FIRST, "end_ledger": LAST},
        export={"output_dir": str(out), "tables": TABLES, "chunk_size": 10},
    )
    run_export(settings)
    return _files(out)


def test_s3_output_equals_local_output_and_resumes(
    moto: RestartableMoto, bucket: str, s3_env: None, local_output: dict[str, bytes]
) -> None:
    url = f"s3://{bucket}/backfill/v1"
    args = ["export", "--source", str(LAKE), "--start", str(FIRST), "--end", str(LAST)]
    args += ["--output", url, "--output-option", f"endpoint_url={moto.endpoint}"]
    args += ["--tables", ",".join(TABLES), "--chunk-size", "10", "--no-progress"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert f"to {url}" in result.output
    assert f"wrote {url}/ledgers/ledgers-{FIRST}-{FIRST + 9}.parquet" in result.output
    assert_same_files(_objects(moto, bucket, "backfill/v1"), local_output)  # object for object, byte for byte
    assert sorted(local_output)[:2] == [
        f"_manifests/chunk-{FIRST}-{FIRST + 9}.json",
        f"_manifests/chunk-{FIRST + 10}-{LAST}.json",
    ]

    again = run_export(_settings(url, moto))
    assert (again.chunks_written, again.chunks_skipped) == (0, 2)  # trusted: manifests and objects match

    client: Any = moto.client()
    # a crash between the data objects and the commit: the data is there, the manifest is not
    client.delete_object(Bucket=bucket, Key=f"backfill/v1/_manifests/chunk-{FIRST + 10}-{LAST}.json")
    # and an object altered after its commit (same size is not enough: the SHA-256 is checked)
    key = f"backfill/v1/transactions/transactions-{FIRST}-{FIRST + 9}.parquet"
    body = bytearray(local_output[key.removeprefix("backfill/v1/")])
    body[len(body) // 2] ^= 0xFF
    client.put_object(Bucket=bucket, Key=key, Body=bytes(body))
    redone = run_export(_settings(url, moto))
    assert redone.chunks_written == 2 and redone.chunks_skipped == 0
    assert redone.replaced == [
        f"{FIRST}-{FIRST + 9}: {url}/transactions/transactions-{FIRST}-{FIRST + 9}.parquet "
        "does not match its manifest's sha256",
        f"{FIRST + 10}-{LAST}: no valid chunk manifest",
    ]
    assert_same_files(_objects(moto, bucket, "backfill/v1"), local_output)


def test_a_missing_bucket_or_bad_credentials_stop_before_any_ledger_is_read(
    moto: RestartableMoto, s3_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ConfigError, match=r"s3://no-such-bucket-here/x/_manifests/.*: no such bucket"):
        run_export(_settings("s3://no-such-bucket-here/x", moto))


def test_cluster_export_to_s3_equals_the_local_output(
    moto: RestartableMoto, bucket: str, s3_env: None, local_output: dict[str, bytes]
) -> None:
    from stellar_arrow.scaleout import ClusterSpec, connect, run_export_on_cluster

    url = f"s3://{bucket}/cluster"
    settings = _settings(url, moto)
    sections = pickle.dumps(task_settings(settings))
    assert KEY_ID.encode() not in sections and SECRET.encode() not in sections  # they stay in the env
    with connect(ClusterSpec(local_workers=2)) as client:  # workers inherit this environment
        summary = run_export_on_cluster(settings, client)
    assert summary.export.chunks_written == 2
    assert_same_files(_objects(moto, bucket, "cluster"), local_output)
    assert [m.first_ledger for m in summary.manifests] == [FIRST, FIRST + 10]


def test_credentials_as_output_options_are_refused_for_a_cluster(moto: RestartableMoto) -> None:
    settings = load_settings(
        source={"datalake_uri": str(LAKE), "start_ledger": FIRST, "end_ledger": LAST},
        export={"output_dir": "s3://b/p", "output_storage_options": {"endpoint_url": "x", "secret": "s"}},
    )
    with pytest.raises(ConfigError, match=r"export.output_storage_options secret are credentials"):
        task_settings(settings)
