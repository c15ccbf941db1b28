"""The ``stellar-arrow`` command line: parse arguments, build settings, call a stage. No logic lives here.

Every command builds one :class:`~stellar_arrow.config.Settings` from ``--config FILE`` (YAML), the
``STELLAR_ARROW_<SECTION>__<KEY>`` environment and its flags, which override the keys they name
(flags > environment > file > defaults; an absent flag overrides nothing). Every command ends with the
exit status of :class:`~stellar_arrow.errors.ExitStatus`: 0 ok, 1 data failure, 2 usage or settings
error, 3 upstream unavailable, 130 interrupted; an error prints one line, never a traceback.
"""

from __future__ import annotations

import gc
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

if TYPE_CHECKING:
    from stellar_arrow.config import Settings
    from stellar_arrow.export.job import ExportSummary

__all__ = ["app", "main"]


@contextmanager
def _exit_on_error() -> Iterator[None]:
    """A typed error -> its class and message on stderr and its exit status; Ctrl-C -> 130."""
    from stellar_arrow.errors import StellarArrowError, exit_status

    try:
        yield
    except StellarArrowError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(exit_status(exc)) from None
    except KeyboardInterrupt as exc:
        typer.echo("interrupted", err=True)
        raise typer.Exit(exit_status(exc)) from None


def _settings(config: Path | None, **sections: dict[str, Any]) -> Settings:
    from stellar_arrow.config import load_settings

    return load_settings(config, **sections)


def _source_flags(
    source: str | None,
    start: int | None,
    end: int | None,
    network: str | None,
    ledgers_per_batch: int | None = None,
    batches_per_partition: int | None = None,
    storage_options: dict[str, str | bool] | None = None,
) -> dict[str, Any]:
    from stellar_arrow.source.open import source_spec

    flags: dict[str, Any] = source_spec(source) if source is not None else {}
    flags.update(
        start_ledger=start,
        end_ledger=end,
        network_passphrase=network,
        ledgers_per_batch=ledgers_per_batch,
        batches_per_partition=batches_per_partition,
        storage_options=storage_options,
    )
    return flags


app = typer.Typer(
    name="stellar-arrow",
    help="Arrow-native pipeline for Stellar ledgers: sources, token transfer events, Flight services, sinks. "
    "Exit status: 0 ok, 1 data failure, 2 usage/settings error, 3 upstream unavailable, 130 interrupted.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root(ctx: typer.Context) -> None:
    """stellar-arrow command line."""
    if ctx.invoked_subcommand not in _LONG_START_UP:
        _start_up_done()


# Commands that end their start-up themselves (once their services are up): until then, no cyclic GC.
_LONG_START_UP = frozenset({"run", "serve"})


def _start_up_done() -> None:
    """Turn the cyclic garbage collector back on, with what start-up allocated frozen out of its sight.

    :func:`main` turns it off: start-up (imports, FastAPI's models, settings) allocates some hundred
    thousand objects that live as long as the process, and the collector would traverse them again and
    again while they are created (docs/performance.md, "run start-up"). Frozen (:func:`gc.freeze`), later
    full collections skip them too. Idempotent; a no-op when the collector is already on (e.g. ``app``
    invoked by a test).
    """
    if not gc.isenabled():
        gc.freeze()
        gc.enable()


def _echo_ending_start_up(echo: Callable[[str], None]) -> Callable[[str], None]:
    """``echo`` that ends start-up at its first line (``run`` prints once the services are up)."""

    def first_line_ends_start_up(line: str) -> None:
        _start_up_done()
        echo(line)

    return first_line_ends_start_up


_ConfigOpt = Annotated[
    Path | None, typer.Option("--config", help="settings YAML file (flags override its keys)")
]
_SourceOpt = Annotated[
    str | None,
    typer.Option(
        "--source", help="lake folder or s3://, gs://, lake+https:// URI; http(s):// RPC; a ledger file"
    ),
]
_NetworkOpt = Annotated[
    str | None,
    typer.Option("--network", help="pubnet | testnet | futurenet | standalone | a passphrase"),
]
_DecoderOpt = Annotated[
    str | None,
    typer.Option(
        "--decoder", help="compiled (default; python if not built) | python | sdk (slow, the oracle)"
    ),
]
_PerBatchOpt = Annotated[
    int | None, typer.Option("--ledgers-per-batch", help="lakes without .config.json only")
]
_PerPartitionOpt = Annotated[
    int | None, typer.Option("--batches-per-partition", help="lakes without .config.json only")
]


@app.command("run")
def _run(
    config: _ConfigOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="output directory (sink.output_dir)")] = None,
    exit_when_done: Annotated[bool, typer.Option("--exit-when-done", help="exit after the summary")] = False,
) -> None:
    """Run source, processor and sink as supervised Flight services; Parquet under OUT/<table>/.

    Without --config: the bundled sample lake data/lakes/pubnet-p26, free loopback ports.
    """
    _server_allocator()  # for the services when they run in this process (pipeline.processes: one)
    from stellar_arrow.pipeline.run import run_pipeline, run_settings

    with _exit_on_error():
        settings = run_settings(config, out)
        output_dir = Path(settings.sink.output_dir)
        echo = _echo_ending_start_up(typer.echo)
        try:
            run_pipeline(settings, output_dir=output_dir, exit_when_done=exit_when_done, echo=echo)
        finally:
            _start_up_done()


