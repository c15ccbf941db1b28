"""The one settings model of stellar-arrow: a YAML file plus ``STELLAR_ARROW_<SECTION>__<KEY>`` variables.

Every command (``run``, ``serve``, ``export``, ``verify``, ``api``, ``rpc-replay``) builds one
:class:`Settings` with :func:`load_settings` from ``--config FILE``; its command-line flags are
overrides of the keys they name. Precedence, highest first: flags, environment, YAML file, defaults.

Sections: ``source`` (where ledgers come from and which range: every command that reads ledgers),
``processor``, ``sink`` and ``flight`` (the pipeline services), ``api`` (the REST/WebSocket/dashboard
server of the sink and of ``stellar-arrow api``), ``export``, ``verify`` and ``replay``
(``stellar-arrow rpc-replay``), ``security`` (authentication, TLS and browser hardening of every
entry point; off by default, see :class:`SecuritySettings`), ``filters`` (the named filters' threshold,
applied to the process by :func:`load_settings`). Key names follow the original design
where they make sense
(``source_type``, ``rpc_endpoint``, ``network_passphrase``, ``start_ledger``, ``end_ledger``,
``batch_size``, ``buffer_size``, ``concurrent_readers``, ``flight_port``, ``event_types``,
``include_assets``, ``parquet_compression``, ``partition_by``).

Every invalid or unknown setting is rejected by :func:`load_settings` with a
:class:`~stellar_arrow.errors.ConfigError` whose ``key`` is the dotted path (``source.start_ledger``).
"""

from __future__ import annotations

import os
import re
import sys
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from stellar_arrow.errors import ConfigError, RequestError
from stellar_arrow.ledger.network import NETWORK_PASSPHRASES
from stellar_arrow.vocabulary import EVENT_TYPES, OUTPUT_FORMATS, SOURCE_TABLES, TABLES, OutputFormat

__all__ = [
    "DEFAULT_LAKE",
    "NETWORK_PASSPHRASES",
    "ApiSettings",
    "ExportSettings",
    "FilterSettings",
    "FlightSettings",
    "LifecycleSettings",
    "ObservabilitySettings",
    "PipelineSettings",
    "ProcessorSettings",
    "ReplaySettings",
    "RetentionSettings",
    "SecuritySettings",
    "Settings",
    "SinkSettings",
    "SourceSettings",
    "VerifySettings",
    "load_settings",
    "max_workers",
]

#: The bundled sample lake (pubnet 63092982-63093001), relative to the working directory.
DEFAULT_LAKE = "data/lakes/pubnet-p26"


_SECTION = ConfigDict(extra="forbid", frozen=True)


def _port(value: int) -> int:
    if not 0 <= value <= 65535:
        msg = f"port {value} is outside 0..65535 (0 picks a free port)"
        raise ValueError(msg)
    return value


def _grpc_uri(value: str) -> str:
    if not value.startswith(("grpc://", "grpc+tcp://", "grpc+unix://", "grpc+tls://")):
        msg = f"endpoint {value!r} must be a Flight URI such as grpc://127.0.0.1:8815"
        raise ValueError(msg)
    return value


def max_workers() -> int:
    """The most worker processes any setting may ask for: 4 per CPU of this machine."""
    return 4 * (os.cpu_count() or 1)


def _workers(value: int) -> int:
    limit = max_workers()
    if not 0 <= value <= limit:
        msg = (
            f"{value} worker processes: choose 0..{limit} (at most 4 per CPU; this machine has {limit // 4})"
        )
        raise ValueError(msg)
    return value


def _ledger(value: int | None) -> int | None:
    if value is not None and not 2 <= value <= 2**32 - 1:
        msg = f"ledger {value} is outside 2..4294967295"
        raise ValueError(msg)
    return value


