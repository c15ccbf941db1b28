"""Run the ``rpc-replay`` app with uvicorn: in the foreground (CLI) or on a background thread (tests)."""

from __future__ import annotations

import socket
import threading
import time

import uvicorn

from stellar_arrow.errors import ConfigError
from stellar_arrow.source.open import check_local_lake
from stellar_arrow.source.rpc_replay import ReplayLake, create_rpc_replay_app

__all__ = ["RpcReplayServer", "serve_rpc_replay"]


class RpcReplayServer:
    """rpc-replay on a background thread; ``port=0`` picks a free port (see :attr:`url`)."""

    def __init__(self, lake: ReplayLake, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.lake = lake
        self.host = host
        self._socket = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            self._socket.bind((host, port))
        except OSError as exc:
            self._socket.close()
            msg = f"rpc-replay cannot listen on {host}:{port}: {exc}"
            raise ConfigError(msg, key="port") from exc
        self.port: int = self._socket.getsockname()[1]
        config = uvicorn.Config(
            create_rpc_replay_app(lake), log_level="warning", lifespan="off", timeout_graceful_shutdown=2
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._socket]}, name="rpc-replay", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/"

    def run(self) -> None:
        """Serve in the calling thread until SIGINT/SIGTERM."""
        try:
            self._server.run(sockets=[self._socket])
        finally:
            self._socket.close()

    def start(self, timeout: float = 10.0) -> RpcReplayServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                msg = f"rpc-replay did not start on {self.url}"
                raise ConfigError(msg, key="port")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=10)
        self._socket.close()

    def __enter__(self) -> RpcReplayServer:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()


def serve_rpc_replay(
    lake_path: str,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    start_at: int | None = None,
    ledger_interval: float = 5.0,
) -> None:
    """Serve ``lake_path`` in the foreground until interrupted (the ``stellar-arrow rpc-replay`` command)."""
    check_local_lake(lake_path)
    lake = ReplayLake(lake_path, start_at=start_at, ledger_interval=ledger_interval)
    server = RpcReplayServer(lake, host=host, port=port)
    span = f"{lake.oldest_ledger}-{lake.lake_latest}"
    release = f", releasing from {start_at} every {ledger_interval}s" if start_at is not None else ""
    print(f"rpc-replay: {lake_path} ({lake.network_passphrase}), ledgers {span}{release}", flush=True)
    print(f"rpc-replay: listening on {server.url}", flush=True)
    server.run()
