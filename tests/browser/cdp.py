"""A minimal Chrome DevTools Protocol driver for Debian's chromium (headless), over the websockets package."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import itertools
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson
from websockets.asyncio.client import ClientConnection, connect

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-dev-shm-usage",
    "--remote-debugging-port=0",
    "--window-size=1280,900",
)


def find_or_install_chromium() -> str:
    """Path of chromium; installs Debian's package when missing (the test machine runs as root)."""
    found = shutil.which("chromium")
    if found:
        return found
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env, capture_output=True, timeout=600)
    done = subprocess.run(
        ["apt-get", "install", "-y", "-qq", "chromium"],
        check=False,
        env=env,
        capture_output=True,
        timeout=900,
    )
    found = shutil.which("chromium")
    if not found:
        msg = f"chromium is missing and apt-get install failed: {done.stderr.decode(errors='replace')[-500:]}"
        raise RuntimeError(msg)
    return found


class Browser:
    """One headless chromium process and a CDP session on one page."""

    def __init__(self, executable: str) -> None:
        self.profile = tempfile.TemporaryDirectory(prefix="chromium-profile-", ignore_cleanup_errors=True)
        self.process = subprocess.Popen(
            [executable, *FLAGS, f"--user-data-dir={self.profile.name}", "about:blank"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # its own process group: close() ends every chromium process
        )
        self._ids = itertools.count(1)
        self._ws: ClientConnection | None = None
        self._session: str | None = None
        self.console: list[str] = []

    def _endpoint(self, timeout: float = 30.0) -> str:
        marker = Path(self.profile.name) / "DevToolsActivePort"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker.is_file():
                lines = marker.read_text().split()
                if len(lines) >= 2:
                    return f"ws://127.0.0.1:{lines[0]}{lines[1]}"
            if self.process.poll() is not None:
                msg = f"chromium exited with {self.process.returncode}"
                raise RuntimeError(msg)
            time.sleep(0.05)
        raise RuntimeError("chromium did not open its DevTools port")

    async def open(self) -> None:
        self._ws = await connect(self._endpoint(), max_size=None, compression=None)
        target = await self.call("Target.createTarget", {"url": "about:blank"}, browser=True)
        attached = await self.call(
            "Target.attachToTarget", {"targetId": target["targetId"], "flatten": True}, browser=True
        )
        self._session = attached["sessionId"]
        await self.call("Page.enable")
        await self.call("Runtime.enable")
        await self.call(
            "Emulation.setDeviceMetricsOverride",
            {"width": 1280, "height": 900, "deviceScaleFactor": 1, "mobile": False},
        )

    async def call(self, method: str, params: dict[str, Any] | None = None, *, browser: bool = False) -> Any:
        assert self._ws is not None
        ident = next(self._ids)
        message: dict[str, Any] = {"id": ident, "method": method, "params": params or {}}
        if not browser:
            message["sessionId"] = self._session
        await self._ws.send(orjson.dumps(message).decode())
        while True:
            reply = orjson.loads(await asyncio.wait_for(self._ws.recv(), 30))
            if reply.get("method") == "Runtime.consoleAPICalled":
                args = reply["params"].get("args", [])
                self.console.append(" ".join(str(a.get("value", a.get("description", ""))) for a in args))
            if reply.get("id") == ident:
                if "error" in reply:
                    msg = f"{method}: {reply['error']}"
                    raise RuntimeError(msg)
                return reply.get("result", {})

    async def evaluate(self, expression: str) -> Any:
        result = await self.call("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        if "exceptionDetails" in result:
            msg = f"{expression}: {result['exceptionDetails']}"
            raise RuntimeError(msg)
        return result["result"].get("value")

    async def screenshot(self, path: Path) -> None:
        shot = await self.call("Page.captureScreenshot", {"format": "png"})
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    async def close(self) -> None:
        if self._ws is not None:
            await self._ws.close()
        group = os.getpgid(self.process.pid)
        os.killpg(group, signal.SIGTERM)
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(group, signal.SIGKILL)
            self.process.wait(5)
        with contextlib.suppress(ProcessLookupError):  # renderer/GPU children still writing the profile
            os.killpg(group, signal.SIGKILL)
        self.profile.cleanup()