Port = Annotated[int, AfterValidator(_port)]
"""A TCP port; 0 picks a free one."""
GrpcUri = Annotated[str, AfterValidator(_grpc_uri)]
"""A Flight endpoint such as ``grpc://127.0.0.1:8815``."""
Workers = Annotated[int, AfterValidator(_workers)]
"""A number of worker processes: 0 (in the calling process) up to :func:`max_workers`."""
LedgerSequence = Annotated[int | None, AfterValidator(_ledger)]
"""A ledger sequence (uint32, the first ledger of a network is 2), or None (unset)."""
Decoder = Literal["compiled", "python", "sdk", "fast"]
"""``compiled``: the compiled generated decoder (the default; ``python`` with one warning when it is not
built); ``python`` (or ``fast``, its former name): the pure-Python generated decoder; ``sdk``:
stellar-sdk (slow, the oracle). See ``stellar_arrow.xdr.choice``."""


class SourceSettings(BaseModel):
    """Where ledgers come from and which range to read.

    ``source_type``: ``datalake`` (``datalake_uri``: a folder, ``s3://``, ``gs://``, ``https://``),
    ``rpc`` (``rpc_endpoint``) or ``file`` (``file_path``: one ledger file in any corpus format).
    ``network_passphrase``: a passphrase or ``pubnet``/``testnet``/``futurenet``/``standalone``; unset,
    the network is the one the source declares (lake manifest, RPC ``getNetwork``), else it is
    detected from the ledgers. ``storage_options`` go to fsspec (``endpoint_url``, ``anon``...);
    ``ledgers_per_batch``/``batches_per_partition`` describe a lake without a ``.config.json``.
    """

    model_config = _SECTION

    source_type: Literal["datalake", "rpc", "file"] = "datalake"
    datalake_uri: str = DEFAULT_LAKE
    rpc_endpoint: str | None = None
    file_path: str | None = None
    network_passphrase: str | None = None
    start_ledger: LedgerSequence = None
    end_ledger: LedgerSequence = None
    live: bool = False
    batch_size: int = Field(default=20, ge=1, le=200)  # ledgers per RPC getLedgers page
    buffer_size: int = Field(default=16, ge=1, le=10_000)
    concurrent_readers: int = Field(default=2, ge=1, le=64)
    table_workers: Workers = 1
    poll_interval_s: float = Field(default=0.05, gt=0, le=60)
    storage_options: dict[str, JsonValue] = Field(default_factory=dict)
    ledgers_per_batch: int | None = Field(default=None, ge=1, le=1_000_000)
    batches_per_partition: int | None = Field(default=None, ge=1, le=1_000_000)
    host: str = "127.0.0.1"
    flight_port: Port = 8815
    decoder: Decoder = "compiled"  # how the services of `run`/`serve` decode ledgers
    health_port: Port = 8088
    # resilience of every upstream call (stellar_arrow.resilience); defaults fail a dead endpoint in < 1 min
    rpc_endpoints: tuple[str, ...] = ()  # more RPC endpoints after rpc_endpoint, tried in order (failover)
    rpc_requests_per_second: float | None = Field(default=None, gt=0, le=10_000)
    connect_timeout_s: float = Field(default=5.0, gt=0, le=3600)
    read_timeout_s: float = Field(default=10.0, gt=0, le=3600)
    call_timeout_s: float = Field(default=30.0, gt=0, le=3600)
    retry_attempts: int = Field(default=5, ge=1, le=100)
    retry_budget_s: float = Field(default=20.0, gt=0, le=3600)
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    breaker_reset_s: float = Field(default=30.0, gt=0, le=3600)
    # bulkhead: lake/RPC object fetches at once in one process (all streams share it); a fetch waits up to
    # call_timeout_s for a slot, then fails as busy (transient)
    max_downloads: int = Field(default=8, ge=1, le=1024)

    @field_validator("network_passphrase")
    @classmethod
    def _passphrase(cls, value: str | None) -> str | None:
        if value is None:
            return None
        value = NETWORK_PASSPHRASES.get(value.strip().lower(), value)
        if value not in set(NETWORK_PASSPHRASES.values()):
            known = ", ".join(sorted(NETWORK_PASSPHRASES))
            msg = f"unknown network passphrase {value!r}: use a full passphrase or one of {known}"
            raise ValueError(msg)
        return value

    @field_validator("rpc_endpoint")
    @classmethod
    def _rpc_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            msg = f"rpc_endpoint {value!r} must be an http:// or https:// URL"
            raise ValueError(msg)
        return value

    @field_validator("rpc_endpoints")
    @classmethod
    def _rpc_urls(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for url in value:
            cls._rpc_url(url)
        return value

    @property
    def rpc_urls(self) -> tuple[str, ...]:
        """``rpc_endpoint`` then ``rpc_endpoints``, without repeats (the failover order)."""
        first = (self.rpc_endpoint,) if self.rpc_endpoint else ()
        return tuple(dict.fromkeys((*first, *self.rpc_endpoints)))

    @field_validator("datalake_uri")
    @classmethod
    def _lake(cls, value: str) -> str:
        if not value.strip():
            msg = "datalake_uri is empty: give a folder or an s3:// gs:// https:// URI"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SourceSettings:
        if self.source_type == "rpc" and not self.rpc_urls:
            msg = "rpc_endpoint is required when source_type is 'rpc' (more in rpc_endpoints)"
            raise ValueError(msg)
        if self.source_type == "file" and not self.file_path:
            msg = "file_path is required when source_type is 'file'"
            raise ValueError(msg)
        if (
            self.start_ledger is not None
            and self.end_ledger is not None
            and self.end_ledger < self.start_ledger
        ):
            msg = f"end_ledger {self.end_ledger} is before start_ledger {self.start_ledger}"
            raise ValueError(msg)
        if self.live and self.end_ledger is not None:
            msg = "live: true follows the tip forever and cannot be combined with end_ledger"
            raise ValueError(msg)
        return self


class ProcessorSettings(BaseModel):
    """The token transfer processor: its upstream, filters and workers."""

    model_config = _SECTION

    source_endpoint: GrpcUri = "grpc://127.0.0.1:8815"
    event_types: tuple[str, ...] = ()
    include_assets: tuple[str, ...] = ()
    workers: Workers = 0
    cache_ledgers: int = Field(default=256, ge=0, le=100_000)
    verify_events: bool = False  # reconcile every ledger's events with its balance changes
    host: str = "127.0.0.1"
    flight_port: Port = 8816
    health_port: Port = 8089

    @field_validator("event_types")
    @classmethod
    def _event_types(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if v not in EVENT_TYPES]
        if bad:
            msg = f"unknown event type(s) {bad}: use {', '.join(EVENT_TYPES)}"
            raise ValueError(msg)
        return value

    @field_validator("include_assets")
    @classmethod
    def _include_assets(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        """The asset parser of the filter model (native, CODE:ISSUER with a valid issuer, or C...)."""
        from stellar_arrow.query.values import parse_asset  # imported only when an asset filter is set

        try:
            return tuple(parse_asset(asset, "processor.include_assets") for asset in value)
        except RequestError as exc:
            raise ValueError(str(exc)) from None


class SinkSettings(BaseModel):
    """The sink: its upstreams, output directory and Parquet options."""

    model_config = _SECTION

    processor_endpoint: GrpcUri = "grpc://127.0.0.1:8816"
    source_endpoint: GrpcUri = "grpc://127.0.0.1:8815"
    output_dir: str = "data/run"
    tables: tuple[str, ...] = TABLES
    output_formats: tuple[str, ...] = ("parquet",)
    parquet_compression: Literal["zstd", "snappy", "gzip", "lz4", "brotli", "none"] = "zstd"
    partition_by: tuple[Literal["date", "hour", "asset_code", "event_type"], ...] = ("date",)
    batch_rows: int = Field(default=50_000, ge=1, le=10_000_000)
    flush_interval_s: float = Field(default=2.0, gt=0, le=3600)
    # the most ledgers one Flight do_get may ask the sink for (a longer range is refused: ask in pieces)
    max_ledgers_per_request: int = Field(default=100_000, ge=1, le=2**32 - 1)
    host: str = "127.0.0.1"
    flight_port: Port = 8817
    health_port: Port = 8090

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if v not in TABLES]
        if bad or not value:
            msg = f"unknown or empty table list {list(value)}: choose from {', '.join(TABLES)}"
            raise ValueError(msg)
        return value

    @field_validator("output_formats")
    @classmethod
    def _formats(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        bad = [v for v in value if v not in OUTPUT_FORMATS]
        if bad or not value:
            msg = (
                f"unknown or empty output format list {list(value)}: choose from {', '.join(OUTPUT_FORMATS)}"
            )
            raise ValueError(msg)
        return value


class RetentionSettings(BaseModel):
    """One data kind's retention: archive after N days, delete after M days (None: never)."""

    model_config = _SECTION

    archive_after_days: float | None = Field(default=None, ge=0, le=36_500)
    delete_after_days: float | None = Field(default=None, ge=0, le=36_500)

    @model_validator(mode="after")
    def _order(self) -> RetentionSettings:
        a, d = self.archive_after_days, self.delete_after_days
        if a is not None and d is not None and d < a:
            msg = f"delete_after_days ({d}) must not be less than archive_after_days ({a})"
            raise ValueError(msg)
        return self


def _cron(value: str) -> str:
    from croniter import croniter

    if not croniter.is_valid(value):
        msg = f"{value!r} is not a cron expression (minute hour day month weekday, e.g. '17 3 * * *')"
        raise ValueError(msg)
    return value


class LifecycleSettings(BaseModel):
    """Compaction, retention, archival and storage limits of a sink output (``stellar_arrow.lifecycle``)."""

    model_config = _SECTION

    enabled: bool = False  # run on `schedule` inside the sink
    schedule: Annotated[str, AfterValidator(_cron)] = "17 3 * * *"  # cron, UTC
    archive_location: str | None = None  # local folder or fsspec URL (s3://bucket/prefix); None: no archive
    storage_options: dict[str, JsonValue] = Field(default_factory=dict)
    compaction: bool = True
    target_file_bytes: int = Field(default=128 * 2**20, ge=1024, le=2**40)
    min_files: int = Field(default=2, ge=2, le=100_000)
    grace_s: float = Field(default=3600.0, ge=0, le=30 * 86400)  # removed files deleted after this
    parquet: RetentionSettings = RetentionSettings(archive_after_days=90, delete_after_days=180)
    jsonl: RetentionSettings = RetentionSettings(archive_after_days=7, delete_after_days=14)
    csv: RetentionSettings = RetentionSettings(archive_after_days=7, delete_after_days=14)
    logs: RetentionSettings = RetentionSettings(delete_after_days=30)
    delta: RetentionSettings = RetentionSettings(delete_after_days=180)
    max_total_bytes: int | None = Field(default=None, ge=1)  # live + archive
    min_free_bytes: int | None = Field(default=None, ge=0)  # on the output directory's file system


class FlightSettings(BaseModel):
    """Transport options shared by every Flight client and server."""

    model_config = _SECTION

    call_timeout_s: float = Field(default=30.0, gt=0, le=3600)  # unary calls (actions); streams have none
    reconnect_timeout_s: float = Field(default=60.0, ge=0, le=3600)
    max_batch_rows: int = Field(default=65_536, ge=1, le=1_048_576)
    # bulkheads of every Flight service: concurrent do_get streams (more wait up to stream_wait_s, then are
    # refused with FlightUnavailableError "busy"), and ledgers decoded at once inside the service process
    # (workers: 0; with worker processes their number is the bound)
    max_streams: int = Field(default=32, ge=1, le=10_000)
    stream_wait_s: float = Field(default=0.5, ge=0, le=60)
    max_decoders: int = Field(default=2, ge=1, le=256)
    # the sink's do_get reads committed files in record batches of at most this many rows
    read_batch_rows: int = Field(default=8192, ge=1, le=1_048_576)
    # the breaker of each Flight upstream (processor -> source, sink -> processor): it opens after this
    # many consecutive failed connections and lets a trial through after breaker_reset_s
    breaker_failures: int = Field(default=5, ge=1, le=1000)
    breaker_reset_s: float = Field(default=1.0, gt=0, le=3600)


class ApiSettings(BaseModel):
    """The HTTP server: REST ``/api/v1``, WebSocket ``/ws``, dashboard ``/`` and ``/health``, on one port.

    ``port_fallback``: when ``api_port`` is taken, listen on a free port instead of failing (the sink
    reports the real one; ``stellar-arrow run`` without ``--config`` turns it on).
    WebSocket limits (per server process): ``ws_max_connections`` in all and ``ws_max_connections_per_ip``;
    ``ws_queue_messages`` frames queued per slow subscriber before it is dropped; ``ws_replay_page_rows``
    rows per page of a cursor replay; ``ws_message_rate``/``ws_message_burst`` a token bucket on
    client messages (exceeding it closes with 1008); with no client message for ``ws_idle_timeout_s`` the
    server pings and closes with 1001 if nothing arrives within ``ws_ping_timeout_s``.
    ``status_interval_s``: how often the dashboard's status frame is pushed.
    """

    model_config = _SECTION

    host: str = "127.0.0.1"
    api_port: Port = 8081
    port_fallback: bool = False
    ws_max_connections: int = Field(default=1000, ge=1, le=100_000)
    ws_max_connections_per_ip: int = Field(default=100, ge=1, le=100_000)
    ws_queue_messages: int = Field(default=256, ge=1, le=100_000)
    ws_replay_page_rows: int = Field(default=5000, ge=1, le=1_000_000)
    ws_message_rate: float = Field(default=10.0, gt=0, le=10_000)
    ws_message_burst: int = Field(default=20, ge=1, le=100_000)
    ws_idle_timeout_s: float = Field(default=60.0, gt=0, le=86_400)
    ws_ping_timeout_s: float = Field(default=20.0, gt=0, le=3600)
    status_interval_s: float = Field(default=1.0, gt=0, le=3600)
    # bulkheads of the HTTP server: REST queries running at once (more wait up to query_wait_s, then 429
    # with Retry-After), WebSocket history replays at once (more wait up to ws_replay_wait_s, then an
    # error frame "busy"); a replay whose client reads nothing for ws_replay_stall_s is closed with 1013
    max_queries: int = Field(default=8, ge=1, le=10_000)
    query_wait_s: float = Field(default=1.0, ge=0, le=60)
    ws_max_replays: int = Field(default=8, ge=1, le=10_000)
    ws_replay_wait_s: float = Field(default=5.0, ge=0, le=600)
    ws_replay_stall_s: float = Field(default=30.0, gt=0, le=3600)
    # analytics and queries (docs/sink-and-api.md): decoded committed rows kept for reuse (LRU by bytes),
    # repeated analytics/query results kept until the next commit, and the limits of POST /api/v1/query
    file_cache_bytes: int = Field(default=128 * 1024 * 1024, ge=0, le=64 * 1024**3)
    result_cache_bytes: int = Field(default=32 * 1024 * 1024, ge=0, le=4 * 1024**3)
    sql_timeout_s: float = Field(default=10.0, gt=0, le=600)
    sql_max_rows: int = Field(default=10_000, ge=1, le=1_000_000)


#: The most worker processes ``export.cluster: local:N`` starts.
MAX_LOCAL_WORKERS = 256


class FilterSettings(BaseModel):
    """The named filters of every surface (:mod:`stellar_arrow.query.named`).

    ``large_amount_threshold``: the smallest ``amount_raw`` (raw units, 10^-7 of a token unit) that
    ``large_amounts`` keeps; default 10,000,000 = 1 XLM.
    """

    model_config = _SECTION

    large_amount_threshold: int = Field(default=10_000_000, ge=0, le=(1 << 127) - 1)


class ExportSettings(BaseModel):
    """``stellar-arrow export``: chunked table files ``output_dir/<table>/<table>-<first>-<last>.<ext>``.

    The ledger range is ``source.start_ledger``..``source.end_ledger`` (unset end: the source's newest).
    ``workers``: decoding processes (0: in the exporting process). ``overwrite``: rewrite chunks that
    are already complete instead of skipping them. ``where`` (a filter expression), ``operation_types``
    and ``named_filters`` keep only the matching ``token_transfers`` rows (the other tables are whole).
    """

    model_config = _SECTION

    output_dir: str | None = (
        None  # a folder, or an object store URL: s3://bucket/prefix, gs://..., any fsspec URL
    )
    # fsspec options of an object store output (endpoint_url, region...); credentials: the environment
    output_storage_options: dict[str, JsonValue] = Field(default_factory=dict)
    tables: tuple[str, ...] = SOURCE_TABLES
    format: OutputFormat = "parquet"
    chunk_size: int = Field(default=100, ge=1, le=1_000_000)
    workers: Workers = 0
    include_xdr: bool = False
    decoder: Decoder = "compiled"
    verify_hashes: bool = True
    verify_events: bool = False
    overwrite: bool = False
    cluster: str | None = None  # local:N -- a local Dask cluster of N worker processes
    scheduler: str | None = None  # tcp://HOST:PORT -- an existing Dask cluster
    where: str | None = None  # checked against the token_transfers schema when the export starts
    operation_types: tuple[str, ...] = ()
    named_filters: tuple[str, ...] = ()

    @field_validator("operation_types", "named_filters")
    @classmethod
    def _filter_names(cls, value: tuple[str, ...], info: Any) -> tuple[str, ...]:
        from stellar_arrow.query import parse_named_filter, parse_operation_type

        parse = parse_operation_type if info.field_name == "operation_types" else parse_named_filter
        try:
            return tuple(parse(v.strip(), f"export.{info.field_name}") for v in value if v.strip())
        except RequestError as exc:
            raise ValueError(str(exc)) from None

    @field_validator("cluster")
    @classmethod
    def _cluster(cls, value: str | None) -> str | None:
        if value is None:
            return None
        match = re.fullmatch(r"local:(\d{1,4})", value.strip())
        if match is None or not 1 <= int(match[1]) <= MAX_LOCAL_WORKERS:
            msg = f"cluster {value!r}: use local:N with N in 1..{MAX_LOCAL_WORKERS} (worker processes here)"
            raise ValueError(msg)
        return value.strip()

    @field_validator("scheduler")
    @classmethod
    def _scheduler(cls, value: str | None) -> str | None:
        if value is None:
            return None
        if re.fullmatch(r"(tcp|tls)://[A-Za-z0-9.\-\[\]:]+:\d{1,5}", value.strip()) is None:
            msg = f"scheduler {value!r}: use the Dask scheduler's address, e.g. tcp://10.0.0.5:8786"
            raise ValueError(msg)
        return value.strip()

    @model_validator(mode="after")
    def _one_cluster(self) -> ExportSettings:
        if self.cluster is not None and self.scheduler is not None:
            msg = "cluster and scheduler exclude each other: a local cluster or an existing one"
            raise ValueError(msg)
        return self

    @field_validator("tables")
    @classmethod
    def _tables(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        value = tuple(dict.fromkeys(v.strip() for v in value if v.strip()))
        bad = [v for v in value if v not in TABLES]
        if bad or not value:
            msg = f"unknown or empty table list {list(value)}: choose from {', '.join(TABLES)}"
            raise ValueError(msg)
        return value

    @field_validator("output_dir")
    @classmethod
    def _output_dir(cls, value: str | None) -> str | None:
        if value is not None and not value.strip():
            msg = "output_dir is empty"
            raise ValueError(msg)
        return value


class VerifySettings(BaseModel):
    """``stellar-arrow verify``: ``mode`` derived | unified | both; ``strict`` adds per-operation checks."""

    model_config = _SECTION

    mode: Literal["derived", "unified", "both"] = "derived"
    strict: bool = False
    decoder: Decoder = "compiled"


class ReplaySettings(BaseModel):
    """``stellar-arrow rpc-replay``: a Stellar RPC answering from the local lake ``source.datalake_uri``.

    ``start_at``: release ledgers gradually from this one (the tip then grows every
    ``ledger_interval_s`` seconds); unset, the whole lake is served at once.
    """

    model_config = _SECTION

    host: str = "127.0.0.1"
    port: Port = 8000
    start_at: LedgerSequence = None
    ledger_interval_s: float = Field(default=5.0, gt=0, le=3600)


class SecuritySettings(BaseModel):
    """Authentication (API keys, JWT), roles, TLS/mTLS and browser hardening of every entry point.

    Off in the embedded default (loopback only). With ``auth_enabled`` every Flight call, REST route
    (except ``/health*`` and ``/ready``), WebSocket handshake and ``/metrics`` (unless
    ``metrics_public``) needs a credential. A service asked to bind a non-loopback address with
    ``auth_enabled: false`` refuses to start unless ``allow_insecure: true``. Secrets are ``SecretStr``:
    they print as ``**********``; prefer the environment (``STELLAR_ARROW_SECURITY__JWT_SECRET``).
    ``service_api_key`` is the key (role ``processor``) a service presents to its upstreams; with
    ``client_ca_file`` set the services also present ``cert_file``/``key_file`` as client certificates
    (mutual TLS; a verified client certificate gets ``mtls_roles``). ``ca_file`` is the CA clients trust
    for the services' certificates (default: ``client_ca_file``).
    """

    model_config = _SECTION

    auth_enabled: bool = False
    api_keys_file: str = "data/keys.db"
    jwt_secret: SecretStr | None = None
    jwt_public_key_file: str | None = None
    jwt_issuer: str | None = None
    jwt_audience: str | None = None
    jwt_algorithms: tuple[str, ...] = ()
    service_api_key: SecretStr | None = None
    tls_enabled: bool = False
    cert_file: str | None = None
    key_file: str | None = None
    client_ca_file: str | None = None
    ca_file: str | None = None
    mtls_roles: tuple[Literal["admin", "reader", "processor"], ...] = ("processor",)
    cors_origins: tuple[str, ...] = ()
    allowed_hosts: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
    allow_insecure: bool = False
    metrics_public: bool = False
    session_ttl_s: float = Field(default=3600.0, gt=0, le=7 * 86400)
    rate_limit_enabled: bool = False
    rate_limit_per_key_rps: float = Field(default=20.0, gt=0, le=100_000)
    rate_limit_per_key_burst: int = Field(default=40, ge=1, le=1_000_000)
    rate_limit_per_ip_rps: float = Field(default=50.0, gt=0, le=100_000)
    rate_limit_per_ip_burst: int = Field(default=100, ge=1, le=1_000_000)
    max_body_bytes: int = Field(default=65_536, ge=1024, le=64 * 1024 * 1024)
    ws_max_message_bytes: int = Field(default=4096, ge=256, le=1024 * 1024)

    @field_validator("cors_origins")
    @classmethod
    def _origins(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for origin in value:
            if origin == "*" or not origin.startswith(("http://", "https://")) or origin.endswith("/"):
                msg = f"cors origin {origin!r} must be scheme://host[:port] (no '*', no trailing slash)"
                raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _consistent(self) -> SecuritySettings:
        if self.tls_enabled and not (self.cert_file and self.key_file):
            msg = "tls_enabled needs cert_file and key_file"
            raise ValueError(msg)
        if self.client_ca_file and not self.tls_enabled:
            msg = "client_ca_file (mutual TLS) needs tls_enabled: true"
            raise ValueError(msg)
        if self.jwt_secret is not None and self.jwt_public_key_file:
            msg = "set jwt_secret (HS*) or jwt_public_key_file (RS*/ES*), not both"
            raise ValueError(msg)
        if (self.jwt_secret is not None or self.jwt_public_key_file) and not (
            self.jwt_issuer and self.jwt_audience
        ):
            msg = "JWT verification needs jwt_issuer and jwt_audience"
            raise ValueError(msg)
        return self


class PipelineSettings(BaseModel):
    """How ``stellar-arrow run`` supervises its three service processes.

    A service that exits on its own is restarted after ``restart_backoff_initial_s``, doubling per
    consecutive crash up to ``restart_backoff_max_s``; after ``restart_max`` consecutive crashes (a
    service that stays up ``restart_reset_s`` seconds starts counting afresh) the run stops with one
    line naming the service and its last error.

    ``processes``: ``one`` (the default) runs the three services in the ``run`` process itself (the
    same Flight services over loopback; nothing restarts them; a third of the CPU of separate
    processes over the sample lake, ``docs/performance.md``); ``separate`` runs each one as its own
    process, supervised and restarted as above.
    """

    model_config = _SECTION

    processes: Literal["one", "separate"] = "one"
    restart_max: int = Field(default=5, ge=0, le=1000)
    restart_backoff_initial_s: float = Field(default=0.5, ge=0, le=600)
    restart_backoff_max_s: float = Field(default=30.0, ge=0, le=3600)
    restart_reset_s: float = Field(default=60.0, gt=0, le=86_400)


class ObservabilitySettings(BaseModel):
    """Logs of every service, and when a service's ``/health/ready`` says it is ready."""

    model_config = _SECTION

    log_format: Literal["auto", "json", "console"] = "auto"  # auto: JSON unless stderr is a terminal
    log_level: Literal["debug", "info", "warning", "error"] = "info"
    ready_max_lag_ledgers: int = Field(default=100, ge=0, le=10_000_000)


class Settings(BaseSettings):
    """The whole pipeline's settings."""

    model_config = SettingsConfigDict(
        env_prefix="STELLAR_ARROW_",
        env_nested_delimiter="__",
        extra="forbid",
        frozen=True,
        nested_model_default_partial_update=True,
    )

    source: SourceSettings = SourceSettings()
    processor: ProcessorSettings = ProcessorSettings()
    sink: SinkSettings = SinkSettings()
    flight: FlightSettings = FlightSettings()
    api: ApiSettings = ApiSettings()
    observability: ObservabilitySettings = ObservabilitySettings()
    export: ExportSettings = ExportSettings()
    filters: FilterSettings = FilterSettings()
    verify: VerifySettings = VerifySettings()
    replay: ReplaySettings = ReplaySettings()
    security: SecuritySettings = SecuritySettings()
    pipeline: PipelineSettings = PipelineSettings()
    lifecycle: LifecycleSettings = LifecycleSettings()

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, YamlConfigSettingsSource(settings_cls))


def load_settings(path: Path | str | None = None, **overrides: Any) -> Settings:
    """Build the settings from ``path`` (YAML), the environment and ``overrides`` (section dicts).

    ``overrides`` (``source={"start_ledger": 5}``) win over the environment, which wins over the file;
    a key whose override value is None is left alone (an absent command-line flag).
    Raises :class:`ConfigError` naming the first offending key (``source.start_ledger``).
    """
    overrides = {
        section: {k: v for k, v in keys.items() if v is not None} if isinstance(keys, dict) else keys
        for section, keys in overrides.items()
    }
    yaml_path = Path(path) if path is not None else None
    if yaml_path is not None:
        _check_yaml(yaml_path)
    model: type[Settings] = Settings
    if yaml_path is not None:
        config = SettingsConfigDict(**{**Settings.model_config, "yaml_file": yaml_path})
        model = type("Settings", (Settings,), {"model_config": config, "__module__": __name__})
    try:
        settings = model(**overrides)
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "settings"
        where = f" in {yaml_path}" if yaml_path is not None else ""
        msg = f"invalid setting {key}{where}: {err['msg']}"
        raise ConfigError(msg, key=key) from None
    _configure_named_filters(settings.filters)
    return settings


def _configure_named_filters(filters: FilterSettings) -> None:
    """This process's named filters follow the settings it loaded (imported only when it matters)."""
    threshold = filters.large_amount_threshold
    if threshold != FilterSettings().large_amount_threshold or "stellar_arrow.query.named" in sys.modules:
        from stellar_arrow.query.named import configure_named_filters

        configure_named_filters(threshold)


def _check_yaml(path: Path) -> None:
    import yaml

    if not path.is_file():
        msg = f"config file {path} does not exist"
        raise ConfigError(msg, key="config")
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        msg = f"config file {path} is not valid YAML: {exc}"
        raise ConfigError(msg, key="config") from None
    if doc is not None and not isinstance(doc, dict):
        msg = f"config file {path} must hold a mapping of sections, not {type(doc).__name__}"
        raise ConfigError(msg, key="config")
