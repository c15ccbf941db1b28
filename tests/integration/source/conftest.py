"""Fixtures for source integration tests: rpc-replay servers and a fault-injecting RPC proxy."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
import uvicorn
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
        self.faults: list[Fault] = []
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
                fault = self.faults.pop(0) if self.faults else None
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