def _server_allocator() -> None:
    """Long-running servers use Arrow's system allocator (unless ARROW_DEFAULT_MEMORY_POOL is set).

    The default (mimalloc) keeps per-thread heaps: under many concurrent streams a sink grew to ~3x the memory
    of the system allocator and kept it (docs/performance.md, "Load"). Must run before pyarrow is imported.
    """
    os.environ.setdefault("ARROW_DEFAULT_MEMORY_POOL", "system")


@app.command("serve")
def _serve(
    role: Annotated[str, typer.Argument(help="source | processor | sink")],
    config: _ConfigOpt = None,
    ready_file: Annotated[Path | None, typer.Option("--ready-file", hidden=True)] = None,
) -> None:
    """Run one Flight service (source :8815, processor :8816, sink :8817) until SIGTERM/SIGINT."""
    _server_allocator()
    from stellar_arrow.pipeline.serve import serve_role

    with _exit_on_error():
        settings = _settings(config)
        _start_up_done()  # its modules are imported; the service starts (and serves) with the collector on
        serve_role(role, settings, ready_file)


@app.command("rpc-replay")
def _rpc_replay(
    config: _ConfigOpt = None,
    lake: Annotated[
        str | None, typer.Option("--lake", help="local SEP-54 lake folder (source.datalake_uri)")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", help="TCP port, 0 picks a free one (replay.port)")
    ] = None,
    host: Annotated[str | None, typer.Option("--host", help="interface to listen on (replay.host)")] = None,
    start_at: Annotated[
        int | None,
        typer.Option("--start-at", help="release ledgers gradually, starting with this one as the tip"),
    ] = None,
    ledger_interval: Annotated[
        float | None, typer.Option("--ledger-interval", help="seconds between released ledgers")
    ] = None,
) -> None:
    """Serve a local lake as a Stellar RPC (getLedgers, getLatestLedger, getNetwork, getHealth)."""
    from stellar_arrow.source.rpc_server import serve_rpc_replay

    with _exit_on_error():
        settings = _settings(
            config,
            source={"datalake_uri": lake},
            replay={"port": port, "host": host, "start_at": start_at, "ledger_interval_s": ledger_interval},
        )
        serve_rpc_replay(
            settings.source.datalake_uri,
            host=settings.replay.host,
            port=settings.replay.port,
            start_at=settings.replay.start_at,
            ledger_interval=settings.replay.ledger_interval_s,
        )


@app.command("verify")
def _verify(
    config: _ConfigOpt = None,
    source: _SourceOpt = None,
    start: Annotated[int | None, typer.Option("--start", help="first ledger (required for a lake)")] = None,
    end: Annotated[
        int | None, typer.Option("--end", help="last ledger (default: --start, or a file's last)")
    ] = None,
    mode: Annotated[str | None, typer.Option("--mode", help="derived | unified | both")] = None,
    strict: Annotated[
        bool | None,
        typer.Option("--strict/--no-strict", help="add per-operation, SAC balance and fee checks"),
    ] = None,
    network: _NetworkOpt = None,
    ledgers_per_batch: _PerBatchOpt = None,
    batches_per_partition: _PerPartitionOpt = None,
    decoder: _DecoderOpt = None,
) -> None:
    """Reconcile token transfer events with ledger balance changes; exit 1 on any mismatch."""
    from stellar_arrow.verification import run_verify

    with _exit_on_error():
        settings = _settings(
            config,
            source=_source_flags(source, start, end, network, ledgers_per_batch, batches_per_partition),
            verify={"mode": mode, "strict": strict, "decoder": decoder},
        )
        code = run_verify(settings, echo=typer.echo)
    raise typer.Exit(code)


