"""``stellar-arrow run`` as real processes over a live RPC source (rpc-replay of the sample lake).

The rpc-replay server runs in the test process on a free port; its release clock stands still until
:meth:`LivePipeline.release` is called, so a test can connect (a WebSocket, a browser) before the later
ledgers exist. The pipeline's sink serves the HTTP API on a free port; its URL is read from the
``dashboard at ...`` line that ``run`` prints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from stellar_arrow.source.rpc_replay import ReplayLake
from stellar_arrow.source.rpc_server import RpcReplayServer

REPO = Path(__file__).resolve().parents[3]
SAMPLE_LAKE = REPO / "data" / "lakes" / "pubnet-p26"
FIRST, LAST = 63092982, 63093001
CLI = [sys.executable, "-c", "from stellar_arrow.cli import main; main()"]


class ReleaseClock:
    """rpc-replay's clock: 0 until :meth:`start`, then seconds since."""

    def __init__(self) -> None:
        self._t0: float | None = None

    def start(self) -> None:
        self._t0 = time.monotonic()

    def __call__(self) -> float:
        return 0.0 if self._t0 is None else time.monotonic() - self._t0


@dataclass
class LivePipeline:
    process: subprocess.Popen[str]
    out: Path
    api_url: str
    clock: ReleaseClock
    lines: list[str] = field(default_factory=list)

    @property
    def ws_url(self) -> str:
        return self.api_url.replace("http://", "ws://", 1) + "/ws"

    def release(self) -> None:
        """Start releasing the later ledgers (one per ``ledger_interval``)."""
        self.clock.start()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGINT ``run`` (as Ctrl-C does) and return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
        return self.process.wait(timeout)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
    env["GRPC_VERBOSITY"] = "ERROR"
    return env


@contextmanager
def live_pipeline(tmp_path: Path, *, available: int, ledger_interval: float) -> Iterator[LivePipeline]:
    """``stellar-arrow run`` following rpc-replay from FIRST; ledgers up to ``available`` exist at start."""
    clock = ReleaseClock()
    replay = ReplayLake(str(SAMPLE_LAKE), start_at=available, ledger_interval=ledger_interval, clock=clock)
    with RpcReplayServer(replay) as rpc:
        out = tmp_path / "out"
        config = tmp_path / "pipeline.yaml"
        doc = {
            "source": {
                "source_type": "rpc",
                "rpc_endpoint": rpc.url,
                "network_passphrase": "pubnet",
                "start_ledger": FIRST,
                "live": True,
                "table_workers": 0,
                "flight_port": 0,
                "health_port": 0,
            },
            "processor": {"flight_port": 0, "health_port": 0},
            "sink": {"flight_port": 0, "health_port": 0, "output_dir": str(out), "flush_interval_s": 0.25},
            "api": {"api_port": 0},
        }
        config.write_text(yaml.safe_dump(doc), encoding="utf-8")
        process = subprocess.Popen(
            [*CLI, "run", "--config", str(config)],
            cwd=REPO,
            env=_env(),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        lines: list[str] = []
        assert process.stdout is not None
        reader = threading.Thread(target=lambda: lines.extend(process.stdout or ()), daemon=True)
        reader.start()
        try:
            deadline = time.monotonic() + 60
            url = None
            while url is None:
                url = next((ln.split()[2] for ln in lines if ln.startswith("dashboard at ")), None)
                assert process.poll() is None, f"run exited early: {''.join(lines)}"
                assert time.monotonic() < deadline, f"no dashboard URL printed: {''.join(lines)}"
                time.sleep(0.05)
            yield LivePipeline(process, out, url.rstrip("/"), clock, lines)
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(30)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
            reader.join(5)
