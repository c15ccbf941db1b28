"""``export`` while the S3 server holding the lake and the output is stopped and restarted, or stalls.

The lake and the output are in a real moto server. After the fifth ledger the server stops (its port
refuses connections) and comes back 1.5 s later with the same objects. The export retries (the one
retry layer), the lake's breaker opens and closes, and the output equals a fault-free export object for
object: no ledger missing, none twice. A server whose first connections stall (accepted, never
answered) gives the same files after read timeouts and retries.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.export import run_export
from stellar_arrow.observability.metrics import REGISTRY
from tests.conftest import DATA
from tests.integration.resilience.moto_s3 import REGION, RestartableMoto, upload_folder
from tests.output_trees import assert_same_files

pytestmark = pytest.mark.integration
FIRST, LAST = 63092982, 63093001
TABLES = ("ledgers", "transactions", "token_transfers")
BUCKET = "restart-lake"


def _value(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


@pytest.fixture(scope="module")
def moto() -> Iterator[RestartableMoto]:
    server = RestartableMoto().start()
    client: Any = server.client()
    client.create_bucket(Bucket=BUCKET)
    upload_folder(client, BUCKET, DATA / "lakes" / "pubnet-p26", "lake")
    yield server
    server.stop()


def _objects(moto: RestartableMoto, prefix: str) -> dict[str, bytes]:
    client: Any = moto.client()
    listing = client.list_objects_v2(Bucket=BUCKET, Prefix=f"{prefix}/")
    return {
        item["Key"][len(prefix) + 1 :]: client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read()
        for item in listing.get("Contents", [])
    }


def _settings(moto: RestartableMoto, output: str) -> Any:
    return load_settings(
        source={
            "datalake_uri": f"s3://{BUCKET}/lake",
            "storage_options": {"endpoint_url": moto.endpoint},
            "start_ledger": FIRST,
            "end_ledger": LAST,
            "buffer_size": 1,  # read just ahead of the export, so the outage hits reads
            "concurrent_readers": 1,
            "connect_timeout_s": 1,
            "read_timeout_s": 2,
            "call_timeout_s": 5,
            "retry_attempts": 10,
            "retry_budget_s": 20,
            "breaker_failures": 1,
            "breaker_reset_s": 0.5,
        },
        export={
            "output_dir": output,
            "output_storage_options": {"endpoint_url": moto.endpoint},
            "tables": TABLES,
            "chunk_size": 10,
        },
    )


def test_export_survives_the_s3_server_stopping_and_restarting(
    moto: RestartableMoto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    clean = run_export(_settings(moto, f"s3://{BUCKET}/clean"))
    assert clean.chunks_written == 2
    want = _objects(moto, "clean")

    breaker = f"lake:s3://{BUCKET}"
    retries = _value("retry_attempts_total", operation="lake_read")
    opened = _value("circuit_breaker_transitions_total", name=breaker, state="open")
    closed = _value("circuit_breaker_transitions_total", name=breaker, state="closed")
    done = 0
    outage: list[threading.Thread] = []

    def on_progress(n: int) -> None:
        nonlocal done
        done += n
        if done >= 5 and not outage:
            moto.stop()
            restart = threading.Timer(1.5, moto.start)
            restart.start()
            outage.append(restart)

    started = time.monotonic()
    summary = run_export(_settings(moto, f"s3://{BUCKET}/faulty"), on_progress=on_progress)
    elapsed = time.monotonic() - started
    outage[0].join(10)
    assert summary.ledgers_exported == LAST - FIRST + 1
    assert_same_files(_objects(moto, "faulty"), want)  # identical: no gap, no duplicate
    assert elapsed < 30
    assert _value("retry_attempts_total", operation="lake_read") - retries >= 1
    assert _value("circuit_breaker_transitions_total", name=breaker, state="open") - opened >= 1
    assert _value("circuit_breaker_transitions_total", name=breaker, state="closed") - closed >= 1
    assert _value("circuit_breaker_state", name=breaker) == 0


def test_export_from_an_s3_server_that_stalls_then_recovers(
    moto: RestartableMoto, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Its first connections are accepted and never answered: read timeouts, retries, same files."""
    from tests.integration.resilience.tcp_faults import FaultyTcpProxy

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    run_export(_settings(moto, str(tmp_path / "clean")))
    retries = _value("retry_attempts_total", operation="lake_read")
    with FaultyTcpProxy(("127.0.0.1", moto.port), fault="stall", count=3) as proxy:
        settings = _settings(moto, str(tmp_path / "stalled"))
        source = settings.source.model_copy(
            update={
                "storage_options": {"endpoint_url": f"http://127.0.0.1:{proxy.port}"},
                "read_timeout_s": 0.5,
            }
        )
        started = time.monotonic()
        summary = run_export(settings.model_copy(update={"source": source}))
        elapsed = time.monotonic() - started
    assert summary.ledgers_exported == LAST - FIRST + 1
    assert proxy.connections > 3
    assert elapsed < 30
    assert _value("retry_attempts_total", operation="lake_read") - retries >= 1
    clean = {
        p.relative_to(tmp_path / "clean").as_posix(): p.read_bytes()
        for p in (tmp_path / "clean").rglob("*.*")
    }
    stalled = {
        p.relative_to(tmp_path / "stalled").as_posix(): p.read_bytes()
        for p in (tmp_path / "stalled").rglob("*.*")
    }
    assert_same_files(stalled, clean)
    assert len(clean) == 8  # 2 chunks x (3 tables + manifest)
