"""REST over real HTTP on loopback: paging, filters, lookups, stats, content types, 400s, live visibility."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pytest

from stellar_arrow.config import ApiSettings
from tests.integration.api.running import COMMITTED, LIVE, Running
from tests.unit.sink.realdata import FIRST, ledger_tables, whole

pytestmark = pytest.mark.integration

LAST_SERVED = FIRST + COMMITTED + LIVE - 1


def expected() -> pa.Table:
    return whole("token_transfers", FIRST, LAST_SERVED)


def ids(rows: pa.Table) -> list[str]:
    return [
        str((a << 32) | b)
        for a, b in zip(rows["ledger_sequence"].to_pylist(), rows["event_index"].to_pylist(), strict=True)
    ]


def walk(api: Running, url: str) -> list[dict[str, Any]]:
    records: list[dict[str, Any]] = []
    while True:
        body = api.http.get(url).raise_for_status().json()
        page = body["_embedded"]["records"]
        if not page:
            return records
        records.extend(page)
        url = body["_links"]["next"]["href"]


def test_paging_walks_committed_and_live_rows_without_gaps(api: Running) -> None:
    records = walk(api, "/api/v1/transfers?limit=200")
    want = expected()
    assert [r["id"] for r in records] == ids(want)
    assert records[-1]["ledger_sequence"] == LAST_SERVED  # rows of the uncommitted live buffer included
    assert [r["amount_raw"] for r in records] == want["amount_raw"].to_pylist()
    first = api.http.get("/api/v1/transfers", params={"limit": 3, "order": "desc"}).json()
    assert [r["id"] for r in first["_embedded"]["records"]] == ids(want)[::-1][:3]
    back = api.http.get(first["_links"]["prev"]["href"]).json()["_embedded"]["records"]
    assert back == []  # nothing after the newest event


@pytest.mark.parametrize(
    ("params", "predicate"),
    [
        ({"event_type": "mint,burn"}, lambda r: r["event_type"] in ("mint", "burn")),
        (
            {"from_ledger": FIRST + 3, "to_ledger": FIRST + 11},
            lambda r: FIRST + 3 <= r["ledger_sequence"] <= FIRST + 11,
        ),
        (
            {"asset": "native", "event_type": "transfer"},
            lambda r: r["asset"] == "native" and r["event_type"] == "transfer",
        ),
        ({"asset_code": "USDC"}, lambda r: r["asset_code"] == "USDC"),
    ],
)
def test_filters_select_exactly_the_matching_rows(
    api: Running, params: dict[str, Any], predicate: Callable[[dict[str, Any]], bool]
) -> None:
    got = walk(api, "/api/v1/transfers?" + "&".join(f"{k}={v}" for k, v in {**params, "limit": 200}.items()))
    want = [
        str((r["ledger_sequence"] << 32) | r["event_index"]) for r in expected().to_pylist() if predicate(r)
    ]
    assert want and [r["id"] for r in got] == want


def test_account_asset_time_and_exact_amount_filters(api: Running) -> None:
    rows = expected().to_pylist()
    usdc = next(r for r in rows if r["asset_code"] == "USDC" and r["event_type"] == "transfer")
    account = usdc["to"]
    got = walk(api, f"/api/v1/accounts/{account}/transfers?limit=200")
    assert [r["id"] for r in got] == [
        str((r["ledger_sequence"] << 32) | r["event_index"]) for r in rows if account in (r["from"], r["to"])
    ]
    got = walk(api, f"/api/v1/transfers?account={account}&asset=USDC:{usdc['asset_issuer']}&limit=200")
    assert got and all(r["asset"] == usdc["asset"] for r in got)
    # exact amount bounds: the event's own amount is included, one stroop more excludes it
    amount = Decimal(usdc["amount_raw"]).scaleb(-7)
    base = f"/api/v1/transfers?asset=USDC:{usdc['asset_issuer']}&event_type=transfer&limit=200"
    at_least = {r["id"] for r in walk(api, f"{base}&min_amount={amount}")}
    above = {r["id"] for r in walk(api, f"{base}&min_amount={amount + Decimal('0.0000001')}")}
    own = str((usdc["ledger_sequence"] << 32) | usdc["event_index"])
    assert own in at_least and own not in above
    assert all(
        int(r["amount_raw"]) >= int(usdc["amount_raw"]) for r in walk(api, f"{base}&min_amount={amount}")
    )
    exact = walk(api, f"{base}&min_amount={amount}&max_amount={amount}")
    assert exact and {r["amount_raw"] for r in exact} == {usdc["amount_raw"]}
    closed = rows[-1]["closed_at"]
    late = walk(api, f"/api/v1/transfers?start_time={closed.strftime('%Y-%m-%dT%H:%M:%SZ')}&limit=200")
    assert late and {r["ledger_sequence"] for r in late} == {
        r["ledger_sequence"] for r in rows if r["closed_at"] >= closed
    }


def test_single_resources(api: Running) -> None:
    rows = expected().to_pylist()
    row = rows[len(rows) // 2]
    event_id = str((row["ledger_sequence"] << 32) | row["event_index"])
    one = api.http.get(f"/api/v1/transfers/{event_id}").json()
    assert one["id"] == event_id and one["amount_raw"] == row["amount_raw"] and one["from"] == row["from"]
    assert api.http.get(f"/api/v1/transfers/{int(event_id) + 10**6}").status_code == 404
    tx = api.http.get(f"/api/v1/transactions/{row['transaction_hash']}").json()
    assert tx["transaction"]["transaction_hash"] == row["transaction_hash"]
    assert [e["event_index"] for e in tx["events"]] == [
        r["event_index"] for r in rows if r["transaction_hash"] == row["transaction_hash"]
    ]
    for index in (0, COMMITTED + LIVE - 1):  # a committed ledger and a live one
        seq, per = ledger_tables()[index]
        ledger = api.http.get(f"/api/v1/ledgers/{seq}").json()
        assert ledger["ledger"]["ledger_hash"] == per["ledgers"]["ledger_hash"][0].as_py()
        assert ledger["transfers"]["count"] == per["token_transfers"].num_rows
    assert api.http.get(f"/api/v1/ledgers/{LAST_SERVED + 1}").status_code == 404
    assert api.http.get("/api/v1/transactions/" + "ab" * 32).status_code == 404


def test_volume_and_summary_are_exact(api: Running) -> None:
    rows = expected().to_pylist()
    body = api.http.get("/api/v1/stats/volume", params={"interval": "day", "event_type": "transfer"}).json()
    sums: dict[str, int] = {}
    for r in rows:
        if r["event_type"] == "transfer":
            key = r["asset"] or r["contract_id"]
            sums[key] = sums.get(key, 0) + int(r["amount_raw"])
    assert {b["asset"]: int(b["volume_raw"]) for b in body["buckets"]} == sums
    summary = api.http.get("/api/v1/stats/summary").json()
    assert summary["events"] == len(rows) and summary["last_ledger"] == LAST_SERVED
    top = api.http.get("/api/v1/stats/assets", params={"limit": 3}).json()["assets"]
    assert len(top) == 3 and top[0]["events"] >= top[1]["events"]


def test_arrow_and_csv_by_accept(api: Running) -> None:
    url = "/api/v1/transfers?event_type=transfer&limit=50"
    json_ids = [r["id"] for r in api.http.get(url).json()["_embedded"]["records"]]
    response = api.http.get(url, headers={"Accept": "application/vnd.apache.arrow.stream"})
    assert response.headers["content-type"] == "application/vnd.apache.arrow.stream"
    table = pa.ipc.open_stream(response.content).read_all()
    assert [str(i) for i in table["id"].to_pylist()] == json_ids
    assert table.schema.field("amount").type == pa.decimal128(38, 7)
    csv = api.http.get(url, headers={"Accept": "text/csv"})
    assert csv.headers["content-type"].startswith("text/csv")
    text_types = {"id": pa.string(), "amount_raw": pa.string(), "amount": pa.string()}
    back = pacsv.read_csv(
        pa.py_buffer(csv.content), convert_options=pacsv.ConvertOptions(column_types=text_types)
    )
    assert back["id"].to_pylist() == json_ids
    assert back["amount_raw"].to_pylist() == table["amount_raw"].to_pylist()


@pytest.mark.parametrize(
    ("url", "field"),
    [
        ("/api/v1/transfers?colour=red", "colour"),
        ("/api/v1/transfers?account=GAAAAAAAAAAAAAAAAAAA", "account"),
        ("/api/v1/transfers?cursor=abc", "cursor"),
        ("/api/v1/transfers?limit=0", "limit"),
        ("/api/v1/transfers?limit=201", "limit"),
        ("/api/v1/transfers?order=up", "order"),
        ("/api/v1/transfers?event_type=swap", "event_type"),
        ("/api/v1/transfers?min_amount=1.00000001", "min_amount"),
        ("/api/v1/transfers?from_ledger=9&to_ledger=3", "from_ledger"),
        ("/api/v1/transfers?start_time=yesterday", "start_time"),
        ("/api/v1/transfers?asset=USDC", "asset"),
        ("/api/v1/transfers/12x", "event_id"),
        ("/api/v1/accounts/GBAD/transfers", "account_id"),
        ("/api/v1/ledgers/-4", "sequence"),
        ("/api/v1/transactions/XYZ", "tx_hash"),
        ("/api/v1/stats/volume?interval=week", "interval"),
    ],
)
def test_bad_requests_name_the_field(api: Running, url: str, field: str) -> None:
    response = api.http.get(url)
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["field"] == field and field in body["detail"]


def test_a_just_written_event_is_visible_at_once(make_api: Callable[..., Running]) -> None:
    running = make_api(ApiSettings(api_port=0), committed=2, live=0)
    seq = running.write_ledger(2)  # accepted, not committed
    got = walk(running, f"/api/v1/transfers?from_ledger={seq}&to_ledger={seq}&limit=200")
    assert len(got) == ledger_tables()[2][1]["token_transfers"].num_rows
    assert running.sink.reader().view("token_transfers").live.num_rows == len(got)


def test_ops_endpoints(api: Running) -> None:
    assert api.http.get("/health").json()["status"] == "ok"
    assert api.http.get("/ready").json() == {"status": "ready"}
    docs = api.http.get("/docs").text
    assert "/docs-assets/swagger-ui-bundle.js" in docs and "cdn" not in docs  # works offline
    assert api.http.get("/docs-assets/swagger-ui-bundle.js").status_code == 200
    paths = api.http.get("/openapi.json").json()["paths"]
    assert {"/api/v1/transfers", "/api/v1/ledgers/{sequence}", "/api/v1/stats/volume"} <= set(paths)
    api.http.get("/api/v1/transfers?limit=1")
    metrics = api.http.get("/metrics").text
    assert 'http_requests_total{method="GET",route="/api/v1/transfers",status="200"}' in metrics
    assert 'analytics_sink_events_received_total{table="token_transfers"}' in metrics
    assert "analytics_sink_checkpoint_ledger" in metrics
    status = api.http.get("/api/v1/status").json()
    assert status["sink"]["checkpoint"] == FIRST + COMMITTED - 1
