from __future__ import annotations

import pytest

from stellar_arrow.errors import ConfigError, LedgerObjectError, NetworkMismatchError
from stellar_arrow.source.manifest import LakeManifest, parse_manifest

PUBNET = "Public Global Stellar Network ; September 2015"


def test_sample_lake_manifest(data_dir) -> None:  # type: ignore[no-untyped-def]
    path = data_dir / "lakes" / "pubnet-p26" / ".config.json"
    manifest = parse_manifest(path.read_bytes(), where=str(path))
    assert manifest == LakeManifest(PUBNET, 1, 64000, "zstd", "1.0")
    assert manifest.to_json() == path.read_bytes()


def test_check_compares_only_given_fields() -> None:
    manifest = LakeManifest(PUBNET, 1, 64000)
    manifest.check(where="m")
    manifest.check(where="m", network_passphrase=PUBNET, ledgers_per_batch=1, batches_per_partition=64000)
    with pytest.raises(NetworkMismatchError, match="Test SDF Network"):
        manifest.check(where="lake/.config.json", network_passphrase="Test SDF Network ; September 2015")
    with pytest.raises(ConfigError, match="ledgersPerBatch is 1 but 8"):
        manifest.check(where="m", ledgers_per_batch=8)
    with pytest.raises(ConfigError, match="batchesPerPartition"):
        manifest.check(where="m", batches_per_partition=1)


@pytest.mark.parametrize(
    ("body", "match"),
    [
        (b"{not json", "not valid JSON"),
        (b"[1]", "must be a JSON object"),
        (b'{"ledgersPerBatch":1,"batchesPerPartition":1}', "networkPassphrase"),
        (b'{"networkPassphrase":"x","ledgersPerBatch":0,"batchesPerPartition":1}', "ledgersPerBatch"),
        (
            b'{"networkPassphrase":"x","ledgersPerBatch":1,"batchesPerPartition":"64000"}',
            "batchesPerPartition",
        ),
        (
            b'{"networkPassphrase":"x","ledgersPerBatch":1,"batchesPerPartition":1,"compression":"gzip"}',
            "gzip",
        ),
    ],
)
def test_bad_manifests_name_the_object(body: bytes, match: str) -> None:
    with pytest.raises(LedgerObjectError, match=match) as info:
        parse_manifest(body, where="s3://bucket/lake/.config.json")
    assert "s3://bucket/lake/.config.json" in str(info.value)
