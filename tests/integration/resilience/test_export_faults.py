"""``export`` from a faulty RPC (rpc-replay behind a proxy that breaks replies and connections).

Transient faults (5xx plain/JSON, 429 + Retry-After, truncated bodies, connection resets) are retried:
the tables equal a fault-free export, and the retries show in the metrics. A terminal fault (a reply
that is not JSON) stops the export at once with one line naming the cause and exit status 1.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from starlette.responses import Response
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import load_settings
from stellar_arrow.export import run_export
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.source.open import source_spec
from stellar_arrow.source.rpc_replay import ReplayLake
from tests.integration.resilience.tcp_faults import FaultyTcpProxy
from tests.integration.source.conftest import LAKES, AppServer, RpcProxy

pytestmark = pytest.mark.integration
FIRST, LAST = 63092982, 63093001
TABLES = ("ledgers", "transactions", "operations")


def _value(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def _export(url: str, out: Path) -> dict[str, pa.Table]:
    source = {**source_spec(url), "start_ledger": FIRST, "end_ledger": LAST}
    settings = load_settings(
        source=source, export={"output_dir": str(out), "tables": TABLES, "chunk_size": 10}
    )
    summary = run_export(settings)
    assert summary.ledgers_exported == LAST - FIRST + 1
    return {
        t: pa.concat_tables(pq.read_table(p) for p in sorted((out / t).glob("*.parquet"))) for t in TABLES
    }


@pytest.fixture(scope="module")
def replay_lake() -> ReplayLake:
    return ReplayLake(str(LAKES / "pubnet-p26"))


@pytest.fixture(scope="module")
def clean_tables(replay_lake: ReplayLake, tmp_path_factory: pytest.TempPathFactory) -> dict[str, pa.Table]:
    with AppServer(RpcProxy(replay_lake).app()) as server:
        return _export(server.url, tmp_path_factory.mktemp("clean"))


@pytest.fixture
def proxy(replay_lake: ReplayLake) -> Iterator[tuple[RpcProxy, str]]:
    rpc = RpcProxy(replay_lake)
    with AppServer(rpc.app()) as server:
        yield rpc, server.url


@pytest.fixture
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    """Short backoffs for the RPC sources the export opens (the command has no retry flags)."""
    import stellar_arrow.source.rpc as rpc_module
    from stellar_arrow.resilience import RetryPolicy

    fast = RetryPolicy(attempts=5, first_wait_s=0.01, max_wait_s=0.05, budget_s=10)
    original = rpc_module.RpcLedgerSource.__init__

    def quick(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **{**kwargs, "retry": fast})

    monkeypatch.setattr(rpc_module.RpcLedgerSource, "__init__", quick)


def _reply(status: int, body: bytes, **headers: str) -> Any:
    return lambda method, request, reply: Response(body, status_code=status, headers=headers or None)


def _truncated(method: str, request: dict[str, Any], reply: dict[str, Any]) -> Response:
    body = orjson.dumps(reply)
    return Response(body[: len(body) // 2], headers={"content-length": str(len(body))})


def test_transient_faults_leave_the_tables_unchanged(
    proxy: tuple[RpcProxy, str], clean_tables: dict[str, pa.Table], tmp_path: Path, quick_retries: None
) -> None:
    rpc, url = proxy
    rpc.faults = [
        _reply(500, b"Internal Server Error"),  # getNetwork
        None,
        _reply(500, orjson.dumps({"error": "core is catching up"})),  # getHealth, JSON body
        None,
        _reply(429, b"too many requests", **{"retry-after": "1"}),  # the first getLedgers page
        _truncated,
        _reply(503, b""),
        _truncated,
    ]
    before = {op: _value("retry_attempts_total", operation=op) for op in ("rpc_getNetwork", "rpc_getLedgers")}
    host, port = url.removeprefix("http://").rstrip("/").split(":")
    with FaultyTcpProxy((host, int(port)), fault="reset", count=2) as resets:
        started = time.monotonic()
        tables = _export(resets.url, tmp_path / "out")
        elapsed = time.monotonic() - started
    for table in TABLES:
        assert tables[table].equals(clean_tables[table]), table
    assert elapsed >= 1.0  # Retry-After: 1 was honoured
    assert rpc.faults == []  # every fault was served (and survived)
    assert resets.connections > 2
    retried = {op: _value("retry_attempts_total", operation=op) - before[op] for op in before}
    assert retried["rpc_getNetwork"] >= 3  # two resets and a 500
    assert retried["rpc_getLedgers"] >= 3


def test_a_reply_that_is_not_json_stops_the_export_with_one_line(
    proxy: tuple[RpcProxy, str], tmp_path: Path
) -> None:
    rpc, url = proxy
    rpc.faults = [None, None, _reply(200, b"<html>maintenance</html>")]
    out = tmp_path / "out"
    args = ["export", "--source", url, "--start", str(FIRST), "--end", str(LAST), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--chunk-size", "10", "--no-progress"])
    assert result.exit_code == 1
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1, result.output
    assert lines[0].startswith("error: RpcRequestError: getLedgers at ")
    assert "reply that is not JSON: '<html>maintenance</html>'" in lines[0]
    assert not list(out.rglob("*.parquet"))


def test_a_persistent_500_stops_the_export_naming_the_endpoint(
    proxy: tuple[RpcProxy, str], tmp_path: Path, quick_retries: None
) -> None:
    rpc, url = proxy
    rpc.faults = [None, None] + [_reply(500, b"disk full")] * 100
    out = tmp_path / "out"
    args = ["export", "--source", url, "--start", str(FIRST), "--end", str(LAST), "--out", str(out)]
    result = CliRunner().invoke(app, [*args, "--chunk-size", "10", "--no-progress"])
    assert result.exit_code == 3  # upstream unavailable (docs/configuration.md, exit statuses)
    assert (
        f"error: RpcTransientError: getLedgers at {url}: HTTP 500 (server busy or failing): 'disk full'"
        in (result.output)
    )
