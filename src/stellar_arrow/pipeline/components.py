"""Building the real services from :class:`~stellar_arrow.config.Settings` (the dependency wiring).

The Flight services take plain callables and objects; this module is the one place that knows which
concrete ledger source, event derivation, table builders and sink they get.
"""

from __future__ import annotations

import functools
import multiprocessing
import os
import threading
import time
from collections.abc import Callable
from concurrent.futures import Executor, ProcessPoolExecutor
from pathlib import Path

import pyarrow as pa

from stellar_arrow.config import Settings
from stellar_arrow.errors import UpstreamError
from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.sink_service import SinkService, TableUpstream
from stellar_arrow.flight.source_service import SourceService, TableBuilder
from stellar_arrow.flight.tickets import TransferFilter
from stellar_arrow.flight.transfer_filter import filter_transfers
from stellar_arrow.flight.upstream import upstream_action
from stellar_arrow.security.flight import FlightClientSecurity, FlightSecurity
from stellar_arrow.security.policy import check_bind
from stellar_arrow.sink import DatasetSink
from stellar_arrow.source.base import LedgerSource
from stellar_arrow.source.open import first_available_ledger as first_ledger_of
from stellar_arrow.source.open import settle_source_network, source_factory
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA

__all__ = [
    "build_ledger_tables",
    "build_processor",
    "build_sink",
    "build_source",
    "derive_token_transfers",
    "first_available_ledger",
    "flight_security",
    "ledger_source_factory",
    "table_builder",
]


def derive_token_transfers(lcm: bytes, network_passphrase: str) -> pa.RecordBatch:
    """The ``token_transfers`` rows of one ledger's raw XDR (runs in worker processes)."""
    from stellar_arrow.ledger.network import resolve_network
    from stellar_arrow.ttp.processor import token_transfers_batch
    from stellar_arrow.xdr import decode_ledger_close_meta

    return token_transfers_batch(decode_ledger_close_meta(lcm), resolve_network(network_passphrase))


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


SOURCE_TABLES = ("ledgers", "transactions", "operations")


def build_ledger_tables(lcm: bytes, network_passphrase: str) -> dict[str, pa.RecordBatch]:
    """``ledgers``, ``transactions`` and ``operations`` rows of one ledger (runs in worker processes)."""
    from stellar_arrow.ledger.network import resolve_network
    from stellar_arrow.tables import TableSet, TableSetOptions

    tables = TableSet(TableSetOptions(tables=SOURCE_TABLES, network=resolve_network(network_passphrase)))
    tables.add(lcm)
    return tables.finish()


def table_builder(settings: Settings) -> TableBuilder:
    """The source service's table builders (schemas declared once, in ``stellar_arrow.tables``)."""
    from stellar_arrow.tables import table_schema

    return TableBuilder(
        schemas={name: table_schema(name) for name in SOURCE_TABLES},
        build=functools.partial(build_ledger_tables, network_passphrase=_passphrase(settings)),
    )


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


def _exit_with_parent(parent: int) -> None:
    """Worker initializer: exit when the service process is gone (e.g. SIGKILLed), leaving no orphan."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(0)

    threading.Thread(target=watch, name="parent-watch", daemon=True).start()


def _executor(workers: int) -> Executor | None:
    """A spawn-context process pool (fork is unsafe in a process running gRPC threads)."""
    if workers <= 0:
        return None
    return ProcessPoolExecutor(
        max_workers=workers,
        mp_context=multiprocessing.get_context("spawn"),
        initializer=_exit_with_parent,
        initargs=(os.getpid(),),
    )


def build_source(settings: Settings, *, port: int | None = None) -> SourceService:
    cfg = settings.source
    security, _ = flight_security(settings, "source", cfg.host)
    return SourceService(
        ledger_source_factory(settings),
        first_ledger=first_available_ledger(settings),
        tables=table_builder(settings),
        executor=_executor(cfg.table_workers),
        buffer_size=cfg.buffer_size,
        in_flight=max(2, cfg.concurrent_readers),
        host=cfg.host,
        port=cfg.flight_port if port is None else port,
        security=security,
    )


def build_processor(settings: Settings, *, port: int | None = None) -> ProcessorService:
    cfg = settings.processor
    security, client = flight_security(settings, "processor", cfg.host)
    return ProcessorService(
        cfg.source_endpoint,
        functools.partial(derive_token_transfers, network_passphrase=_passphrase(settings)),
        TOKEN_TRANSFERS_SCHEMA,
        apply_filter=filter_transfers,
        base_filter=TransferFilter(event_types=cfg.event_types, assets=cfg.include_assets),
        executor=_executor(cfg.workers),
        in_flight=max(2, cfg.workers + 1),
        cache_ledgers=cfg.cache_ledgers,
        max_batch_rows=settings.flight.max_batch_rows,
        reconnect_timeout_s=settings.flight.reconnect_timeout_s,
        default_start=settings.source.start_ledger,
        host=cfg.host,
        port=cfg.flight_port if port is None else port,
        security=security,
        client=client,
    )


def build_sink(settings: Settings, *, port: int | None = None, output_dir: Path | None = None) -> SinkService:
    cfg = settings.sink
    security, client = flight_security(settings, "sink", cfg.host)
    schemas: dict[str, pa.Schema] = {}
    upstreams: list[TableUpstream] = []
    tables = table_builder(settings)
    for table in cfg.tables:
        if table == "token_transfers":
            schemas[table] = TOKEN_TRANSFERS_SCHEMA
            upstreams.append(TableUpstream(table, cfg.processor_endpoint))
        else:
            schemas[table] = tables.schemas[table]
            upstreams.append(TableUpstream(table, cfg.source_endpoint))
    sink = DatasetSink(output_dir or Path(cfg.output_dir), schemas, cfg)
    return SinkService(
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
    )
