"""The dashboard in headless chromium with authentication on: sign in with an API key, stream live;
a page from another origin cannot open ``/ws`` even though the browser holds the session cookie."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from stellar_arrow.security import ApiKeyStore
from tests.browser.cdp import Browser, find_or_install_chromium
from tests.browser.test_dashboard import _wait_for, sign_in
from tests.integration.security.api_server import start_secured
from tests.integration.security.conftest import Keys, security_settings
from tests.integration.security.conftest import keys as keys
from tests.unit.sink.realdata import ledger_tables

pytestmark = [pytest.mark.integration, pytest.mark.browser]

LIVE = "document.getElementById('connection')?.dataset.state === 'live'"


def _evil_page(api_port: int) -> bytes:
    return f"""<!doctype html><html><body><script>
    window.result = "pending";
    const ws = new WebSocket("ws://127.0.0.1:{api_port}/ws");
    ws.onopen = () => {{ window.result = "opened"; }};
    ws.onclose = (e) => {{ if (window.result === "pending") window.result = "closed " + e.code; }};
    fetch("http://127.0.0.1:{api_port}/api/v1/transfers?limit=1", {{credentials: "include"}})
      .then(r => r.text()).then(t => {{ window.read = t; }}, e => {{ window.read = "blocked"; }});
    </script></body></html>""".encode()


@pytest.fixture
def evil_site() -> Iterator[tuple[ThreadingHTTPServer, list[bytes]]]:
    page: list[bytes] = [b""]

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("content-type", "text/html")
            self.end_headers()
            self.wfile.write(page[0])

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server, page
    server.shutdown()


@pytest.mark.timeout(1200)
def test_dashboard_signs_in_and_streams_and_other_origins_cannot_read(
    tmp_path: Path,
    keys: Keys,
    evil_site: tuple[ThreadingHTTPServer, list[bytes]],
) -> None:
    executable = find_or_install_chromium()
    running = start_secured(tmp_path / "out", security_settings(keys), committed=3)
    evil, page = evil_site
    page[0] = _evil_page(running.server.port)
    last_seq = ledger_tables()[8][0]

    def stream() -> None:
        for index in range(3, 9):
            running.write_ledger(index)
            time.sleep(0.25)

    async def scenario() -> dict[str, object]:
        browser = Browser(executable)
        try:
            await browser.open()
            await sign_in(browser, running.base_url, keys.reader)
            await _wait_for(browser, LIVE, timeout=90)
            writer = threading.Thread(target=stream)
            writer.start()
            await _wait_for(browser, f"document.getElementById('last-ledger')?.textContent === '{last_seq}'")
            writer.join()
            seen: dict[str, object] = {"cookie_visible": await browser.evaluate("document.cookie")}
            await browser.call("Page.navigate", {"url": f"http://127.0.0.1:{evil.server_address[1]}/"})
            seen["ws"] = await _wait_for(browser, "window.result !== 'pending' && window.result")
            seen["read"] = await _wait_for(browser, "window.read")
            # revoking the key ends the session: the dashboard goes back to the sign-in page
            await browser.call("Page.navigate", {"url": running.base_url + "/"})
            await _wait_for(browser, LIVE, timeout=90)
            await asyncio.to_thread(ApiKeyStore(keys.store).revoke, "reader-001")
            await _wait_for(browser, "location.pathname === '/static/login.html'", timeout=20)
            return seen
        finally:
            await browser.close()

    try:
        seen = asyncio.run(scenario())
    finally:
        running.stop()
    assert seen["cookie_visible"] == ""  # HttpOnly: scripts cannot read the session
    assert str(seen["ws"]).startswith("closed")  # Origin check: the handshake is refused
    assert seen["read"] == "blocked"  # no CORS grant for that origin
