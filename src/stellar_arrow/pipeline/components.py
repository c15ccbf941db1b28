"""Building the real services from :class:`~stellar_arrow.config.Settings` (the dependency wiring).

The Flight services take plain callables and objects; this module is the one place that knows which
concrete ledger source, event derivation, table builders and sink they get.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from stellar_arrow.build import TableSetOptions, build_ledger_tables, table_schema
from stellar_arrow.config import Settings
from stellar_arrow.errors import UpstreamError
from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.service import LedgerFlightServer
from stellar_arrow.flight.sink_service import SinkService, TableUpstream
from stellar_arrow.flight.source_service import SourceService, TableBuilder
from stellar_arrow.flight.upstream import upstream_action
from stellar_arrow.ledger.network import resolve_network
from stellar_arrow.query import TransferFilter, parse_asset, parse_event_type
from stellar_arrow.resilience.breaker import UpstreamBreaker, breaker_for, upstream_name
from stellar_arrow.resilience.bulkhead import Bulkhead, bulkhead_for
from stellar_arrow.security.flight import FlightClientSecurity, FlightSecurity
from stellar_arrow.security.policy import check_bind
from stellar_arrow.sink import DatasetSink, ParquetOptions
from stellar_arrow.source.base import LedgerSource
from stellar_arrow.source.open import first_available_ledger as first_ledger_of
from stellar_arrow.source.open import settle_source_network, source_factory
from stellar_arrow.vocabulary import SOURCE_TABLES, TABLES

if TYPE_CHECKING:
    from stellar_arrow.lifecycle import LifecycleScheduler

S = TypeVar("S", bound=LedgerFlightServer)

__all__ = [
    "build_processor",
    "build_sink",
    "build_source",
    "first_available_ledger",
    "flight_security",
    "flight_upstream_breaker",
    "ledger_source_factory",
    "processor_tables",
    "table_builder",
]


def ledger_source_factory(settings: Settings) -> Callable[[], LedgerSource]:
    """A constructor of fresh ledger sources (one per stream) for the ``source`` section."""
    return source_factory(settings.source)


def first_available_ledger(settings: Settings) -> int:
    """``source.start_ledger``, else the oldest ledger of a local lake, else the RPC's latest ledger."""
    return first_ledger_of(settings.source)


def _passphrase(settings: Settings) -> str:
    """The network passphrase: configured, else declared by the source or detected from its ledgers."""
    passphrase = settle_source_network(settings.source).network_passphrase
    assert passphrase is not None  # settled
    return passphrase