@app.command("validate")
def _validate(
    dir: Annotated[Path | None, typer.Argument(help="output directory of the sink (sink.output_dir)")] = None,
    config: _ConfigOpt = None,
) -> None:
    """Check every committed file against its manifest (size, sha256, rows, schema); exit 1 on a problem."""
    from stellar_arrow.sink.validate import validate_dir

    with _exit_on_error():
        settings = _settings(config, sink={"output_dir": None if dir is None else str(dir)})
        report = validate_dir(Path(settings.sink.output_dir))
    for problem in report.problems:
        typer.echo(f"BAD {problem.path}: {problem.problem}")
    state = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    typer.echo(
        f"{state}: {report.commits} commits, {report.files_checked} files, {report.rows} rows, "
        f"checkpoint ledger {report.last_checkpoint}, {report.delta_tables} Delta tables"
    )
    if not report.ok:
        raise typer.Exit(1)


@app.command("lifecycle")
def _lifecycle(
    dir: Annotated[Path | None, typer.Argument(help="output directory of the sink (sink.output_dir)")] = None,
    apply: Annotated[
        bool, typer.Option("--apply/--dry-run", help="run the plan, or only print it (the default)")
    ] = False,
    archive: Annotated[
        str | None, typer.Option("--archive", help="archive location: folder or fsspec URL")
    ] = None,
    now: Annotated[str | None, typer.Option("--now", help="evaluate ages at this ISO-8601 time")] = None,
    config: _ConfigOpt = None,
) -> None:
    """Compaction, retention, archival and storage limits (docs/lifecycle.md): print the plan or apply it."""
    from stellar_arrow.lifecycle.command import run_lifecycle_command

    with _exit_on_error():
        settings = _settings(
            config,
            sink={"output_dir": None if dir is None else str(dir)},
            lifecycle={"archive_location": archive},
        )
        code = run_lifecycle_command(
            settings, Path(settings.sink.output_dir), apply=apply, now=now, echo=typer.echo
        )
    raise typer.Exit(code)


@app.command("api")
def _api(
    dir: Annotated[
        Path | None, typer.Argument(help="output of the sink or of export, read-only (sink.output_dir)")
    ] = None,
    config: _ConfigOpt = None,
    host: Annotated[str | None, typer.Option("--host", help="interface (api.host)")] = None,
    port: Annotated[int | None, typer.Option("--port", help="0 picks a free port (api.api_port)")] = None,
) -> None:
    """Serve REST, WebSocket and the dashboard over a sink or export output (new files are picked up).

    The ``security`` section applies (auth, TLS, CORS, allowed hosts); a non-loopback --host needs
    security.auth_enabled (or security.allow_insecure).
    """
    _server_allocator()
    from stellar_arrow.api.serve import serve_directory

    with _exit_on_error():
        settings = _settings(
            config,
            sink={"output_dir": None if dir is None else str(dir)},
            api={"host": host, "api_port": port},
        )
        serve_directory(Path(settings.sink.output_dir), settings.api, security=settings.security)


