"""The ``stellar-arrow`` command line: parse arguments, build settings, call a stage. No logic lives here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

__all__ = ["app", "main"]


@contextmanager
def _exit_on_error(code: int) -> Iterator[None]:
    """Turn a typed error into its class and message on stderr and exit status ``code`` (no traceback)."""
    from stellar_arrow.errors import StellarArrowError

    try:
        yield
    except StellarArrowError as exc:
        typer.echo(f"error: {type(exc).__name__}: {exc}", err=True)
        raise typer.Exit(code) from None


app = typer.Typer(
    name="stellar-arrow",
    help="Arrow-native pipeline for Stellar ledgers: sources, token transfer events, Flight services, sinks.",
    no_args_is_help=True,
    add_completion=False,
)


@app.callback()
def _root() -> None:
    """stellar-arrow command line."""


_ConfigOpt = Annotated[Path | None, typer.Option("--config", help="pipeline YAML file")]


@app.command("run")
def _run(
    config: _ConfigOpt = None,
    out: Annotated[Path | None, typer.Option("--out", help="output directory (default: data/run)")] = None,
    exit_when_done: Annotated[bool, typer.Option("--exit-when-done", help="exit after the summary")] = False,
) -> None:
    """Run source, processor and sink as supervised Flight services; Parquet under OUT/<table>/.

    Without --config: the bundled sample lake data/lakes/pubnet-p26, free loopback ports.
    """
    from stellar_arrow.pipeline.run import run_pipeline, run_settings

    with _exit_on_error(2):
        settings = run_settings(config, out)
        output_dir = Path(settings.sink.output_dir)
        run_pipeline(settings, output_dir=output_dir, exit_when_done=exit_when_done, echo=typer.echo)


@app.command("serve")
def _serve(
    role: Annotated[str, typer.Argument(help="source | processor | sink")],
    config: _ConfigOpt = None,
    ready_file: Annotated[Path | None, typer.Option("--ready-file", hidden=True)] = None,
) -> None:
    """Run one Flight service (source :8815, processor :8816, sink :8817) until SIGTERM/SIGINT."""
    from stellar_arrow.pipeline.serve import serve_role

    with _exit_on_error(2):
        serve_role(role, config, ready_file)


@app.command("rpc-replay")
def _rpc_replay(
    lake: str = typer.Option("data/lakes/pubnet-p26", "--lake", help="local SEP-54 lake folder"),
    port: int = typer.Option(8000, "--port", help="TCP port (0 picks a free one)"),
    host: str = typer.Option("127.0.0.1", "--host", help="interface to listen on"),
    start_at: int | None = typer.Option(
        None, "--start-at", help="release ledgers gradually, starting with this one as the tip"
    ),
    ledger_interval: float = typer.Option(5.0, "--ledger-interval", help="seconds between released ledgers"),
) -> None:
    """Serve a local lake as a Stellar RPC (getLedgers, getLatestLedger, getNetwork, getHealth)."""
    from stellar_arrow.source.rpc_server import serve_rpc_replay

    with _exit_on_error(2):
        serve_rpc_replay(lake, host=host, port=port, start_at=start_at, ledger_interval=ledger_interval)


@app.command("verify")
def _verify(
    source: Annotated[
        str, typer.Option("--source", help="corpus file, or lake folder / s3:// gs:// https:// URI")
    ],
    start: Annotated[int | None, typer.Option("--start", help="first ledger (required for a lake)")] = None,
    end: Annotated[
        int | None, typer.Option("--end", help="last ledger (default: --start, or a file's last)")
    ] = None,
    mode: Annotated[str, typer.Option("--mode", help="derived | unified | both")] = "derived",
    strict: Annotated[
        bool, typer.Option("--strict", help="add per-operation, SAC balance and fee checks")
    ] = False,
    network: Annotated[
        str | None, typer.Option("--network", help="pubnet | testnet | futurenet | standalone | a passphrase")
    ] = None,
    ledgers_per_batch: Annotated[int | None, typer.Option("--ledgers-per-batch", hidden=True)] = None,
    batches_per_partition: Annotated[int | None, typer.Option("--batches-per-partition", hidden=True)] = None,
    decoder: Annotated[
        str, typer.Option("--decoder", help="fast | sdk (stellar-sdk: slow, the oracle)")
    ] = "fast",
) -> None:
    """Reconcile token transfer events with ledger balance changes; exit 1 on any mismatch."""
    from stellar_arrow.verification import run_verify

    with _exit_on_error(2):
        code = run_verify(
            source,
            start=start,
            end=end,
            mode=mode,
            strict=strict,
            network=network,
            echo=typer.echo,
            ledgers_per_batch=ledgers_per_batch,
            batches_per_partition=batches_per_partition,
            decoder=decoder,
        )
    raise typer.Exit(code)


@app.command("validate")
def _validate(dir: Annotated[Path, typer.Argument(help="output directory of the sink")]) -> None:
    """Check every committed file against its manifest (size, sha256, rows, schema); exit 1 on a problem."""
    from stellar_arrow.sink.validate import validate_dir

    with _exit_on_error(2):
        report = validate_dir(dir)
    for problem in report.problems:
        typer.echo(f"BAD {problem.path}: {problem.problem}")
    state = "ok" if report.ok else f"{len(report.problems)} problem(s)"
    typer.echo(
        f"{state}: {report.commits} commits, {report.files_checked} files, {report.rows} rows, "
        f"checkpoint ledger {report.last_checkpoint}"
    )
    if not report.ok:
        raise typer.Exit(1)


@app.command("api")
def _api(
    dir: Annotated[Path, typer.Argument(help="output directory of the sink (read-only)")],
    host: Annotated[str, typer.Option("--host")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="0 picks a free port")] = 8081,
    config: _ConfigOpt = None,
) -> None:
    """Serve REST, WebSocket and the dashboard over a sink output directory (new commits are picked up).

    --config: its ``security`` section (auth, TLS, CORS, allowed hosts) applies; a non-loopback --host
    needs security.auth_enabled (or allow_insecure).
    """
    from stellar_arrow.api.serve import serve_directory
    from stellar_arrow.config import load_settings

    with _exit_on_error(2):
        security = load_settings(config).security
        serve_directory(dir, host=host, port=port, security=security)


@app.command("export")
def _export(
    source: Annotated[
        str,
        typer.Option(
            "--source", help="lake folder or s3://, gs://, lake+https:// URI; http(s):// RPC; a ledger file"
        ),
    ],
    start: Annotated[int, typer.Option("--start", help="first ledger (inclusive)")],
    out: Annotated[Path, typer.Option("--out", help="output directory: OUT/<table>/<table>-<a>-<b>.<ext>")],
    end: Annotated[int | None, typer.Option("--end", help="last ledger (inclusive; default: latest)")] = None,
    tables: Annotated[
        str, typer.Option("--tables", help="comma list: ledgers,transactions,operations,token_transfers")
    ] = "ledgers,transactions,operations",
    file_format: Annotated[str, typer.Option("--format", help="parquet | jsonl | csv")] = "parquet",
    network: Annotated[
        str | None, typer.Option("--network", help="pubnet | testnet | futurenet | standalone | <passphrase>")
    ] = None,
    chunk_size: Annotated[int, typer.Option("--chunk-size", help="ledgers per output file")] = 100,
    workers: Annotated[int, typer.Option("--workers", help="decoding processes (0: in this process)")] = 0,
    include_xdr: Annotated[bool, typer.Option("--include-xdr", help="add base64 raw XDR columns")] = False,
    decoder: Annotated[str, typer.Option("--decoder", help="fast | sdk")] = "fast",
    verify_hashes: Annotated[
        bool, typer.Option("--verify-hashes/--no-verify-hashes", help="check header hashes against content")
    ] = True,
    verify: Annotated[
        bool, typer.Option("--verify", help="reconcile token transfer events with balance changes per ledger")
    ] = False,
    progress: Annotated[bool | None, typer.Option("--progress/--no-progress", help="progress bar")] = None,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="rewrite chunks already complete")] = False,
    storage_option: Annotated[
        list[str] | None, typer.Option("--storage-option", help="KEY=VALUE for fsspec, e.g. endpoint_url=URL")
    ] = None,
    ledgers_per_batch: Annotated[
        int | None, typer.Option("--ledgers-per-batch", help="lakes without .config.json only")
    ] = None,
    batches_per_partition: Annotated[
        int | None, typer.Option("--batches-per-partition", help="lakes without .config.json only")
    ] = None,
) -> None:
    """Export ledgers to chunked Parquet/JSONL/CSV tables (resumable; bad input: exit 1, no partial file)."""
    from stellar_arrow.export.console import export_with_progress, format_summary, parse_storage_options
    from stellar_arrow.export.job import ExportRequest

    with _exit_on_error(1):
        request = ExportRequest(
            source=source,
            start=start,
            end=end,
            out_dir=out,
            tables=tuple(dict.fromkeys(t.strip() for t in tables.split(",") if t.strip())),
            file_format=file_format,
            network=network,
            chunk_size=chunk_size,
            workers=workers,
            include_xdr=include_xdr,
            decoder=decoder,
            verify_hashes=verify_hashes,
            verify_events=verify,
            overwrite=overwrite,
            storage_options=parse_storage_options(storage_option or []),
            ledgers_per_batch=ledgers_per_batch,
            batches_per_partition=batches_per_partition,
        )
        summary = export_with_progress(request, show_progress=progress)
    typer.echo(format_summary(summary, out))


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

    with _exit_on_error(2):
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

    with _exit_on_error(2):
        list_keys(config=config, store=store, echo=typer.echo)


@keys_app.command("revoke")
def _keys_revoke(
    key_id: Annotated[str, typer.Argument(help="the key id")],
    config: _ConfigOpt = None,
    store: _StoreOpt = None,
) -> None:
    """Revoke a key: every service sharing the store refuses it from its next call."""
    from stellar_arrow.security.keys_cli import revoke_key

    with _exit_on_error(2):
        revoke_key(key_id, config=config, store=store, echo=typer.echo)


def main() -> None:
    """Entry point of the ``stellar-arrow`` script."""
    app()
