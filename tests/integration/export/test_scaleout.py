"""Cluster exports on Dask: the files of a one-process export, a worker killed mid-run, resume, refusals."""

from __future__ import annotations

import os
import pickle
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from distributed import Client, LocalCluster
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import Settings, load_settings
from stellar_arrow.errors import ConfigError, LedgerObjectError
from stellar_arrow.export import run_export
from stellar_arrow.scaleout import run_export_on_cluster, task_settings
from tests.conftest import DATA
from tests.output_trees import assert_same_files

from .conftest import FIRST, LAST, SAMPLE_LAKE, object_path

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("dask")]

LAKES = [
    ("pubnet-p26", FIRST, LAST, 3, ("ledgers", "transactions", "token_transfers")),
    ("pubnet-p26-batch4", FIRST, FIRST + 7, 4, ("ledgers", "operations")),
    ("testnet/2025-10-02", 848581, 848582, 1, ("ledgers", "transactions", "token_transfers")),
]


def _settings(
    lake: Path, first: int, last: int, out: Path, chunk_size: int, tables: tuple[str, ...]
) -> Settings:
    source: dict[str, object] = {"datalake_uri": str(lake), "start_ledger": first, "end_ledger": last}
    if "testnet" in str(lake):
        source["network_passphrase"] = "testnet"
    return load_settings(
        source=source, export={"output_dir": str(out), "tables": tables, "chunk_size": chunk_size}
    )