@app.command("export")
def _export(
    config: _ConfigOpt = None,
    source: _SourceOpt = None,
    start: Annotated[
        int | None, typer.Option("--start", help="first ledger, inclusive (source.start_ledger)")
    ] = None,
    out: Annotated[
        str | None,
        typer.Option(
            "--out",
            "--output",
            help="output folder or object store URL (s3://bucket/prefix): OUT/<table>/<table>-<a>-<b>.<ext>",
        ),
    ] = None,
    end: Annotated[int | None, typer.Option("--end", help="last ledger (inclusive; default: latest)")] = None,
    tables: Annotated[
        str | None,
        typer.Option("--tables", help="comma list: ledgers,transactions,operations,token_transfers"),
    ] = None,
    file_format: Annotated[str | None, typer.Option("--format", help="parquet | jsonl | csv | delta")] = None,
    network: _NetworkOpt = None,
    chunk_size: Annotated[int | None, typer.Option("--chunk-size", help="ledgers per output file")] = None,
    workers: Annotated[
        int | None,
        typer.Option("--workers", help="decoding processes (0: in this process; at most 4 per CPU)"),
    ] = None,
    include_xdr: Annotated[
        bool | None, typer.Option("--include-xdr/--no-include-xdr", help="add base64 raw XDR columns")
    ] = None,
    decoder: _DecoderOpt = None,
    verify_hashes: Annotated[
        bool | None,
        typer.Option("--verify-hashes/--no-verify-hashes", help="check header hashes against content"),
    ] = None,
    verify: Annotated[
        bool | None,
        typer.Option(
            "--verify/--no-verify", help="reconcile token transfer events with balance changes per ledger"
        ),
    ] = None,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="progress bar")] = None,
    overwrite: Annotated[
        bool | None, typer.Option("--overwrite", help="rewrite complete chunks and replace overlapping ones")
    ] = None,
    storage_option: Annotated[
        list[str] | None, typer.Option("--storage-option", help="KEY=VALUE for fsspec, e.g. endpoint_url=URL")
    ] = None,
    output_option: Annotated[
        list[str] | None,
        typer.Option(
            "--output-option", help="KEY=VALUE for the output store (fsspec), e.g. endpoint_url=URL"
        ),
    ] = None,
    ledgers_per_batch: _PerBatchOpt = None,
    batches_per_partition: _PerPartitionOpt = None,
    cluster: Annotated[
        str | None,
        typer.Option("--cluster", help="local:N: run the chunks on a local Dask cluster of N workers"),
    ] = None,
    scheduler: Annotated[
        str | None,
        typer.Option("--scheduler", help="tcp://HOST:PORT: run the chunks on an existing Dask cluster"),
    ] = None,
    where: Annotated[
        str | None,
        typer.Option("--where", help="keep token_transfers rows matching this filter expression"),
    ] = None,
    operation_type: Annotated[
        str | None,
        typer.Option("--operation-type", help="comma list: keep token_transfers rows of these operations"),
    ] = None,
    named_filter: Annotated[
        str | None,
        typer.Option("--filter", help="comma list of named filters: successful_payments,large_amounts"),
    ] = None,
) -> None:
    """Export ledgers to chunked Parquet/JSONL/CSV tables (resumable; bad input: no partial file)."""
    from stellar_arrow.export.console import format_summary, parse_storage_options

    with _exit_on_error():
        flags = _source_flags(
            source,
            start,
            end,
            network,
            ledgers_per_batch,
            batches_per_partition,
            parse_storage_options(storage_option or []),
        )
        settings = _settings(
            config,
            source=flags,
            export={
                "output_dir": out,
                "output_storage_options": parse_storage_options(output_option or [], "--output-option"),
                "tables": None if tables is None else tuple(tables.split(",")),
                "format": file_format,
                "chunk_size": chunk_size,
                "workers": workers,
                "include_xdr": include_xdr,
                "decoder": decoder,
                "verify_hashes": verify_hashes,
                "verify_events": verify,
                "overwrite": overwrite,
                "cluster": cluster,
                "scheduler": scheduler,
                "where": where,
                "operation_types": None if operation_type is None else tuple(operation_type.split(",")),
                "named_filters": None if named_filter is None else tuple(named_filter.split(",")),
            },
        )
        summary = _export_summary(settings, progress)
    typer.echo(format_summary(summary, str(settings.export.output_dir)))


def _export_summary(settings: Settings, progress: bool | None) -> ExportSummary:
    """A one-process export, or the same chunks on a Dask cluster when the settings name one."""
    from stellar_arrow.export.console import export_with_progress
    from stellar_arrow.scaleout import export_on_cluster_with_progress, parse_cluster

    spec = parse_cluster(settings.export)
    if spec is None:
        return export_with_progress(settings, show_progress=progress)
    return export_on_cluster_with_progress(settings, spec, show_progress=progress).export


keys_app = typer.Typer(help="API keys: create (shown once), list, revoke.", no_args_is_help=True)
app.add_typer(keys_app, name="keys")
_StoreOpt = Annotated[
    Path | None, typer.Option("--store", help="key store file (default: security.api_keys_file)")
]


@keys_app.command("create")
def _keys_create(
    key_id: Annotated[str, typer.Option("--id", help="key id chosen by the operator, e.g. reader-001")],
    role: Annotated[list[str], typer.Option("--role", help="admin | reader | processor (repeatable)")],
    description: Annotated[str, typer.Option("--description")] = "",
    expires_in: Annotated[
        str | None, typer.Option("--expires-in", help="e.g. 90d, 12h (default: never)")
    ] = None,
    config: _ConfigOpt = None,
    store: _StoreOpt = None,
) -> None:
    """Create an API key; the key is printed once, alone on the last line."""
    from stellar_arrow.security.keys_cli import create_key

    with _exit_on_error():
        create_key(
            key_id,
            role,
            description=description,
            expires_in=expires_in,
            config=config,
            store=store,
            echo=typer.echo,
        )


@keys_app.command("list")
def _keys_list(config: _ConfigOpt = None, store: _StoreOpt = None) -> None:
    """List keys (id, roles, state, dates; never the keys)."""
    from stellar_arrow.security.keys_cli import list_keys

    with _exit_on_error():
        list_keys(config=config, store=store, echo=typer.echo)


@keys_app.command("revoke")
def _keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key id")],
    config: _ConfigOpt = None,
    store: _StoreOpt = None,
) -> None:
    """Revoke a key: every service sharing the store refuses it from its next call."""
    from stellar_arrow.security.keys_cli import revoke_key

    with _exit_on_error():
        revoke_key(key_id, config=config, store=store, echo=typer.echo)


def main() -> None:
    """Entry point of the ``stellar-arrow`` script (no cyclic GC until the command's start-up is done)."""
    gc.disable()
    try:
        app()
    finally:
        gc.enable()
