"""The dashboard served by the running pipeline's sink, open in headless chromium while ledgers arrive live.

``stellar-arrow run`` follows an rpc-replay of the sample lake; only the first three ledgers exist when
the page opens, the other seventeen are released one every 0.5 s while it is open. The page must show
them arriving: feed rows, chart bars growing, recent ledgers, lag to the source. Screenshot kept in
``test-artifacts/dashboard-pipeline.png``.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from tests.browser.cdp import Browser, find_or_install_chromium
from tests.browser.test_dashboard import ARTIFACTS, _wait_for
from tests.integration.api.live_pipeline import FIRST, LAST, LivePipeline, live_pipeline
from tests.unit.sink.realdata import whole

pytestmark = [pytest.mark.integration, pytest.mark.browser]

AVAILABLE = FIRST + 2  # the source's tip when the page opens

SNAPSHOT = """({
  last: Number(document.getElementById('last-ledger').textContent),
  rows: document.querySelectorAll('#feed tbody tr').length,
  fresh: document.querySelectorAll('#feed tbody tr.fresh').length,
  bars: document.querySelectorAll('#volume-chart rect.bar').length,
  labels: [...document.querySelectorAll('#volume-chart .asset-label')].map(t => t.textContent),
  ledgers: [...document.querySelectorAll('#ledgers tbody tr td:first-child')]
             .map(td => Number(td.textContent)),
  streamed: Number(document.getElementById('events-streamed').textContent.replace(/,/g, '')),
  lag: document.getElementById('lag').textContent,
  rate: document.getElementById('ledger-rate').textContent,
  titles: [...document.querySelectorAll('#volume-chart rect.bar title')].map(t => t.textContent),
})"""


def _label(row: dict[str, Any]) -> str:
    """The dashboard's asset label of an event (XLM, the asset code, or a contract id prefix)."""
    if row["asset"] == "native":
        return "XLM"
    if row["asset"] and ":" in row["asset"]:
        _, code, issuer = str(row["asset"]).split(":")
        return f"XLM\u00b7{issuer[:4]}" if code == "XLM" else code
    return str(row["asset"] or row["contract_id"])[:6] + "\u2026"


def _chart_gaps(titles: list[str], events: pa.Table) -> list[str]:
    """Bars ("ledger N: 1,234.5 XLM") whose volume differs from the corpus's non-fee events of that ledger."""
    want: dict[tuple[int, str], int] = {}
    for row in events.to_pylist():
        if row["event_type"] != "fee":
            key = (row["ledger_sequence"], _label(row))
            want[key] = want.get(key, 0) + int(row["amount_raw"])
    wrong = []
    for title in titles:
        head, _, rest = title.partition(": ")
        value, _, label = rest.partition(" ")
        expected = want.get((int(head.removeprefix("ledger ")), label), 0) / 1e7
        if abs(float(value.replace(",", "")) - expected) > 0.0006 + expected * 1e-12:
            wrong.append(f"{title} (expected {expected:,.3f})")
    return wrong


async def _scenario(executable: str, pipeline: LivePipeline) -> list[dict[str, Any]]:
    browser = Browser(executable)
    try:
        await browser.open()
        await browser.call("Page.navigate", {"url": pipeline.api_url + "/"})
        await _wait_for(browser, "document.getElementById('connection')?.dataset.state === 'live'")
        await _wait_for(browser, f"document.getElementById('last-ledger')?.textContent === '{AVAILABLE}'")
        before = await browser.evaluate(SNAPSHOT)
        pipeline.release()  # the later ledgers now appear at the source, one every 0.5 s
        await _wait_for(
            browser, f"Number(document.getElementById('last-ledger')?.textContent) >= {FIRST + 10}"
        )
        middle = await browser.evaluate(SNAPSHOT)
        await _wait_for(browser, f"document.getElementById('last-ledger')?.textContent === '{LAST}'")
        await _wait_for(browser, "document.getElementById('lag')?.textContent.startsWith('0 ledgers')")
        after = await browser.evaluate(SNAPSHOT)
        await browser.screenshot(ARTIFACTS / "dashboard-pipeline.png")
        return [before, middle, after]
    finally:
        await browser.close()


@pytest.mark.timeout(1200)  # may install chromium with apt-get first
def test_dashboard_of_the_running_pipeline_grows_live(tmp_path: Path) -> None:
    executable = find_or_install_chromium()
    events = whole("token_transfers")  # the corpus's events, built without the pipeline
    non_fee = [t != "fee" for t in events["event_type"].to_pylist()]
    ledger_of = events["ledger_sequence"].to_pylist()
    released_later = sum(1 for f, s in zip(non_fee, ledger_of, strict=True) if f and s > AVAILABLE)
    with live_pipeline(tmp_path, available=AVAILABLE, ledger_interval=0.5) as pipeline:
        before, middle, after = asyncio.run(_scenario(executable, pipeline))
        assert pipeline.stop() == 0

    assert before["last"] == AVAILABLE and before["rows"] > 0 and before["bars"] > 0
    assert before["bars"] < middle["bars"] < after["bars"]  # the chart grows ledger by ledger
    assert middle["last"] < after["last"] == LAST
    assert after["fresh"] > 0  # rows that arrived over the WebSocket while the page was open
    # every non-fee event of the ledgers released while the page was open reached it, and no more
    # than all non-fee events (the earlier ledgers came partly over REST, partly over the socket)
    assert released_later <= after["streamed"] <= sum(non_fee)
    assert "XLM" in after["labels"]
    assert after["ledgers"][0] == LAST and AVAILABLE + 1 in after["ledgers"]
    assert after["lag"].startswith("0 ledgers")
    assert (ARTIFACTS / "dashboard-pipeline.png").stat().st_size > 10_000
    # every bar of the chart holds exactly its ledger's volume: nothing lost or counted twice between
    # the page's first REST picture and the WebSocket replay
    assert len(after["titles"]) == after["bars"]
    assert _chart_gaps(after["titles"], events) == []
