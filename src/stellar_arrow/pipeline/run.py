"""``stellar-arrow run``: the whole pipeline as three supervised processes, with a summary at the end.

With no configuration it reads the bundled sample lake (``data/lakes/pubnet-p26``), serves Flight on
8815/8816/8817 and health (``/health``, ``/metrics``) on 8088/8089/8090, the sink's HTTP API
(dashboard, REST, WebSocket) on 127.0.0.1:8081 (a free port for each one taken), and writes
``./data/run/<table>/``. A bounded run prints its summary when the sink has committed the last ledger,
then keeps serving (the committed tables over Flight and HTTP) until interrupted, or exits with
``exit_when_done``. A live run prints progress and serves until interrupted.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from stellar_arrow.config import DEFAULT_LAKE, Settings, load_settings
from stellar_arrow.errors import SinkError
from stellar_arrow.pipeline.roles import Role, settle_settings_network
from stellar_arrow.pipeline.supervisor import Supervisor
from stellar_arrow.sink import read_commits
from stellar_arrow.sink.manifest import live_files

__all__ = [
    "Pipeline",
    "RunSummary",
    "Service",
    "TableSummary",
    "run_pipeline",
    "run_settings",
    "start_pipeline",
    "summarize",
]

Echo = Callable[[str], None]


class Service(Protocol):
    """Where one service of a run listens (a supervised child or an in-process service)."""

    @property
    def uri(self) -> str | None: ...
    @property
    def pid(self) -> int | None: ...
    @property
    def log_file(self) -> Path: ...
    @property
    def health_url(self) -> str | None: ...
    @property
    def api_url(self) -> str | None: ...


class Pipeline(Protocol):
    """The running services of ``run``: :class:`Supervisor` (separate processes) or one process."""

    @property
    def children(self) -> Mapping[Role, Service]: ...
    def start(self) -> None: ...
    def poll(self) -> list[Any]: ...
    def sink_status(self) -> dict[str, Any] | None: ...
    def stop(self) -> None: ...


def start_pipeline(settings: Settings, run_dir: Path, echo: Echo) -> Pipeline:
    """The pipeline ``pipeline.processes`` asks for (not started yet)."""
    if settings.pipeline.processes == "one":
        from stellar_arrow.pipeline.single import InProcessPipeline  # the services' code, in this process

        return InProcessPipeline(settings, run_dir, echo=echo)
    return Supervisor(settings, run_dir, echo=echo)


@dataclass(frozen=True, slots=True)
class TableSummary:
    table: str
    rows: int
    files: int
    path: Path


@dataclass(frozen=True, slots=True)
class RunSummary:
    """What a run committed, read back from the output directory's commit log."""

    output_dir: Path
    first_ledger: int | None
    last_ledger: int | None
    commits: int
    tables: tuple[TableSummary, ...]


def summarize(output_dir: Path) -> RunSummary:
    rows: dict[str, int] = {}
    files: dict[str, int] = {}
    first: int | None = None
    last: int | None = None
    commits = 0
    records = list(read_commits(output_dir))
    for record in records:
        commits += 1
        last = record.checkpoint.ledger_sequence
        if record.first_ledger is not None:
            first = record.first_ledger if first is None else min(first, record.first_ledger)
    for manifest in live_files(records).values():  # lifecycle replace commits take files out
        if manifest.format == "parquet":
            rows[manifest.table] = rows.get(manifest.table, 0) + manifest.rows
            files[manifest.table] = files.get(manifest.table, 0) + 1
    tables = tuple(TableSummary(t, rows[t], files[t], output_dir / t) for t in sorted(rows))
    return RunSummary(output_dir, first, last, commits, tables)


def _print_summary(summary: RunSummary, supervisor: Pipeline, echo: Echo) -> None:
    echo(f"ledgers {summary.first_ledger}..{summary.last_ledger} committed in {summary.commits} commit(s)")
    for t in summary.tables:
        echo(f"  {t.table:<16} {t.rows:>9} rows in {t.files} Parquet file(s) under {t.path}/")
    for role, child in supervisor.children.items():
        echo(f"  {role:<9} Flight service at {child.uri} (pid {child.pid}, log {child.log_file})")
        if child.health_url:
            echo(f"  {'':<9} health {child.health_url}/health/ready, metrics {child.health_url}/metrics")
    echo("query it:")
    glob = f"{summary.output_dir}/token_transfers/**/*.parquet"
    query = f"SELECT event_type, count(*) FROM read_parquet('{glob}', hive_partitioning=true) GROUP BY 1"
    echo(f'  .venv/bin/python -c "import duckdb; duckdb.sql(\\"{query}\\").show()"')
    api_url = supervisor.children["sink"].api_url
    if api_url is not None:
        echo(f"  dashboard  {api_url}/")
        echo(f"  REST       {api_url}/api/v1/transfers?limit=10   (OpenAPI: {api_url}/docs)")
        echo(f"  WebSocket  {api_url.replace('http://', 'ws://', 1)}/ws")
    echo(f"  stellar-arrow api {summary.output_dir}   # the same API over these files, after the run")
    echo(
        f"  or Flight: do_get on {supervisor.children['sink'].uri} with a JSON ticket "
        '{"v":1,"stream":"token_transfers","start_ledger":N}'
    )