def _tree(out: Path) -> dict[str, bytes]:
    return {p.relative_to(out).as_posix(): p.read_bytes() for p in sorted(out.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def client() -> Iterator[Client]:
    with (
        LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=":0") as cluster,
        Client(cluster) as dask_client,
    ):
        yield dask_client


@pytest.mark.parametrize(("lake", "first", "last", "chunk_size", "tables"), LAKES)
def test_a_local_cluster_writes_the_same_files_as_one_process(
    client: Client,
    tmp_path: Path,
    lake: str,
    first: int,
    last: int,
    chunk_size: int,
    tables: tuple[str, ...],
) -> None:
    one = _settings(DATA / "lakes" / lake, first, last, tmp_path / "one", chunk_size, tables)
    many = _settings(DATA / "lakes" / lake, first, last, tmp_path / "many", chunk_size, tables)
    run_export(one)
    summary = run_export_on_cluster(many, client)
    assert summary.workers == 2
    assert summary.export.chunks_written == -(-(last - first + 1) // chunk_size)
    assert summary.export.ledgers_exported == last - first + 1
    expected = _tree(tmp_path / "one")
    assert len(expected) == summary.export.chunks_written * (
        len(tables) + 1
    )  # files and a manifest per chunk
    assert_same_files(_tree(tmp_path / "many"), expected)
    again = run_export_on_cluster(many, client)
    assert (again.export.chunks_written, again.export.chunks_skipped) == (0, summary.export.chunks_written)


def test_a_terminal_error_in_a_chunk_stops_the_export_without_retries(
    client: Client, lake_copy: Path, tmp_path: Path
) -> None:
    bad = object_path(lake_copy, FIRST + 4)
    bad.write_bytes(b"\x28\xb5\x2f\xfd" + b"not zstd at all" * 8)
    settings = _settings(lake_copy, FIRST, FIRST + 8, tmp_path / "out", 3, ("ledgers",))
    with pytest.raises(LedgerObjectError, match=bad.name):
        run_export_on_cluster(settings, client)
    assert not (tmp_path / "out" / "_manifests" / f"chunk-{FIRST + 3}-{FIRST + 5}.json").exists()


def test_a_broken_chain_between_chunks_is_found_from_the_manifests(client: Client, tmp_path: Path) -> None:
    settings = _settings(SAMPLE_LAKE, FIRST, FIRST + 5, tmp_path / "out", 3, ("ledgers",))
    run_export_on_cluster(settings, client)
    manifest = tmp_path / "out" / "_manifests" / f"chunk-{FIRST}-{FIRST + 2}.json"
    text = manifest.read_text()
    import json

    body = json.loads(text)
    body["last_hash"] = "00" * 32
    manifest.write_text(json.dumps(body))
    from stellar_arrow.errors import HashChainError

    with pytest.raises(HashChainError, match=f"ledger {FIRST + 3} names previous hash"):
        run_export_on_cluster(settings, client)


def test_tasks_carry_no_credentials(tmp_path: Path) -> None:
    settings = load_settings(
        source={"datalake_uri": "s3://bucket/lake", "start_ledger": FIRST, "storage_options": {"anon": True}},
        export={"output_dir": str(tmp_path)},
    )
    sections = task_settings(settings)
    assert sections["source"]["storage_options"] == {"anon": True}
    assert sections["export"]["workers"] == 0
    secret = "AKIA-super-secret-value-0123456789abcdef"  # long enough for a JWT secret
    leaky = load_settings(
        source={
            "datalake_uri": "s3://bucket/lake",
            "start_ledger": FIRST,
            "storage_options": {"secret": secret},
        },
        export={"output_dir": str(tmp_path)},
    )
    with pytest.raises(ConfigError, match="credentials"):
        task_settings(leaky)
    secret_fields = [
        (name, field_name)
        for name in type(settings).model_fields
        for field_name, info in type(getattr(settings, name)).model_fields.items()
        if "SecretStr" in str(info.annotation)
    ]
    assert secret_fields, "the settings hold secrets (security.jwt_secret...): this test must see them"
    for section, field_name in secret_fields:
        companions = (
            {"jwt_issuer": "issuer", "jwt_audience": "audience"} if field_name == "jwt_secret" else {}
        )
        with_secret = load_settings(
            source={"datalake_uri": str(SAMPLE_LAKE), "start_ledger": FIRST},
            export={"output_dir": str(tmp_path)},
            **{section: {field_name: secret, **companions}},
        )
        assert secret.encode() not in pickle.dumps(task_settings(with_secret))


@pytest.mark.parametrize(
    ("flags", "words"),
    [
        (["--cluster", "local:0"], "local:N with N in 1..256"),
        (["--cluster", "local:99999"], "local:N"),
        (["--cluster", "remote:2"], "local:N"),
        (["--cluster", ""], "local:N"),
        (["--scheduler", "tcp://host-without-port"], "scheduler's address"),
        (["--scheduler", "http://127.0.0.1:8786"], "scheduler's address"),
        (["--cluster", "local:2", "--scheduler", "tcp://127.0.0.1:8786"], "exclude each other"),
    ],
)
def test_hostile_cluster_flags_are_one_line_config_errors(
    tmp_path: Path, flags: list[str], words: str
) -> None:
    result = CliRunner().invoke(
        app,
        ["export", "--no-progress", "--source", str(SAMPLE_LAKE), "--start", str(FIRST), "--end", str(FIRST),
         "--out", str(tmp_path / "o"), *flags],
    )  # fmt: skip
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output
    assert not (tmp_path / "o").exists()


def test_an_unreachable_scheduler_fails_fast(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    started = time.monotonic()
    result = CliRunner().invoke(
        app,
        ["export", "--no-progress", "--source", str(SAMPLE_LAKE), "--start", str(FIRST), "--end", str(FIRST),
         "--out", str(tmp_path / "o"), "--scheduler", f"tcp://127.0.0.1:{port}"],
    )  # fmt: skip
    assert result.exit_code != 0 and "Dask scheduler" in result.output
    assert time.monotonic() - started < 60


# --- a real scheduler and workers, one killed mid-run ---------------------------------------------------


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _dask(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [str(Path(sys.executable).parent / "dask"), *args],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=30)


def test_a_worker_killed_mid_run_loses_nothing(tmp_path: Path) -> None:
    port = _free_port()
    scheduler = f"tcp://127.0.0.1:{port}"
    processes = [_dask("scheduler", "--host", "127.0.0.1", "--port", str(port), "--dashboard-address", ":0")]
    try:
        workers = [
            _dask("worker", scheduler, "--nworkers", "1", "--nthreads", "1", "--dashboard-address", ":0",
                  "--host", "127.0.0.1")
            for _ in range(2)
        ]  # fmt: skip
        processes += workers
        with Client(scheduler, timeout=60) as probe:
            probe.wait_for_workers(2, timeout=60)
        out = tmp_path / "cluster"
        tables = "ledgers,transactions,token_transfers"
        export = subprocess.Popen(
            [str(Path(sys.executable).parent / "stellar-arrow"), "export", "--no-progress",
             "--source", str(SAMPLE_LAKE), "--start", str(FIRST), "--end", str(LAST), "--tables", tables,
             "--chunk-size", "1", "--out", str(out), "--scheduler", scheduler],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        )  # fmt: skip
        deadline = time.monotonic() + 120
        while not list((out / "_manifests").glob("chunk-*.json")) if (out / "_manifests").exists() else True:
            assert time.monotonic() < deadline and export.poll() is None, "no chunk was written"
            time.sleep(0.05)
        _stop(workers[0])  # mid-run: the other chunks are still queued or running
        _, stderr = export.communicate(timeout=240)
        assert export.returncode == 0, stderr.decode()[-2000:]
        assert b"dashboard" in stderr
        one = tmp_path / "one"
        run_export(_settings(SAMPLE_LAKE, FIRST, LAST, one, 1, tuple(tables.split(","))))
        assert_same_files(_tree(out), _tree(one))
        damaged = out / "transactions" / f"transactions-{FIRST + 7}-{FIRST + 7}.parquet"
        damaged.write_bytes(damaged.read_bytes()[:-10])
        rerun = subprocess.run(
            [str(Path(sys.executable).parent / "stellar-arrow"), "export", "--no-progress",
             "--source", str(SAMPLE_LAKE), "--start", str(FIRST), "--end", str(LAST), "--tables", tables,
             "--chunk-size", "1", "--out", str(out), "--scheduler", scheduler],
            capture_output=True, timeout=240, check=False,
        )  # fmt: skip
        assert rerun.returncode == 0, rerun.stderr.decode()[-2000:]
        assert_same_files(_tree(out), _tree(one))
        assert b"chunks written: 1, skipped (already complete): 19" in rerun.stdout, rerun.stdout.decode()
    finally:
        for process in reversed(processes):
            _stop(process)
