"""Fixtures for source integration tests: rpc-replay servers, a fault-injecting RPC proxy, a moto S3."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
import uvicorn
from moto.server import ThreadedMotoServer
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stellar_arrow.source.rpc_replay import ReplayLake, dispatch
from stellar_arrow.source.rpc_server import RpcReplayServer

REPO = Path(__file__).resolve().parents[3]
LAKES = REPO / "data" / "lakes"
PUBNET = "Public Global Stellar Network ; September 2015"
TESTNET = "Test SDF Network ; September 2015"

# A fault inspects (method, request, reply) and returns a replacement Response, or None to pass the reply on.
Fault = Callable[[str, dict[str, Any], dict[str, Any]], Response | None]


class RpcProxy:
    """rpc-replay's dispatcher behind a real HTTP server that can break or refuse replies; logs calls."""

    def __init__(self, lake: ReplayLake) -> None:
        self.lake = lake
        self.faults: list[Fault | None] = []  # None: this call is answered as is
        #: only calls of these methods take the next fault (None: every call)
        self.fault_methods: frozenset[str] | None = None
        self.calls: list[tuple[str, dict[str, Any], dict[str, Any]]] = []
        self.lock = threading.Lock()

    def app(self) -> Starlette:
        async def rpc(request: Request) -> Response:
            body = await request.body()
            parsed = orjson.loads(body)
            reply = await run_in_threadpool(dispatch, self.lake, body)
            method = parsed.get("method", "")
            with self.lock:
                self.calls.append((method, parsed, reply))
                hit = self.fault_methods is None or method in self.fault_methods
                fault = self.faults.pop(0) if self.faults and hit else None
            if fault is not None:
                replaced = fault(method, parsed, reply)
                if replaced is not None:
                    return replaced
            return Response(orjson.dumps(reply), media_type="application/json")

        return Starlette(routes=[Route("/", rpc, methods=["POST"])])

    def methods(self) -> list[str]:
        return [m for m, _, _ in self.calls]


class AppServer:
    """Any ASGI app on 127.0.0.1, free port, background thread."""

    def __init__(self, app: Starlette) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}/"
        self.server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, kwargs={"sockets": [self.sock]}, daemon=True)

    def __enter__(self) -> AppServer:
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        assert self.server.started
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
        self.sock.close()


@pytest.fixture(scope="module")
def replay_lake() -> ReplayLake:
    return ReplayLake(str(LAKES / "pubnet-p26"))


@pytest.fixture(scope="module")
def rpc_url(replay_lake: ReplayLake) -> Iterator[str]:
    with RpcReplayServer(replay_lake) as server:
        yield server.url


@pytest.fixture
def proxy(replay_lake: ReplayLake) -> Iterator[tuple[RpcProxy, str]]:
    rpc = RpcProxy(replay_lake)
    with AppServer(rpc.app()) as server:
        yield rpc, server.url


BUCKET = "aws-public-blockchain"
ROOT = "v1.1/stellar/ledgers/pubnet"


def _upload(client: object, lake: Path, prefix: str) -> None:
    for path in sorted(lake.rglob("*")):
        if path.is_file():
            key = f"{prefix}/{path.relative_to(lake).as_posix()}"
            client.put_object(Bucket=BUCKET, Key=key, Body=path.read_bytes(), ACL="public-read")  # type: ignore[attr-defined]


@pytest.fixture(scope="session")  # moto keeps its buckets per process: one server per process
def s3_endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client(
        "s3",
        endpoint_url=endpoint,
        aws_access_key_id="test",
        aws_secret_access_key="test",
        region_name="us-east-2",
    )
    client.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": "us-east-2"})
    client.put_bucket_acl(Bucket=BUCKET, ACL="public-read")  # like the AWS open-data bucket: anonymous read
    _upload(client, LAKES / "pubnet-p26", ROOT)
    _upload(client, LAKES / "pubnet-p26-batch4", "lakes/batch4")
    _upload(client, LAKES / "testnet" / "2024-02-06-zstd", "lakes/old-zstd")
    # a sibling root whose name extends ours: must not be seen when listing ours (go PR #5788)
    _upload(client, LAKES / "testnet" / "2026-03-02", f"{ROOT}-1")
    client.delete_object(Bucket=BUCKET, Key=f"{ROOT}-1/.config.json")
    client.put_object(Bucket=BUCKET, Key="private/.config.json", Body=b"{}", ACL="private")
    client.put_object(
        Bucket=BUCKET, Key=f"{ROOT}-1/FFFFFFFF--0-63999/00000000--4294967295.xdr.zst", Body=b"x"
    )
    yield endpoint
    server.stop()


def s3_options(endpoint: str) -> dict[str, object]:
    return {
        "endpoint_url": endpoint,
        "key": "test",
        "secret": "test",
        "client_kwargs": {"region_name": "us-east-2"},
    }
