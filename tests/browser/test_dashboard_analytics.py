"""The dashboard's rolling-window panel in headless chromium with authentication on: numbers from the
REST answer at first, then updated live from the WebSocket ``analytics`` channel as ledgers arrive."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from tests.browser.cdp import Browser, find_or_install_chromium
from tests.browser.test_dashboard import ARTIFACTS, _wait_for, sign_in
from tests.integration.security.api_server import start_secured
from tests.integration.security.conftest import Keys, security_settings
from tests.integration.security.conftest import keys as keys

pytestmark = [pytest.mark.integration, pytest.mark.browser]

LIVE = "document.getElementById('connection')?.dataset.state === 'live'"
PANEL = """({
  events: document.getElementById('win-events')?.textContent,
  transfers: document.getElementById('win-transfers')?.textContent,
  fees: document.getElementById('win-fees')?.textContent,
  rows: [...document.querySelectorAll('#win-assets tbody tr')].map(tr => tr.title),
  active: document.querySelector('#analytics button.active')?.dataset.window,
})"""


@pytest.mark.timeout(1200)  # may install chromium with apt-get first
def test_analytics_panel_shows_live_numbers_with_auth_on(tmp_path: Path, keys: Keys) -> None:
    executable = find_or_install_chromium()
    running = start_secured(tmp_path / "out", security_settings(keys), committed=3)

    def realtime(window: str) -> dict[str, object]:
        with running.client(headers={"x-api-key": keys.reader}) as client:
            response = client.get("/api/v1/analytics/realtime", params={"window": window})
            assert response.status_code == 200, response.text
            body: dict[str, object] = response.json()
            return body

    def events_text(window: str) -> str:
        totals = realtime(window)["totals"]
        assert isinstance(totals, dict)
        return f"{totals['events']:,}"

    async def scenario() -> dict[str, object]:
        browser = Browser(executable)
        try:
            await browser.open()
            await sign_in(browser, running.base_url, keys.reader)
            await _wait_for(browser, LIVE, timeout=90)
            first = events_text("1h")
            await _wait_for(browser, f"document.getElementById('win-events')?.textContent === '{first}'")
            seen: dict[str, object] = {"first": await browser.evaluate(PANEL), "first_events": first}
            for index in range(3, 7):  # new ledgers arrive: the panel follows without a reload
                await asyncio.to_thread(running.write_ledger, index)
                await asyncio.sleep(0.2)
            deadline = time.monotonic() + 20
            later = events_text("1h")
            while later == first and time.monotonic() < deadline:
                await asyncio.sleep(0.2)
                later = events_text("1h")
            await _wait_for(browser, f"document.getElementById('win-events')?.textContent === '{later}'")
            seen["later_events"] = later
            await browser.evaluate(
                "document.querySelector('#analytics button[data-window=\"1m\"]').click(); true"
            )
            await _wait_for(
                browser, f"document.getElementById('win-events')?.textContent === '{events_text('1m')}'"
            )
            seen["minute"] = await browser.evaluate(PANEL)
            await browser.evaluate("document.getElementById('analytics').scrollIntoView(); true")
            await browser.screenshot(ARTIFACTS / "dashboard-analytics.png")
            seen["console"] = list(browser.console)
            return seen
        finally:
            await browser.close()

    try:
        seen = asyncio.run(scenario())
    finally:
        running.stop()
    first = seen["first"]
    assert isinstance(first, dict)
    assert int(str(seen["first_events"]).replace(",", "")) > 0
    assert int(str(seen["later_events"]).replace(",", "")) > int(str(seen["first_events"]).replace(",", ""))
    assert first["active"] == "1h" and len(first["rows"]) > 0 and first["fees"] not in ("–", "")
    minute = seen["minute"]
    assert isinstance(minute, dict) and minute["active"] == "1m"
    assert not [line for line in seen["console"] if "Content Security Policy" in str(line)]  # type: ignore[attr-defined]
