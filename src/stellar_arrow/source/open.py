"""The one way to open a ledger source: from the ``source`` settings section.

:func:`open_source` (one source) and :func:`source_factory` (a picklable constructor of fresh sources,
one per stream) are what every command and service calls; :func:`source_spec` turns the ``--source``
value of ``export``/``verify`` into ``source`` settings:

* ``http://`` / ``https://`` -> Stellar RPC (``lake+https://...`` for a lake served over HTTPS);
* ``s3://``, ``gs://``, ``file://`` or a local folder -> SEP-54 data lake;
* a local file -> every ledger it holds (any corpus format, :func:`read_ledger_file`).

:func:`settle_network` decides the network: the configured one must agree with the one the source
declares (lake manifest, RPC ``getNetwork``); without either, it is detected from the ledgers.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable, Iterator
from pathlib import Path

from stellar_arrow.config import NETWORK_PASSPHRASES, SourceSettings
from stellar_arrow.errors import ConfigError, LedgerMissingError
from stellar_arrow.ledger.network import Network, resolve_network
from stellar_arrow.source.base import LedgerSource, RawLedger
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.header import read_ledger_header

__all__ = [
    "FileLedgerSource",
    "check_local_lake",
    "describe_source",
    "first_available_ledger",
    "open_source",
    "settle_network",
    "settle_source_network",
    "source_factory",
    "source_spec",
]


class FileLedgerSource:
    """The ledgers of one local file, served like a source (bounded ranges only)."""

    def __init__(self, path: str | Path, *, network_passphrase: str | None = None) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            msg = f"ledger file {self.path} does not exist"
            raise ConfigError(msg, key="source.file_path")
        self.network_passphrase: str | None = None  # a file declares no network
        self._by_sequence: dict[int, bytes] = {}
        for lcm in read_ledger_file(self.path):
            seq = read_ledger_header(lcm, what=str(self.path)).ledger_sequence
            self._by_sequence[seq] = lcm
        if not self._by_sequence:
            msg = f"ledger file {self.path} holds no ledger"
            raise ConfigError(msg, key="source.file_path")

    def ledgers(self, start: int, end: int | None = None) -> Iterator[RawLedger]:
        last = self.latest_ledger() if end is None else end
        for seq in range(start, last + 1):
            data = self._by_sequence.get(seq)
            if data is None:
                msg = f"{self.path}: holds no ledger {seq}"
                raise LedgerMissingError(msg, ledger_sequence=seq, object_key=str(self.path))
            yield RawLedger(seq, data)

    def latest_ledger(self) -> int:
        return max(self._by_sequence)

    def first_ledger(self) -> int:
        return min(self._by_sequence)

    def stop(self) -> None:
        return None

    def close(self) -> None:
        return None


def source_spec(spec: str) -> dict[str, str]:
    """``source`` settings for a ``--source`` value (RPC URL, lake URI or folder, or a ledger file)."""
    if not spec.strip():
        msg = "--source is empty: give a lake folder or URI, an http(s):// RPC URL or a ledger file"
        raise ConfigError(msg, key="source")
    if spec.startswith(("http://", "https://")):
        return {"source_type": "rpc", "rpc_endpoint": spec}
    if spec.startswith("lake+"):
        return {"source_type": "datalake", "datalake_uri": spec.removeprefix("lake+")}
    if "://" not in spec and Path(spec).is_file():
        return {"source_type": "file", "file_path": spec}
    return {"source_type": "datalake", "datalake_uri": spec}


def check_local_lake(uri: str) -> None:
    """Refuse a local lake path that is not a folder with a plain answer (not "no manifest")."""
    if uri.startswith("file://"):
        uri = uri.removeprefix("file://")
    elif "://" in uri:
        return
    path = Path(uri)
    if not path.exists():
        msg = f"lake folder {path} does not exist (relative paths start at {Path.cwd()})"
        raise ConfigError(msg, key="source.datalake_uri")
    if not path.is_dir():
        msg = f"lake path {path} is not a folder"
        raise ConfigError(msg, key="source.datalake_uri")


def source_factory(settings: SourceSettings) -> Callable[[], LedgerSource]:
    """A picklable constructor of fresh sources for ``settings`` (a service opens one per stream)."""
    from stellar_arrow.resilience.settings import source_resilience

    passphrase = settings.network_passphrase
    if settings.source_type == "rpc":
        from stellar_arrow.source.rpc import RpcLedgerSource

        return functools.partial(
            RpcLedgerSource,
            settings.rpc_urls,  # rpc_endpoint, then rpc_endpoints (failover)
            network_passphrase=passphrase,
            page_size=settings.batch_size,
            poll_interval=settings.poll_interval_s,
            requests_per_second=settings.rpc_requests_per_second,
            max_downloads=settings.max_downloads,
            download_wait_s=settings.call_timeout_s,
            **source_resilience(settings),
        )
    if settings.source_type == "file":
        assert settings.file_path is not None  # the settings model requires it
        return functools.partial(FileLedgerSource, settings.file_path, network_passphrase=passphrase)
    from stellar_arrow.source.lake import DataLakeLedgerSource

    check_local_lake(settings.datalake_uri)
    return functools.partial(
        DataLakeLedgerSource,
        settings.datalake_uri,
        network_passphrase=passphrase,
        ledgers_per_batch=settings.ledgers_per_batch,
        batches_per_partition=settings.batches_per_partition,
        storage_options=dict(settings.storage_options) or None,
        buffer_size=settings.buffer_size,
        workers=settings.concurrent_readers,
        poll_interval=settings.poll_interval_s,
        max_downloads=settings.max_downloads,
        download_wait_s=settings.call_timeout_s,
        **source_resilience(settings),
    )


def open_source(settings: SourceSettings) -> LedgerSource:
    """The ledger source the ``source`` settings name; close it when done."""
    return source_factory(settings)()


def _declared(source: LedgerSource) -> str | None:
    passphrase = getattr(source, "network_passphrase", None)
    return passphrase if isinstance(passphrase, str) else None


def _candidates() -> list[Network]:
    return [resolve_network(p) for p in dict.fromkeys(NETWORK_PASSPHRASES.values())]


def _detect(source: LedgerSource, start: int, end: int, what: str) -> Network:
    """The network of the first ledger with transactions in ``[start, end]``."""
    from stellar_arrow.ledger.view import detect_network, ledger_view  # the decoder: only when detecting
    from stellar_arrow.xdr import decode_ledger_close_meta

    ledgers = source.ledgers(start, end)
    try:
        for ledger in ledgers:
            seq = ledger.ledger_sequence
            view = ledger_view(decode_ledger_close_meta(ledger.ledger_close_meta, ledger_sequence=seq))
            if not view.processing:
                continue
            network = detect_network(view, _candidates())
            if network is None:
                msg = (
                    f"{what}: ledger {seq} is from none of the known networks "
                    f"(pubnet, testnet, futurenet, standalone); set source.network_passphrase (--network)"
                )
                raise ConfigError(msg, key="source.network_passphrase")
            return network
    finally:
        close = getattr(ledgers, "close", None)
        if close is not None:
            close()
    msg = (
        f"{what}: ledgers {start}-{end} hold no transaction to tell the network by; "
        "set source.network_passphrase (--network)"
    )
    raise ConfigError(msg, key="source.network_passphrase")


def settle_network(settings: SourceSettings, source: LedgerSource, start: int, end: int) -> Network:
    """The configured network, else the one ``source`` declares, else the one its ledgers show.

    A configured network that disagrees with the declared one was already refused when the source
    was opened (lake manifest) or is refused on the first read (RPC).
    """
    if settings.network_passphrase is not None:
        return resolve_network(settings.network_passphrase)
    declared = _declared(source)
    if declared is not None:
        return resolve_network(declared)
    return _detect(source, start, end, describe_source(settings))


def settle_source_network(settings: SourceSettings) -> SourceSettings:
    """``settings`` with ``network_passphrase`` set (kept if set): declared by the source or detected."""
    if settings.network_passphrase is not None:
        return settings
    source = open_source(settings)
    try:
        start = first_available_ledger(settings)
        end = settings.end_ledger if settings.end_ledger is not None else max(start, source.latest_ledger())
        network = settle_network(settings, source, start, end)
    finally:
        source.close()
    return settings.model_copy(update={"network_passphrase": network.passphrase})


def describe_source(settings: SourceSettings) -> str:
    """The lake URI, RPC URL or file the settings name (for messages)."""
    if settings.source_type == "rpc":
        return str(settings.rpc_endpoint)
    if settings.source_type == "file":
        return str(settings.file_path)
    return settings.datalake_uri


def first_available_ledger(settings: SourceSettings) -> int:
    """``start_ledger``, else the oldest ledger of a local lake or a file, else the RPC's newest ledger."""
    if settings.start_ledger is not None:
        return settings.start_ledger
    if settings.source_type == "file":
        return FileLedgerSource(str(settings.file_path)).first_ledger()
    if settings.source_type == "datalake" and "://" not in settings.datalake_uri:
        from stellar_arrow.source.keys import parse_object_name
        from stellar_arrow.source.lake import DataLakeLedgerSource

        check_local_lake(settings.datalake_uri)
        root = Path(settings.datalake_uri)
        lows = [
            parsed.low
            for _, _, names in os.walk(root)
            for name in names
            if (parsed := parse_object_name(name)) is not None
        ]
        if not lows:
            msg = f"source.start_ledger is not set and the lake {root} holds no ledger objects"
            raise ConfigError(msg, key="source.start_ledger")
        lake = open_source(settings)
        assert isinstance(lake, DataLakeLedgerSource)
        try:
            return lake.read_batch(lake.schema.batch_key(min(lows))).start_sequence
        finally:
            lake.close()
    if settings.source_type == "rpc":
        source = open_source(settings)
        try:
            return source.latest_ledger()
        finally:
            source.close()
    msg = f"source.start_ledger is required for the remote lake {settings.datalake_uri}"
    raise ConfigError(msg, key="source.start_ledger")
