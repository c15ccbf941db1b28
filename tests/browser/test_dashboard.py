"""The dashboard in a real headless chromium while ledgers stream into the sink; screenshot kept."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

import pytest

from stellar_arrow.config import ApiSettings
from tests.browser.cdp import Browser, find_or_install_chromium
from tests.integration.api.running import start, stop
from tests.unit.sink.realdata import ledger_tables

pytestmark = [pytest.mark.integration, pytest.mark.browser]

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


async def _wait_for(browser: Browser, expression: str, timeout: float = 30) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = await browser.evaluate(expression)
        if value:
            return value
        if time.monotonic() > deadline:
            msg = f"timed out waiting for {expression}; console: {browser.console[-5:]}"
            raise AssertionError(msg)
        await asyncio.sleep(0.2)


async def sign_in(browser: Browser, base_url: str, credential: str) -> None:
    """Open the dashboard, get sent to the sign-in page, and sign in with ``credential`` (an API key or JWT).

    login.js marks the form ready once its submit handler is attached: before that, nothing is submitted.
    """
    await browser.call("Page.navigate", {"url": base_url + "/"})
    await _wait_for(
        browser,
        "location.pathname === '/static/login.html' && "
        "document.getElementById('login')?.dataset.ready === 'yes'",
    )
    await browser.evaluate(
        f"document.getElementById('credential').value = '{credential}';"
        "document.getElementById('login').requestSubmit(); true"
    )


@pytest.mark.timeout(1200)  # may install chromium with apt-get first
def test_dashboard_shows_live_rows_and_the_chart(tmp_path: Path) -> None:
    executable = find_or_install_chromium()
    running = start(tmp_path / "sink", ApiSettings(api_port=0, status_interval_s=0.3), committed=3, live=0)
    streamed = list(range(3, 12))
    last_seq = ledger_tables()[streamed[-1]][0]

    def stream() -> None:
        time.sleep(1.5)  # the page is loading and subscribing meanwhile
        for index in streamed:
            running.write_ledger(index)
            time.sleep(0.25)

    async def scenario() -> dict[str, object]:
        browser = Browser(executable)
        try:
            await browser.open()
            await browser.call("Page.navigate", {"url": running.server.base_url + "/"})
            await _wait_for(browser, "document.getElementById('connection')?.dataset.state === 'live'")
            writer = threading.Thread(target=stream)
            writer.start()
            await _wait_for(browser, f"document.getElementById('last-ledger')?.textContent === '{last_seq}'")
            await _wait_for(browser, "document.querySelectorAll('#feed tbody tr.fresh').length > 0")
            writer.join()
            await asyncio.sleep(0.5)
            seen = await browser.evaluate(
                """({
                  fresh: document.querySelectorAll('#feed tbody tr.fresh').length,
                  bars: document.querySelectorAll('#volume-chart rect.bar').length,
                  labels: [...document.querySelectorAll('#volume-chart .asset-label')]
                            .map(t => t.textContent),
                  ledgers: [...document.querySelectorAll('#ledgers tbody tr td:first-child')]
                             .map(td => Number(td.textContent)),
                  streamed: Number(document.getElementById('events-streamed').textContent.replace(/,/g, '')),
                  rate: document.getElementById('ledger-rate').textContent,
                })"""
            )
            await browser.screenshot(ARTIFACTS / "dashboard.png")
            # the OpenAPI page works offline (Swagger UI from the package, no CDN)
            await browser.call("Page.navigate", {"url": running.server.base_url + "/docs"})
            seen["operations"] = await _wait_for(browser, "document.querySelectorAll('.opblock').length")
            return seen
        finally:
            await browser.close()

    try:
        seen = asyncio.run(scenario())
    finally:
        stop(running)
    # the page's REST picture stops one ledger short of the newest (it may still be arriving), and the
    # socket replays from there: the newest initial ledger (index 2) comes over the socket too
    over_socket = [2, *streamed]
    non_fee = sum(
        ledger_tables()[i][1]["token_transfers"].num_rows
        - ledger_tables()[i][1]["token_transfers"]["event_type"].to_pylist().count("fee")
        for i in over_socket
    )
    assert seen["streamed"] == non_fee  # every live non-fee event reached the page, exactly once
    assert isinstance(seen["fresh"], int) and seen["fresh"] > 0
    assert isinstance(seen["bars"], int) and seen["bars"] > 0
    assert "XLM" in seen["labels"]  # type: ignore[operator]
    assert last_seq in seen["ledgers"]  # type: ignore[operator]
    assert (ARTIFACTS / "dashboard.png").stat().st_size > 10_000
    assert isinstance(seen["operations"], int) and seen["operations"] >= 10
