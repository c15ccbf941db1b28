"""Every upstream's breaker has a clean name: kind, scheme and authority, never a path or a credential."""

from __future__ import annotations

from pathlib import Path

import pytest

from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.resilience import NetworkTimeouts, RetryPolicy
from stellar_arrow.resilience.breaker import upstream_name
from stellar_arrow.source.rpc_transport import RpcTransport
from stellar_arrow.source.storage import LakeStore


@pytest.mark.parametrize(
    ("kind", "uri", "name"),
    [
        ("lake", "s3://aws-public-blockchain/v1.1/stellar/ledgers/pubnet", "lake:s3://aws-public-blockchain"),
        ("lake", "gs://bucket/root/", "lake:gs://bucket"),
        ("lake", "http://127.0.0.1:8000/lakes/pubnet", "lake:http://127.0.0.1:8000"),
        ("lake", "https://Lake.Example.org/a/b", "lake:https://lake.example.org"),
        ("rpc", "https://user:pw@rpc.example.org/api-key-123/", "rpc:https://rpc.example.org"),
        ("rpc", "http://127.0.0.1:8000/", "rpc:http://127.0.0.1:8000"),
        ("flight", "grpc://127.0.0.1:8815", "flight:grpc://127.0.0.1:8815"),
        ("flight", "grpc+tls://[::1]:8816", "flight:grpc+tls://[::1]:8816"),
    ],
)
def test_upstream_names(kind: str, uri: str, name: str) -> None:
    assert upstream_name(kind, uri) == name


def _gauge(name: str) -> float | None:
    return REGISTRY.get_sample_value("circuit_breaker_state", {"name": name})


def test_an_http_lake_is_named_by_its_host_and_port() -> None:
    store = LakeStore("http://127.0.0.1:1/lakes/pubnet-p26")
    assert store._breaker is not None
    assert store._breaker.name == "lake:http://127.0.0.1:1"
    assert _gauge("lake:http://127.0.0.1:1") == 0
    assert _gauge("lake:http://http:") is None  # the old, broken name


def test_a_local_lake_has_no_breaker(tmp_path: Path) -> None:
    assert LakeStore(str(tmp_path))._breaker is None


def test_rpc_endpoints_are_named_without_their_path() -> None:
    transport = RpcTransport(
        ["https://rpc.example.org/secret-key/", "http://127.0.0.1:2/"],
        retry=RetryPolicy(attempts=1),
        timeouts=NetworkTimeouts(),
    )
    try:
        names = [e.breaker.name for e in transport.endpoints]
    finally:
        transport.close()
    assert names == ["rpc:https://rpc.example.org", "rpc:http://127.0.0.1:2"]
    assert _gauge("rpc:https://rpc.example.org") == 0
