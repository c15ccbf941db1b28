from __future__ import annotations

import base64
import threading
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from starlette.responses import Response
from stellar_sdk.xdr import LedgerHeader, LedgerHeaderHistoryEntry

from stellar_arrow.errors import (
    ConfigError,
    LedgerMissingError,
    NetworkMismatchError,
    RpcRequestError,
    RpcTransientError,
)
from stellar_arrow.source.base import LedgerSource
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.source.rpc import RpcLedgerSource
from stellar_arrow.source.rpc_replay import ReplayLake
from stellar_arrow.source.rpc_server import RpcReplayServer

from .conftest import LAKES, PUBNET, TESTNET, AppServer, RpcProxy

pytestmark = pytest.mark.integration
FIRST, LAST = 63092982, 63093001


@pytest.fixture(scope="module")
def lake_ledgers() -> dict[int, bytes]:
    return dict(DataLakeLedgerSource(str(LAKES / "pubnet-p26")).ledgers(FIRST, LAST))


def test_pagination_gives_the_lake_bytes(proxy: tuple[RpcProxy, str], lake_ledgers: dict[int, bytes]) -> None:
    rpc, url = proxy
    with RpcLedgerSource(url, network_passphrase=PUBNET, page_size=7, retry_wait=0.01) as source:
        assert isinstance(source, LedgerSource)
        got = list(source.ledgers(FIRST, LAST))
    assert [s for s, _ in got] == list(range(FIRST, LAST + 1))
    assert dict(got) == lake_ledgers
    pages = [(params.get("params", {}), reply) for m, params, reply in rpc.calls if m == "getLedgers"]
    assert len(pages) == 3  # 7 + 7 + 6
    assert pages[0][0]["startLedger"] == FIRST and "cursor" not in pages[0][0]["pagination"]
    assert pages[1][0]["pagination"] == {"cursor": str(FIRST + 6), "limit": 7}
    assert "startLedger" not in pages[1][0]
    assert pages[2][0]["pagination"]["limit"] == 6  # never asks past the end of a bounded range
    assert rpc.methods()[:2] == ["getNetwork", "getHealth"]


def test_header_and_latest_ledger_xdr_shapes(rpc_url: str, lake_ledgers: dict[int, bytes]) -> None:
    with RpcLedgerSource(rpc_url) as source:
        page = source.get_ledgers(start=63092990, limit=2)
        latest = source.get_latest_ledger()
        raw = source.call("getLatestLedger")
    entry = LedgerHeaderHistoryEntry.from_xdr_bytes(page.ledgers[0].header_xdr)
    assert entry.header.ledger_seq.uint32 == 63092990
    assert entry.hash.hash.hex() == page.ledgers[0].ledger_hash
    assert page.cursor == "63092991"
    assert page.ledgers[1].ledger_close_meta == lake_ledgers[63092991]
    assert latest.ledger_sequence == LAST and latest.protocol_version == 26
    assert isinstance(raw, dict)
    header = LedgerHeader.from_xdr_bytes(base64.b64decode(raw["headerXdr"]))  # LedgerHeader, not the entry
    assert header.ledger_seq.uint32 == LAST
    assert isinstance(raw["closeTime"], str)


def test_network_and_retention_checks(rpc_url: str) -> None:
    with (
        RpcLedgerSource(rpc_url, network_passphrase=TESTNET) as source,
        pytest.raises(NetworkMismatchError, match=r"Public Global.*expected 'Test SDF Network"),
    ):
        list(source.ledgers(FIRST, FIRST))
    with RpcLedgerSource(rpc_url, network_passphrase=PUBNET) as source:
        assert source.latest_ledger() == LAST
        assert source.network_passphrase == PUBNET
        with pytest.raises(
            RpcRequestError, match="start ledger 63092900 is older than the oldest ledger 63092982"
        ):
            list(source.ledgers(63092900, 63092990))
        with pytest.raises(RpcRequestError, match="-32600") as info:
            source.get_ledgers(start=5)
        assert info.value.code == -32600 and info.value.method == "getLedgers"
        with pytest.raises(ConfigError, match="invalid ledger range"):
            list(source.ledgers(10, 5))
    with pytest.raises(ConfigError, match="page_size"):
        RpcLedgerSource(rpc_url, page_size=201)


def test_tailing_a_moving_tip_polls_health_not_out_of_range_pages(lake_ledgers: dict[int, bytes]) -> None:
    lake = ReplayLake(
        str(LAKES / "pubnet-p26"), start_at=63092996, ledger_interval=0.6
    )  # margin on busy hosts
    rpc = RpcProxy(lake)
    with (
        AppServer(rpc.app()) as server,
        RpcLedgerSource(server.url, poll_interval=0.05, page_size=3) as source,
    ):
        got: list[int] = []
        started = time.monotonic()
        for seq, lcm in source.ledgers(63092994):
            assert lcm == lake_ledgers[seq]
            got.append(seq)
            if seq == LAST:
                source.stop()
        elapsed = time.monotonic() - started
    assert got == list(range(63092994, LAST + 1))
    assert elapsed >= 0.6 * 4  # waited for 63092997..63093001 to be released
    errors = [reply for _, _, reply in rpc.calls if "error" in reply]
    assert errors == []  # never sent a start/cursor past the tip
    assert rpc.methods().count("getHealth") >= 3


