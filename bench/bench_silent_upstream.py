"""How long a call to an upstream that accepts connections and never answers takes to fail, with the
default limits (``NetworkTimeouts()``: connect 5 s, read 10 s, call 30 s; ``RetryPolicy()``: 5 attempts
within a 20 s budget), for the RPC client and the S3 lake store.

    .venv/bin/python bench/bench_silent_upstream.py

The silent upstream is a listening socket on loopback that never accepts: the kernel completes the
connections (backlog), no byte is ever answered, so every attempt ends by its read timeout.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable

from stellar_arrow.errors import StellarArrowError
from stellar_arrow.ledger import TESTNET
from stellar_arrow.resilience import RetryPolicy
from stellar_arrow.source.rpc import RpcLedgerSource
from stellar_arrow.source.storage import LakeStore


def seconds_to_fail(call: Callable[[], object]) -> tuple[float, str]:
    started = time.monotonic()
    try:
        call()
    except StellarArrowError as exc:
        return time.monotonic() - started, type(exc).__name__
    msg = "the silent upstream answered"
    raise AssertionError(msg)


def main() -> None:
    with socket.create_server(("127.0.0.1", 0), backlog=64) as silent:
        endpoint = f"http://127.0.0.1:{silent.getsockname()[1]}"
        rpc = RpcLedgerSource(endpoint, network_passphrase=TESTNET.passphrase, retry=RetryPolicy())
        store = LakeStore(
            "s3://silent-bench/lake",
            storage_options={"endpoint_url": endpoint, "anon": True},
            retry=RetryPolicy(),
        )
        for name, call in (("rpc getLatestLedger", rpc.latest_ledger), ("s3 read", lambda: store.read("x"))):
            elapsed, error = seconds_to_fail(call)
            print(f"{name:20s} failed after {elapsed:5.1f} s ({error})", flush=True)


if __name__ == "__main__":
    main()
