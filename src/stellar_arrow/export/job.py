"""``stellar-arrow export``: ledgers of a source -> chunked table files (Parquet, JSON lines or CSV).

cryo-like: inclusive ranges cut into chunks, one file per table and chunk, atomic writes, and a
re-run skips complete chunks (resume). Decoding and table building run in worker processes (or
inline with ``workers=0``); the parent fetches, validates the chain across every ledger (gaps,
``previous_ledger_hash``, chunk boundaries included) and writes a chunk only once all its ledgers
passed, so a bad ledger stops the export with a typed error and leaves no partial file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from stellar_arrow.build import TableSetOptions, table_schema
from stellar_arrow.config import NETWORK_PASSPHRASES
from stellar_arrow.errors import ConfigError, LedgerGapError
from stellar_arrow.export.chunks import FORMAT_EXTENSIONS, Chunk, plan_chunks
from stellar_arrow.export.sources import declared_passphrase, open_source
from stellar_arrow.export.workers import LedgerProcessor, LedgerTables
from stellar_arrow.export.writer import last_ledger_link, write_table_atomically
from stellar_arrow.ledger.network import Network, resolve_network
from stellar_arrow.ledger.validation import ChainLink, ChainValidator
from stellar_arrow.ledger.view import detect_network, ledger_view
from stellar_arrow.source.base import RawLedger
from stellar_arrow.xdr import decode_ledger_close_meta

__all__ = ["ExportRequest", "ExportSummary", "run_export"]

ProgressCallback = Callable[[int], None]


@dataclass(frozen=True, slots=True)
class ExportRequest:
    """Everything ``stellar-arrow export`` was asked to do."""

    source: str
    start: int
    end: int | None
    out_dir: Path
    tables: tuple[str, ...] = ("ledgers", "transactions", "operations")
    file_format: str = "parquet"
    network: str | None = None
    chunk_size: int = 100
    workers: int = 0
    include_xdr: bool = False
    decoder: str = "fast"
    verify_hashes: bool = True
    verify_events: bool = False
    overwrite: bool = False  # rewrite complete chunks instead of skipping them
    storage_options: Mapping[str, Any] | None = None
    ledgers_per_batch: int | None = None  # lakes without a manifest only
    batches_per_partition: int | None = None

    def __post_init__(self) -> None:
        if self.file_format not in FORMAT_EXTENSIONS:
            msg = f"unknown format {self.file_format!r}; choose parquet, jsonl or csv"
            raise ConfigError(msg, key="format")
        if not self.tables:
            msg = "no table requested"
            raise ConfigError(msg, key="tables")
        if self.workers < 0:
            msg = f"workers must be >= 0, got {self.workers}"
            raise ConfigError(msg, key="workers")


@dataclass(slots=True)
class ExportSummary:
    """What an export did."""

    first_ledger: int
    last_ledger: int
    network: str
    chunks_written: int = 0
    chunks_skipped: int = 0
    ledgers_exported: int = 0
    xdr_bytes: int = 0
    rows: dict[str, int] = field(default_factory=dict)
    files: list[Path] = field(default_factory=list)
    elapsed_seconds: float = 0.0

    @property
    def ledgers_per_second(self) -> float:
        return self.ledgers_exported / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


def _candidates() -> list[Network]:
    return [resolve_network(p) for p in dict.fromkeys(NETWORK_PASSPHRASES.values())]


def _detect(source: Any, start: int, end: int, what: str) -> Network:
    """The network of the first ledger with transactions in ``[start, end]``."""
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
                    f"(pubnet, testnet, futurenet, standalone); pass --network <passphrase>"
                )
                raise ConfigError(msg, key="network")
            return network
    finally:
        ledgers.close()
    msg = f"{what}: ledgers {start}-{end} hold no transaction to tell the network by; pass --network"
    raise ConfigError(msg, key="network")


def _runs(chunks: list[Chunk], pending: list[bool]) -> Iterator[list[Chunk]]:
    """Maximal runs of consecutive pending chunks."""
    run: list[Chunk] = []
    for chunk, todo in zip(chunks, pending, strict=True):
        if todo:
            run.append(chunk)
        elif run:
            yield run
            run = []
    if run:
        yield run


class _ChunkWriter:
    def __init__(self, request: ExportRequest, summary: ExportSummary) -> None:
        self.request = request
        self.summary = summary
        self.schemas = {t: table_schema(t, include_xdr=request.include_xdr) for t in request.tables}

    def write(self, chunk: Chunk, parts: list[LedgerTables]) -> None:
        for table in self.request.tables:
            batches = [p.batches[table] for p in parts]
            data = pa.Table.from_batches(batches) if batches else self.schemas[table].empty_table()
            path = chunk.path(self.request.out_dir, table, self.request.file_format)
            write_table_atomically(data, path, self.request.file_format)
            for stale in chunk.superseded_files(self.request.out_dir, table, self.request.file_format):
                stale.unlink(missing_ok=True)  # a shorter chunk written when the range ended earlier
            self.summary.files.append(path)
            self.summary.rows[table] = self.summary.rows.get(table, 0) + data.num_rows
        self.summary.chunks_written += 1


def run_export(request: ExportRequest, *, on_progress: ProgressCallback | None = None) -> ExportSummary:
    """Run the export; raises a typed :class:`~stellar_arrow.errors.StellarArrowError` on bad input."""
    started = time.perf_counter()
    wanted = None if request.network is None else resolve_network(request.network)
    source = open_source(
        request.source,
        network_passphrase=None if wanted is None else wanted.passphrase,
        storage_options=request.storage_options,
        ledgers_per_batch=request.ledgers_per_batch,
        batches_per_partition=request.batches_per_partition,
    )
    try:
        end = request.end if request.end is not None else source.latest_ledger()
        chunks = plan_chunks(request.start, end, request.chunk_size)
        declared = declared_passphrase(source)
        network = wanted or (resolve_network(declared) if declared else None)
        if network is None:
            network = _detect(source, request.start, end, request.source)
        options = TableSetOptions(
            tables=request.tables,
            network=network,
            include_xdr=request.include_xdr,
            decoder=request.decoder,
            verify_hashes=request.verify_hashes,
            verify_events=request.verify_events,
        )
        summary = ExportSummary(request.start, end, network.name)
        pending = [
            request.overwrite or not c.is_complete(request.out_dir, request.tables, request.file_format)
            for c in chunks
        ]
        summary.chunks_skipped = pending.count(False)
        if on_progress is not None and summary.chunks_skipped:
            on_progress(sum(c.ledger_count for c, todo in zip(chunks, pending, strict=True) if not todo))
        writer = _ChunkWriter(request, summary)
        with LedgerProcessor(options, workers=request.workers) as processor:
            for run in _runs(chunks, pending):
                anchor = _anchor(request, run[0])
                _export_run(request.source, source, processor, run, anchor, writer, summary, on_progress)
    finally:
        source.close()
    summary.elapsed_seconds = time.perf_counter() - started
    return summary


def _anchor(request: ExportRequest, first: Chunk) -> ChainLink | None:
    """The last ledger already written just before ``first`` (a resumed export checks it links on)."""
    if "ledgers" not in request.tables or first.first_ledger <= request.start:
        return None
    before = Chunk(first.first_ledger - request.chunk_size, first.first_ledger - 1)
    link = last_ledger_link(before.path(request.out_dir, "ledgers", request.file_format), request.file_format)
    return link if link is not None and link.ledger_sequence == first.first_ledger - 1 else None


def _export_run(
    what: str,
    source: Any,
    processor: LedgerProcessor,
    run: list[Chunk],
    anchor: ChainLink | None,
    writer: _ChunkWriter,
    summary: ExportSummary,
    on_progress: ProgressCallback | None,
) -> None:
    raw: Iterator[RawLedger] = source.ledgers(run[0].first_ledger, run[-1].last_ledger)
    try:
        _consume(what, processor.map(raw), run, ChainValidator(anchor), writer, summary, on_progress)
    finally:
        close = getattr(raw, "close", None)
        if close is not None:
            close()


def _consume(
    what: str,
    results: Iterator[LedgerTables],
    run: list[Chunk],
    chain: ChainValidator,
    writer: _ChunkWriter,
    summary: ExportSummary,
    on_progress: ProgressCallback | None,
) -> None:
    chunk_iter = iter(run)
    chunk = next(chunk_iter)
    parts: list[LedgerTables] = []
    expected = chunk.first_ledger
    for result in results:
        seq = result.link.ledger_sequence
        if seq != expected:
            msg = f"{what} delivered ledger {seq} where ledger {expected} was expected"
            raise LedgerGapError(msg, ledger_sequence=expected)
        chain.check(result.link)
        parts.append(result)
        summary.ledgers_exported += 1
        summary.xdr_bytes += result.size
        if on_progress is not None:
            on_progress(1)
        expected += 1
        if seq == chunk.last_ledger:
            writer.write(chunk, parts)
            parts = []
            next_chunk = next(chunk_iter, None)
            if next_chunk is None:
                break
            chunk = next_chunk
    if expected <= run[-1].last_ledger:
        msg = f"{what} ended at ledger {expected - 1}, before ledger {run[-1].last_ledger}"
        raise LedgerGapError(msg, ledger_sequence=expected)
