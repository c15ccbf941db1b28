"""The lake source against a real S3 API: a moto server on loopback holding copies of the sample lakes."""

from __future__ import annotations

import pytest

from stellar_arrow.errors import ConfigError, LedgerMissingError, NetworkMismatchError
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.source.rpc import RpcLedgerSource

from .conftest import BUCKET, LAKES, PUBNET, ROOT, TESTNET, s3_options

pytestmark = pytest.mark.integration
FIRST, LAST = 63092982, 63093001


@pytest.fixture(scope="module")
def local_ledgers() -> dict[int, bytes]:
    return dict(DataLakeLedgerSource(str(LAKES / "pubnet-p26")).ledgers(FIRST, LAST))


def test_s3_lake_serves_the_same_bytes_as_the_local_lake_and_rpc(
    s3_endpoint: str, local_ledgers: dict[int, bytes], rpc_url: str
) -> None:
    source = DataLakeLedgerSource(
        f"s3://{BUCKET}/{ROOT}", network_passphrase=PUBNET, storage_options=s3_options(s3_endpoint), workers=4
    )
    assert source.schema.extension == "zst"
    assert source.latest_ledger() == LAST  # one listing, not confused by the "-1" sibling root
    from_s3 = list(source.ledgers(FIRST, LAST))
    assert [s for s, _ in from_s3] == list(range(FIRST, LAST + 1))
    assert dict(from_s3) == local_ledgers
    with RpcLedgerSource(rpc_url, network_passphrase=PUBNET, page_size=20) as rpc:
        assert dict(rpc.ledgers(FIRST, LAST)) == local_ledgers


def test_s3_anonymous_access(
    s3_endpoint: str, monkeypatch: pytest.MonkeyPatch, local_ledgers: dict[int, bytes]
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    source = DataLakeLedgerSource(f"s3://{BUCKET}/{ROOT}", storage_options={"endpoint_url": s3_endpoint})
    assert source.network_passphrase == PUBNET
    assert dict(source.ledgers(63092990, 63092991)) == {s: local_ledgers[s] for s in (63092990, 63092991)}
    with pytest.raises(ConfigError, match=f"s3://{BUCKET}/private/.config.json: read denied"):
        DataLakeLedgerSource(f"s3://{BUCKET}/private", storage_options={"endpoint_url": s3_endpoint})


def test_s3_batches_old_extension_and_errors(s3_endpoint: str, local_ledgers: dict[int, bytes]) -> None:
    batch4 = DataLakeLedgerSource(f"s3://{BUCKET}/lakes/batch4", storage_options=s3_options(s3_endpoint))
    assert batch4.latest_ledger() == 63092999
    assert dict(batch4.ledgers(63092983, 63092994)) == {
        s: local_ledgers[s] for s in range(63092983, 63092995)
    }
    old = DataLakeLedgerSource(
        f"s3://{BUCKET}/lakes/old-zstd",
        ledgers_per_batch=1,
        batches_per_partition=1,
        storage_options=s3_options(s3_endpoint),
    )
    assert old.schema.extension == "zstd" and old.latest_ledger() == 999
    assert [s for s, _ in old.ledgers(997, 999)] == [997, 998, 999]
    with pytest.raises(
        LedgerMissingError, match=r"s3://aws-public-blockchain/lakes/old-zstd/FFFFFC17--1000.xdr.zstd"
    ):
        list(old.ledgers(998, 1000))
    with pytest.raises(NetworkMismatchError, match=f"s3://{BUCKET}/{ROOT}/.config.json"):
        DataLakeLedgerSource(
            f"s3://{BUCKET}/{ROOT}", network_passphrase=TESTNET, storage_options=s3_options(s3_endpoint)
        )