def run_pipeline(
    settings: Settings,
    *,
    output_dir: Path,
    exit_when_done: bool,
    echo: Echo = print,
    timeout_s: float | None = None,
) -> RunSummary:
    """Run the pipeline; returns the summary after a bounded run (or after interruption of a live one)."""
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set()) for sig in (signal.SIGINT, signal.SIGTERM)}
    supervisor = start_pipeline(settings, output_dir / "_run", echo)
    started = time.monotonic()
    try:
        supervisor.start()
        for role, child in supervisor.children.items():
            health = f", health {child.health_url}/health" if child.health_url else ""
            echo(f"{role:<9} started at {child.uri} (pid {child.pid}{health})")
        api_url = supervisor.children["sink"].api_url
        if api_url is not None:
            echo(f"dashboard at {api_url}/  (REST {api_url}/api/v1, WebSocket /ws)")
        status = _wait_done(supervisor, settings, stop, echo, started, timeout_s)
        summary = summarize(output_dir)
        if status is not None and status.get("done"):
            echo(f"done in {time.monotonic() - started:.1f} s")
        _print_summary(summary, supervisor, echo)
        if not exit_when_done and not stop.is_set():
            echo("serving until interrupted (Ctrl-C)")
            while not stop.wait(0.5):
                supervisor.poll()
        return summary
    finally:
        supervisor.stop()
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def _wait_done(
    supervisor: Pipeline,
    settings: Settings,
    stop: threading.Event,
    echo: Echo,
    started: float,
    timeout_s: float | None,
) -> dict[str, Any] | None:
    last_report = time.monotonic()
    status: dict[str, Any] | None = None
    while not stop.is_set():
        for role in supervisor.poll():
            echo(f"{role} exited unexpectedly; restarted at {supervisor.children[role].uri}")
        status = supervisor.sink_status() or status
        if status is not None:
            if status.get("done"):
                return status
            if status.get("failed"):
                committed = status.get("checkpoint")
                where = f"committed through ledger {committed}" if committed else "nothing committed yet"
                msg = f"sink failed ({where}): {status['error']}"
                raise SinkError(msg, ledger_sequence=status.get("checkpoint"))
        now = time.monotonic()
        if now - last_report >= 5.0 and status is not None:
            echo(f"... committed through ledger {status.get('checkpoint')}")
            last_report = now
        if timeout_s is not None and now - started > timeout_s:
            msg = f"the run did not finish within {timeout_s:.0f} s (last status: {status})"
            raise SinkError(msg)
        stop.wait(0.1)
    return status


def _free_or_zero(host: str, port: int) -> int:
    """``port`` if it can be bound on ``host`` now, else 0 (a free port)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return 0
    return port


def run_settings(config: Path | None, out: Path | None, **flags: dict[str, Any]) -> Settings:
    """Settings of ``stellar-arrow run``: without a config file, the design's ports when free (the demo).

    ``flags`` are command-line overrides by section; the network is settled here, once, so every
    service process gets the same passphrase.
    """
    overrides: dict[str, dict[str, Any]] = {}
    if config is None:  # the design's ports (8815/8816/8817) when free, else free ones (printed)
        defaults = load_settings()
        overrides = {
            role: {
                "flight_port": _free_or_zero(
                    getattr(defaults, role).host, getattr(defaults, role).flight_port
                )
            }
            for role in ("source", "processor", "sink")
        }
        overrides["api"] = {"port_fallback": True}
        bundled = Path(__file__).resolve().parents[3] / DEFAULT_LAKE
        if not Path(DEFAULT_LAKE).is_dir() and bundled.is_dir():
            overrides["source"]["datalake_uri"] = str(bundled)
    if out is not None:
        overrides.setdefault("sink", {})["output_dir"] = str(out)
    for section, keys in flags.items():
        overrides.setdefault(section, {}).update(keys)
    return settle_settings_network(load_settings(config, **overrides))
