"""Ledgers from a Galexie / SEP-54 data lake (local folder, ``s3://``, ``gs://``, ``https://``).

Keys are computed from the sequence (no listing per ledger); the manifest is read and checked; the
extension is detected with one listing; objects are fetched in parallel and delivered strictly in
order. In a bounded range a missing object is a :class:`~stellar_arrow.errors.LedgerMissingError`;
when following the tip (``end=None``) the next object is polled for every ``poll_interval`` seconds.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from stellar_arrow.errors import ConfigError, LedgerMissingError, LedgerObjectError
from stellar_arrow.resilience.breaker import BreakerSettings
from stellar_arrow.resilience.bulkhead import bulkhead_for
from stellar_arrow.resilience.retry import RetryPolicy
from stellar_arrow.resilience.timeouts import NetworkTimeouts
from stellar_arrow.source.base import RawLedger, check_range
from stellar_arrow.source.batch import LedgerBatch, split_ledger_close_meta_batch
from stellar_arrow.source.files import decompress_zstd
from stellar_arrow.source.keys import BatchKey, LakeSchema
from stellar_arrow.source.manifest import MANIFEST_NAME, LakeManifest, parse_manifest
from stellar_arrow.source.prefetch import NotYetAvailable, OrderedPrefetcher
from stellar_arrow.source.storage import LakeStore, ObjectNotFound

__all__ = ["DataLakeLedgerSource"]


class DataLakeLedgerSource:
    """A :class:`~stellar_arrow.source.base.LedgerSource` over one SEP-54 lake root.

    ``network_passphrase``, ``ledgers_per_batch`` and ``batches_per_partition`` are checked against
    the manifest when given, and are required (the last two) when the lake has no manifest.
    ``extension`` ("zst" or "zstd") is detected by listing unless given (storage that cannot list,
    such as ``https://``, defaults to "zst"). ``storage_options`` go to fsspec (``endpoint_url``,
    ``anon``, ``key``/``secret`` for S3; anonymous access is used when no credentials are found).
    ``timeouts``, ``retry`` (default: from ``retry_attempts``/``retry_wait``) and ``breaker`` set the
    time limits, the one retry layer and the bucket's circuit breaker (:mod:`stellar_arrow.resilience`).
    """

    def __init__(
        self,
        uri: str,
        *,
        network_passphrase: str | None = None,
        ledgers_per_batch: int | None = None,
        batches_per_partition: int | None = None,
        extension: str | None = None,
        buffer_size: int = 20,
        workers: int = 4,
        poll_interval: float = 2.0,
        retry_attempts: int = 4,
        retry_wait: float = 0.5,
        gap_timeout: float | None = 60.0,
        storage_options: Mapping[str, Any] | None = None,
        timeouts: NetworkTimeouts | None = None,
        retry: RetryPolicy | None = None,
        breaker: BreakerSettings | None = None,
        max_downloads: int | None = None,
        download_wait_s: float = 30.0,
    ) -> None:
        # every lake source of the process shares the ``downloads`` bulkhead (None: no process-wide bound)
        self._downloads = (
            bulkhead_for("downloads", max_downloads, max_wait_s=download_wait_s)
            if max_downloads is not None
            else None
        )
        self._store = LakeStore(
            uri,
            storage_options=storage_options,
            retry_attempts=retry_attempts,
            retry_wait=retry_wait,
            retry=retry,
            timeouts=timeouts,
            breaker=breaker,
        )
        self.uri = self._store.uri
        self._buffer_size = buffer_size
        self._workers = workers
        self._poll_interval = poll_interval
        self._gap_timeout = gap_timeout
        self._stop = threading.Event()
        self.manifest = self._read_manifest()
        if self.manifest is not None:
            self.manifest.check(
                where=self._store.object_uri(MANIFEST_NAME),
                network_passphrase=network_passphrase,
                ledgers_per_batch=ledgers_per_batch,
                batches_per_partition=batches_per_partition,
            )
            per_batch, per_partition = self.manifest.ledgers_per_batch, self.manifest.batches_per_partition
        elif ledgers_per_batch is None or batches_per_partition is None:
            msg = f"{self.uri}: no {MANIFEST_NAME} manifest; give ledgers_per_batch and batches_per_partition"
            raise ConfigError(msg, key="ledgers_per_batch")
        else:
            per_batch, per_partition = ledgers_per_batch, batches_per_partition
        self.network_passphrase = self.manifest.network_passphrase if self.manifest else network_passphrase
        if extension is None:
            extension = self._detect_extension()
        self.schema = LakeSchema(per_batch, per_partition, extension.removeprefix("xdr.").lstrip("."))

    def _read_manifest(self) -> LakeManifest | None:
        try:
            data = self._store.read(MANIFEST_NAME)
        except ObjectNotFound:
            return None
        return parse_manifest(data, where=self._store.object_uri(MANIFEST_NAME))

    def _detect_extension(self) -> str:
        if not self._store.can_list:
            return "zst"
        newest = self._store.newest_object()
        return newest[1].extension if newest is not None else "zst"

    def latest_ledger(self) -> int:
        """The newest ledger in the lake, from one listing (the first key in ascending order)."""
        newest = self._store.newest_object()
        if newest is None:
            msg = f"{self.uri}: the lake holds no ledger objects"
            raise LedgerMissingError(msg, object_key=self.uri)
        return newest[1].high

    def read_batch(self, batch_key: BatchKey) -> LedgerBatch:
        """Fetch, decompress and split one object; check its range against its key."""
        where = self._store.object_uri(batch_key.key)
        raw = decompress_zstd(self._store.read(batch_key.key), object_name=where)
        batch = split_ledger_close_meta_batch(raw, object_name=where)
        if batch.start_sequence < batch_key.first_ledger or batch.end_sequence > batch_key.last_ledger:
            msg = (
                f"{where}: batch holds ledgers [{batch.start_sequence}, {batch.end_sequence}] but its key "
                f"covers [{batch_key.first_ledger}, {batch_key.last_ledger}]"
            )
            raise LedgerObjectError(msg, ledger_sequence=batch.start_sequence, object_key=where)
        return batch

    def _batch_keys(self, start: int, end: int | None) -> Iterator[BatchKey]:
        first = self.schema.batch_start(start)
        while end is None or first <= end:
            yield self.schema.batch_key(first)
            first += self.schema.ledgers_per_batch

    def ledgers(self, start: int, end: int | None = None) -> Iterator[RawLedger]:
        """Yield ``(ledger_sequence, lcm_bytes)`` for ``[start, end]`` in order, or follow the tip.

        The range is checked now; I/O starts at the first ``next()``. :meth:`stop` ends the iteration.
        """
        check_range(start, end)
        self._stop.clear()
        return self._iterate(start, end)

    def _iterate(self, start: int, end: int | None) -> Iterator[RawLedger]:
        bounded = end is not None

        def fetch(batch_key: BatchKey) -> LedgerBatch:
            try:
                return self.read_batch(batch_key)
            except ObjectNotFound:
                if not bounded:
                    raise NotYetAvailable(batch_key.key) from None
                first_wanted = max(start, batch_key.first_ledger)
                where = self._store.object_uri(batch_key.key)
                msg = f"ledger object {where} containing ledger {first_wanted} is missing"
                raise LedgerMissingError(msg, ledger_sequence=first_wanted, object_key=where) from None

        prefetcher: OrderedPrefetcher[BatchKey, LedgerBatch] = OrderedPrefetcher(
            fetch,
            self._batch_keys(start, end),
            workers=self._workers,
            buffer_size=max(self._buffer_size, self._workers),
            poll_interval=self._poll_interval,
            stop_event=self._stop,
            gap_timeout=self._gap_timeout,
            on_gap=self._gap_error,
            bulkhead=self._downloads,
        )
        for batch_key, batch in prefetcher:
            where = self._store.object_uri(batch_key.key)
            low = max(start, batch_key.first_ledger)
            high = batch_key.last_ledger if end is None else min(end, batch_key.last_ledger)
            for ledger_sequence in range(low, high + 1):
                if not batch.start_sequence <= ledger_sequence <= batch.end_sequence:
                    msg = (
                        f"{where}: ledger {ledger_sequence} is missing (the object holds "
                        f"[{batch.start_sequence}, {batch.end_sequence}])"
                    )
                    raise LedgerMissingError(msg, ledger_sequence=ledger_sequence, object_key=where)
                yield RawLedger(ledger_sequence, batch.ledger(ledger_sequence, object_name=where))
                if self._stop.is_set():
                    return

    def _gap_error(self, batch_key: BatchKey) -> LedgerMissingError:
        where = self._store.object_uri(batch_key.key)
        msg = (
            f"ledger object {where} is still missing after {self._gap_timeout}s while later objects exist: "
            f"a gap in the lake, not the tip"
        )
        return LedgerMissingError(msg, ledger_sequence=batch_key.first_ledger, object_key=where)

    def stop(self) -> None:
        """Make a running :meth:`ledgers` iteration (e.g. tailing the tip) return soon."""
        self._stop.set()

    def close(self) -> None:
        """Stop any iteration; the store holds no other resources."""
        self.stop()

    def __enter__(self) -> DataLakeLedgerSource:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()
