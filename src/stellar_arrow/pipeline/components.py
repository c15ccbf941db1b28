"""Building the real services from :class:`~stellar_arrow.config.Settings` (the dependency wiring).

The Flight services take plain callables and objects; this module is the one place that knows which
concrete ledger source, event derivation, table builders and sink they get.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from pathlib import Path

from stellar_arrow.build import TableSetOptions, build_ledger_tables, table_schema
from stellar_arrow.config import Settings
from stellar_arrow.errors import ConfigError, UpstreamError
from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.sink_service import SinkService, TableUpstream
from stellar_arrow.flight.source_service import SourceService, TableBuilder
from stellar_arrow.flight.tickets import TransferFilter
from stellar_arrow.flight.transfer_filter import filter_transfers
from stellar_arrow.flight.upstream import upstream_action
from stellar_arrow.ledger.network import resolve_network
from stellar_arrow.sink import DatasetSink, ParquetOptions, SinkOptions
from stellar_arrow.source.base import LedgerSource
from stellar_arrow.vocabulary import SOURCE_TABLES, TABLES

__all__ = [
    "build_processor",
    "build_sink",
    "build_source",
    "first_available_ledger",
    "ledger_source_factory",
    "processor_tables",
    "table_builder",
]


def ledger_source_factory(settings: Settings) -> Callable[[], LedgerSource]:
    """A constructor of fresh ledger sources (one per stream) for the ``source`` section."""
    cfg = settings.source
    if cfg.source_type == "datalake":
        from stellar_arrow.source.lake import DataLakeLedgerSource

        return functools.partial(
            DataLakeLedgerSource,
            cfg.datalake_uri,
            network_passphrase=cfg.network_passphrase,
            buffer_size=cfg.buffer_size,
            workers=cfg.concurrent_readers,
            poll_interval=cfg.poll_interval_s,
        )
    try:
        from stellar_arrow.source.rpc import RpcLedgerSource
    except ImportError as exc:
        msg = f"source_type 'rpc' is not available in this build: {exc}"
        raise ConfigError(msg, key="source.source_type") from None
    assert cfg.rpc_endpoint is not None
    return functools.partial(
        RpcLedgerSource,
        cfg.rpc_endpoint,
        network_passphrase=cfg.network_passphrase,
        page_size=cfg.batch_size,
        poll_interval=cfg.poll_interval_s,
    )


def first_available_ledger(settings: Settings) -> int:
    """``source.start_ledger``, else the oldest ledger of a local lake, else the RPC's latest ledger."""
    cfg = settings.source
    if cfg.start_ledger is not None:
        return cfg.start_ledger
    if cfg.source_type == "datalake" and "://" not in cfg.datalake_uri:
        from stellar_arrow.source.keys import parse_object_name
        from stellar_arrow.source.lake import DataLakeLedgerSource

        root = Path(cfg.datalake_uri)
        if not root.is_dir():
            msg = f"source.datalake_uri {root} is not a directory (relative paths start at {Path.cwd()})"
            raise ConfigError(msg, key="source.datalake_uri")
        lows = [
            parsed.low
            for _, _, names in os.walk(root)
            for name in names
            if (parsed := parse_object_name(name)) is not None
        ]
        if not lows:
            msg = f"source.start_ledger is not set and the lake {root} holds no ledger objects"
            raise ConfigError(msg, key="source.start_ledger")
        lake = DataLakeLedgerSource(cfg.datalake_uri, network_passphrase=cfg.network_passphrase)
        return lake.read_batch(lake.schema.batch_key(min(lows))).start_sequence
    if cfg.source_type == "rpc":
        source = ledger_source_factory(settings)()
        try:
            return source.latest_ledger()
        finally:
            source.close()
    msg = f"source.start_ledger is required for the remote lake {cfg.datalake_uri}"
    raise ConfigError(msg, key="source.start_ledger")


def table_builder(
    settings: Settings, tables: tuple[str, ...] = SOURCE_TABLES, *, verify_events: bool = False
) -> TableBuilder:
    """``tables`` of each ledger from one decode, as the source and processor services build them."""
    options = TableSetOptions(
        tables=tables,
        network=resolve_network(settings.source.network_passphrase),
        verify_events=verify_events,
    )
    return TableBuilder(
        schemas={name: table_schema(name) for name in tables},
        build=functools.partial(build_ledger_tables, options),
    )


def processor_tables(settings: Settings) -> tuple[str, ...]:
    """What the processor builds from each decode: ``token_transfers`` and the tables the sink writes."""
    wanted = {"token_transfers", *settings.sink.tables}
    return tuple(t for t in TABLES if t in wanted)


def _source_tip(endpoint: str, timeout_s: float) -> int:
    """The source service's newest ledger (its ``latest_ledger`` action)."""
    latest = upstream_action(endpoint, "latest_ledger", timeout_s=timeout_s)["latest_ledger"]
    if not isinstance(latest, int):
        msg = f"source {endpoint} answered latest_ledger={latest!r}"
        raise UpstreamError(msg, endpoint=endpoint)
    return latest


def build_source(settings: Settings, *, port: int | None = None) -> SourceService:
    cfg = settings.source
    return SourceService(
        ledger_source_factory(settings),
        first_ledger=first_available_ledger(settings),
        tables=table_builder(settings),
        workers=cfg.table_workers,
        buffer_size=cfg.buffer_size,
        in_flight=max(2, cfg.concurrent_readers),
        host=cfg.host,
        port=cfg.flight_port if port is None else port,
    )


def build_processor(settings: Settings, *, port: int | None = None) -> ProcessorService:
    cfg = settings.processor
    return ProcessorService(
        cfg.source_endpoint,
        table_builder(settings, processor_tables(settings), verify_events=cfg.verify_events),
        apply_filter=filter_transfers,
        base_filter=TransferFilter(event_types=cfg.event_types, assets=cfg.include_assets),
        workers=cfg.workers,
        in_flight=max(2, cfg.workers + 1),
        cache_ledgers=cfg.cache_ledgers,
        max_batch_rows=settings.flight.max_batch_rows,
        reconnect_timeout_s=settings.flight.reconnect_timeout_s,
        default_start=settings.source.start_ledger,
        host=cfg.host,
        port=cfg.flight_port if port is None else port,
    )


def build_sink(settings: Settings, *, port: int | None = None, output_dir: Path | None = None) -> SinkService:
    cfg = settings.sink
    # Every table from the processor, which decodes each ledger once for all of them; the source is
    # asked only for its tip.
    schemas = {table: table_schema(table) for table in cfg.tables}
    upstreams = [TableUpstream(table, cfg.processor_endpoint) for table in cfg.tables]
    options = SinkOptions(
        formats=cfg.output_formats,
        partition_by=cfg.partition_by,
        parquet=ParquetOptions(compression=cfg.parquet_compression),
        batch_rows=cfg.batch_rows,
        flush_interval_s=cfg.flush_interval_s,
    )
    sink = DatasetSink(output_dir or Path(cfg.output_dir), schemas, options)
    return SinkService(
        sink,
        tuple(upstreams),
        start_ledger=first_available_ledger(settings),
        end_ledger=settings.source.end_ledger,
        live=settings.source.live,
        reconnect_timeout_s=settings.flight.reconnect_timeout_s,
        resolve_end=functools.partial(_source_tip, cfg.source_endpoint, settings.flight.call_timeout_s),
        host=cfg.host,
        port=cfg.flight_port if port is None else port,
    )