def test_stop_while_waiting_at_the_tip(rpc_url: str) -> None:
    with RpcLedgerSource(rpc_url, poll_interval=0.05) as source:
        threading.Timer(0.3, source.stop).start()
        assert [s for s, _ in source.ledgers(LAST)] == [LAST]


def _status(code: int, body: bytes = b"") -> Any:
    return lambda method, request, reply: Response(body, status_code=code)


def _rpc_error(code: int, message: str) -> Any:
    def fault(method: str, request: dict[str, Any], reply: dict[str, Any]) -> Response:
        body = {"jsonrpc": "2.0", "id": request["id"], "error": {"code": code, "message": message}}
        return Response(orjson.dumps(body), media_type="application/json")

    return fault


def test_transient_failures_are_retried(proxy: tuple[RpcProxy, str], lake_ledgers: dict[int, bytes]) -> None:
    rpc, url = proxy
    rpc.faults = [
        _status(503),
        _rpc_error(-32603, "latency since last known ledger closed is too high"),
        None,  # getNetwork passes
        _rpc_error(-32001, "request exceeded processing limit threshold"),
        None,  # getHealth
        _status(503),
    ]  # type: ignore[list-item]
    with RpcLedgerSource(url, page_size=5, retry_wait=0.01) as source:
        got = list(source.ledgers(FIRST, FIRST + 4))
    assert dict(got) == {s: lake_ledgers[s] for s in range(FIRST, FIRST + 5)}
    with RpcLedgerSource(url, retry_attempts=2, retry_wait=0.01) as source:
        rpc.faults = [_status(503), _status(503)]
        with pytest.raises(RpcTransientError, match="HTTP 503") as info:
            source.get_health()
        assert info.value.code == 503


def test_transport_errors_are_transient_and_named() -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        RpcLedgerSource(f"http://127.0.0.1:{port}/", retry_attempts=2, retry_wait=0.01) as source,
        pytest.raises(RpcTransientError, match=f"getHealth at http://127.0.0.1:{port}/: transport error"),
    ):
        source.get_health()


def _edit(change: Any) -> Any:
    def fault(method: str, request: dict[str, Any], reply: dict[str, Any]) -> Response:
        edited = orjson.loads(orjson.dumps(reply))
        change(edited)
        return Response(orjson.dumps(edited), media_type="application/json")

    return fault


def _first_ledger(reply: dict[str, Any]) -> dict[str, Any]:
    ledger: dict[str, Any] = reply["result"]["ledgers"][0]
    return ledger


MALFORMED = {
    "not json": (_status(200, b"<html>oops</html>"), "not JSON"),
    "http 400": (_status(400, b"{}"), "HTTP 400"),
    "no result": (_edit(lambda r: r.pop("result")), "missing result"),
    "wrong id": (_edit(lambda r: r.update(id=999)), "id 999"),
    "ledgers not a list": (
        _edit(lambda r: r["result"].update(ledgers={})),
        r"result.ledgers should be a list",
    ),
    "bad base64": (
        _edit(lambda r: _first_ledger(r).update(metadataXdr="@@@")),
        r"result.ledgers\[0\].metadataXdr should be base64 XDR",
    ),
    "json xdr format": (
        _edit(lambda r: _first_ledger(r).update(metadataXdr="")),
        r"metadataXdr should be non-empty",
    ),
    "missing latestLedger": (_edit(lambda r: r["result"].pop("latestLedger")), "result.latestLedger"),
    "sequence skips": (
        _edit(lambda r: _first_ledger(r).update(sequence=FIRST + 1)),
        f"returned ledger {FIRST + 1} where ledger {FIRST} was expected",
    ),
    "hash differs": (
        _edit(lambda r: _first_ledger(r).update(hash="00" * 32)),
        f"metadataXdr of ledger {FIRST} holds ledger {FIRST} with hash",
    ),
    "garbage meta": (
        _edit(lambda r: _first_ledger(r).update(metadataXdr=base64.b64encode(b"\0\0\0\x09" * 9).decode())),
        f"metadataXdr of ledger {FIRST}.*unknown LedgerCloseMeta.v arm 9",
    ),
    "rpc error": (_rpc_error(-32602, "cursor ('x') must be between"), "JSON-RPC error -32602"),
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
def test_malformed_replies_are_typed_errors(proxy: tuple[RpcProxy, str], case: str) -> None:
    rpc, url = proxy
    fault, match = MALFORMED[case]
    rpc.faults = [None, None, fault]  # getNetwork, getHealth pass; the getLedgers reply is broken
    with RpcLedgerSource(url, retry_wait=0.01) as source, pytest.raises(RpcRequestError, match=match) as info:
        list(source.ledgers(FIRST, FIRST + 2))
    assert info.value.method == "getLedgers"
    assert url in str(info.value) or "getLedgers" in str(info.value)


def test_empty_page_below_the_tip_is_a_missing_ledger(tmp_path: Path) -> None:
    import shutil

    shutil.copytree(LAKES / "standalone-p23", tmp_path / "lake")
    lake = ReplayLake(str(tmp_path / "lake"))  # ledgers 84, 85, 88: a hole at 86-87
    with RpcReplayServer(lake) as server, RpcLedgerSource(server.url, page_size=1) as source:
        with pytest.raises(LedgerMissingError, match="has no ledger 86 although its latest is 88") as info:
            list(source.ledgers(84, 88))
        assert info.value.ledger_sequence == 86
