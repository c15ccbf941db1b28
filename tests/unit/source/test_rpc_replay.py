"""rpc-replay's JSON-RPC semantics, checked on its dispatcher (HTTP is tested in tests/integration)."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import orjson
import pytest

from stellar_arrow.errors import ConfigError
from stellar_arrow.source.header import read_ledger_header
from stellar_arrow.source.rpc_replay import ReplayLake, dispatch

LAKES = Path(__file__).resolve().parents[3] / "data" / "lakes"
FIRST, LAST = 63092982, 63093001


@pytest.fixture(scope="module")
def lake() -> ReplayLake:
    return ReplayLake(str(LAKES / "pubnet-p26"))


def call(lake: ReplayLake, method: str, params: Any = None, **extra: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"jsonrpc": "2.0", "id": 7, "method": method, **extra}
    if params is not None:
        body["params"] = params
    return dispatch(lake, orjson.dumps(body))


def error(reply: dict[str, Any]) -> tuple[int, str]:
    return reply["error"]["code"], reply["error"]["message"]


def test_get_ledgers_page_and_cursor_semantics(lake: ReplayLake) -> None:
    reply = call(lake, "getLedgers", {"startLedger": FIRST, "pagination": {"limit": 3}})
    result = reply["result"]
    assert reply["id"] == 7
    assert [entry["sequence"] for entry in result["ledgers"]] == [FIRST, FIRST + 1, FIRST + 2]
    assert result["cursor"] == str(FIRST + 2)
    assert (result["latestLedger"], result["oldestLedger"]) == (LAST, FIRST)
    assert isinstance(result["latestLedgerCloseTime"], int)  # numbers in getLedgers
    entry = result["ledgers"][0]
    header = read_ledger_header(base64.b64decode(entry["metadataXdr"]))
    assert entry["hash"] == header.ledger_hash.hex()
    assert entry["ledgerCloseTime"] == str(header.close_time)
    assert base64.b64decode(entry["headerXdr"]) == header.header_entry_xdr
    after = call(lake, "getLedgers", {"pagination": {"cursor": result["cursor"], "limit": 200}})["result"]
    assert [e["sequence"] for e in after["ledgers"]] == list(range(FIRST + 3, LAST + 1))
    assert after["cursor"] == str(LAST)
    default = call(lake, "getLedgers", {"startLedger": FIRST})["result"]
    assert len(default["ledgers"]) == 20  # default limit 50, cut at the tip


@pytest.mark.parametrize(
    ("params", "code", "text"),
    [
        (
            {"startLedger": 2},
            -32600,
            f"start ledger (2) must be between the oldest ledger: {FIRST} and the latest",
        ),
        ({"startLedger": LAST + 1}, -32600, "start ledger"),
        ({}, -32600, "start ledger (0)"),
        ({"startLedger": FIRST, "pagination": {"cursor": str(FIRST)}}, -32600, "cannot both be set"),
        ({"startLedger": FIRST, "pagination": {"limit": 201}}, -32600, "limit must not exceed 200"),
        ({"startLedger": FIRST, "xdrFormat": "xml"}, -32600, "xdrFormat"),
        ({"pagination": {"cursor": "abc"}}, -32602, "invalid cursor"),
        ({"pagination": {"cursor": "²"}}, -32602, "invalid cursor"),
        ({"pagination": {"cursor": "١٢٣"}}, -32602, "invalid cursor"),
        ({"pagination": {"cursor": str(LAST)}}, -32602, f"cursor ('{LAST}') must be between"),
        ({"startLedger": -5}, -32602, "startLedger must be a non-negative integer"),
        ({"startLedger": FIRST, "pagination": []}, -32602, "pagination must be an object"),
    ],
)
def test_get_ledgers_validation(lake: ReplayLake, params: dict[str, Any], code: int, text: str) -> None:
    got_code, message = error(call(lake, "getLedgers", params))
    assert got_code == code
    assert text in message


def test_protocol_errors(lake: ReplayLake) -> None:
    assert error(dispatch(lake, b"{nope"))[0] == -32700
    assert error(dispatch(lake, b'{"id": 1, "method": "getHealth"}'))[0] == -32600
    assert error(call(lake, "getEvents", {}))[0] == -32601
    assert error(call(lake, "getLedgers", [FIRST]))[0] == -32602


def test_other_methods(lake: ReplayLake) -> None:
    health = call(lake, "getHealth")["result"]
    assert (
        health["status"] == "healthy" and health["latestLedger"] == LAST and health["oldestLedger"] == FIRST
    )
    assert isinstance(health["latestLedgerCloseTime"], str)
    network = call(lake, "getNetwork", {})["result"]
    assert network == {"passphrase": "Public Global Stellar Network ; September 2015", "protocolVersion": 26}
    latest = call(lake, "getLatestLedger")["result"]
    assert latest["sequence"] == LAST
    meta = base64.b64decode(latest["metadataXdr"])
    assert base64.b64decode(latest["headerXdr"]) == read_ledger_header(meta).header_xdr


def test_release_schedule_moves_the_tip() -> None:
    now = [100.0]
    lake = ReplayLake(str(LAKES / "pubnet-p26"), start_at=63092990, ledger_interval=5, clock=lambda: now[0])
    assert call(lake, "getHealth")["result"]["latestLedger"] == 63092990
    assert error(call(lake, "getLedgers", {"startLedger": 63092991}))[0] == -32600
    now[0] += 12
    assert call(lake, "getHealth")["result"]["latestLedger"] == 63092992
    page = call(lake, "getLedgers", {"startLedger": 63092990})["result"]
    assert [e["sequence"] for e in page["ledgers"]] == [63092990, 63092991, 63092992]
    now[0] += 1000
    assert call(lake, "getLatestLedger")["result"]["sequence"] == LAST


def test_multi_ledger_batch_lake_and_gaps() -> None:
    lake = ReplayLake(str(LAKES / "pubnet-p26-batch4"))
    assert (lake.oldest_ledger, lake.latest_ledger) == (FIRST, 63092999)
    page = call(lake, "getLedgers", {"startLedger": FIRST, "pagination": {"limit": 5}})["result"]
    assert [e["sequence"] for e in page["ledgers"]] == list(range(FIRST, FIRST + 5))
    sparse = ReplayLake(str(LAKES / "standalone-p23"))
    page = call(sparse, "getLedgers", {"startLedger": 84, "pagination": {"limit": 5}})["result"]
    assert [e["sequence"] for e in page["ledgers"]] == [84, 85, 88]


def test_bad_settings() -> None:
    with pytest.raises(ConfigError, match=r"no \.config\.json manifest"):
        ReplayLake(str(LAKES / "testnet" / "2024-02-06-zstd"))
    with pytest.raises(ConfigError, match="start_at 5 is outside"):
        ReplayLake(str(LAKES / "pubnet-p26"), start_at=5)
    with pytest.raises(ConfigError, match="local lake"):
        ReplayLake("s3://bucket/lake")