def table_builder(
    settings: Settings, tables: tuple[str, ...] = SOURCE_TABLES, *, verify_events: bool = False
) -> TableBuilder:
    """``tables`` of each ledger from one decode, as the source and processor services build them."""
    options = TableSetOptions(
        tables=tables,
        network=resolve_network(_passphrase(settings)),
        decoder=settings.source.decoder,
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


def flight_security(
    settings: Settings, service: str, host: str
) -> tuple[FlightSecurity | None, FlightClientSecurity | None]:
    """The server and client security of ``service`` (``None``, ``None`` when security is all off).

    Refuses (ConfigError) a non-loopback ``host`` without authentication unless ``allow_insecure``.
    """
    security = settings.security
    check_bind(host, security, what=f"the {service} service", key=f"{service}.host")
    client = FlightClientSecurity.from_settings(security)
    if not (security.auth_enabled or security.tls_enabled):
        return None, client if client.api_key else None
    return FlightSecurity.from_settings(security, service=service), client


def _source_tip(endpoint: str, timeout_s: float, client: FlightClientSecurity | None = None) -> int:
    """The source service's newest ledger (its ``latest_ledger`` action)."""
    latest = upstream_action(endpoint, "latest_ledger", timeout_s=timeout_s, client=client)["latest_ledger"]
    if not isinstance(latest, int):
        msg = f"source {endpoint} answered latest_ledger={latest!r}"
        raise UpstreamError(msg, endpoint=endpoint)
    return latest


def _decoders(settings: Settings) -> Bulkhead:
    """The process's ``decoders`` bulkhead (a decode in the service waits up to a call's time for a slot)."""
    flight = settings.flight
    return bulkhead_for("decoders", flight.max_decoders, max_wait_s=flight.call_timeout_s)


def _bounded(service: S, settings: Settings) -> S:
    service.limit_streams(settings.flight.max_streams, settings.flight.stream_wait_s)
    return service


def build_source(settings: Settings, *, port: int | None = None) -> SourceService:
    cfg = settings.source
    security, _ = flight_security(settings, "source", cfg.host)
    service = SourceService(
        ledger_source_factory(settings),
        first_ledger=first_available_ledger(settings),
        tables=table_builder(settings),
        workers=cfg.table_workers,
        buffer_size=cfg.buffer_size,
        in_flight=max(2, cfg.concurrent_readers),
        host=cfg.host,
        port=cfg.flight_port if port is None else port,
        security=security,
        decoders=_decoders(settings),
    )
    return _bounded(service, settings)


def flight_upstream_breaker(settings: Settings, endpoint: str) -> UpstreamBreaker:
    """The circuit breaker of Flight upstream ``endpoint`` in this process, with the ``flight`` settings."""
    flight = settings.flight
    name = upstream_name("flight", endpoint)
    return breaker_for(name, failures=flight.breaker_failures, reset_s=flight.breaker_reset_s)


def build_processor(settings: Settings, *, port: int | None = None) -> ProcessorService:
    cfg = settings.processor
    flight_upstream_breaker(settings, cfg.source_endpoint)  # its streams use this breaker
    security, client = flight_security(settings, "processor", cfg.host)
    service = ProcessorService(
        cfg.source_endpoint,
        table_builder(settings, processor_tables(settings), verify_events=cfg.verify_events),
        base_filter=TransferFilter(
            event_types=tuple(parse_event_type(t, "processor.event_types") for t in cfg.event_types),
            assets=tuple(parse_asset(a, "processor.include_assets") for a in cfg.include_assets),
        ),
        workers=cfg.workers,
        in_flight=max(2, cfg.workers + 1),
        cache_ledgers=cfg.cache_ledgers,
        max_batch_rows=settings.flight.max_batch_rows,
        reconnect_timeout_s=settings.flight.reconnect_timeout_s,
        default_start=settings.source.start_ledger,
        host=cfg.host,
        port=cfg.flight_port if port is None else port,
        security=security,
        client=client,
        decoders=_decoders(settings),
    )
    return _bounded(service, settings)


def build_sink(settings: Settings, *, port: int | None = None, output_dir: Path | None = None) -> SinkService:
    cfg = settings.sink
    security, client = flight_security(settings, "sink", cfg.host)
    # Every table from the processor, which decodes each ledger once for all of them; the source is
    # asked only for its tip.
    schemas = {table: table_schema(table) for table in cfg.tables}
    upstreams = [TableUpstream(table, cfg.processor_endpoint) for table in cfg.tables]
    flight_upstream_breaker(settings, cfg.processor_endpoint)  # its streams use this breaker
    sink = DatasetSink(output_dir or Path(cfg.output_dir), schemas, cfg)
    if settings.lifecycle.enabled:  # compaction/retention on a cron schedule, committing through the sink
        _schedule_lifecycle(settings, sink)
    service = SinkService(
        sink,
        tuple(upstreams),
        start_ledger=first_available_ledger(settings),
        end_ledger=settings.source.end_ledger,
        live=settings.source.live,
        reconnect_timeout_s=settings.flight.reconnect_timeout_s,
        resolve_end=functools.partial(
            _source_tip, cfg.source_endpoint, settings.flight.call_timeout_s, client
        ),
        host=cfg.host,
        port=cfg.flight_port if port is None else port,
        security=security,
        client=client,
        max_ledgers_per_request=cfg.max_ledgers_per_request,
        read_batch_rows=settings.flight.read_batch_rows,
    )
    return _bounded(service, settings)


def _schedule_lifecycle(settings: Settings, sink: DatasetSink) -> LifecycleScheduler:
    """Start the lifecycle scheduler of a sink (a daemon thread; ``docs/lifecycle.md``)."""
    from stellar_arrow.lifecycle import Lifecycle, LifecycleScheduler, system_clock  # only when enabled

    life = Lifecycle(
        sink.root,
        settings.lifecycle,
        clock=system_clock,
        parquet=ParquetOptions(compression=settings.sink.parquet_compression),
        target=sink,
    )
    scheduler = LifecycleScheduler(
        life, settings.lifecycle.schedule, clock=system_clock, until=lambda: sink.closed
    )
    scheduler.start()
    return scheduler
