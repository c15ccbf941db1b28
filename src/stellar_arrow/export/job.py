"""``stellar-arrow export``: ledgers of a source -> chunked table files (Parquet, JSON lines or CSV).

cryo-like: inclusive ranges cut into chunks, one file per table and chunk, durable atomic writes and a
manifest per chunk; a re-run skips the chunks whose files still match their manifest (resume), writes
again those that do not, and refuses written chunks that overlap the plan with other bounds (another
``--start`` or ``--chunk-size``) unless ``overwrite`` is set. Decoding and table building run in worker
processes (or inline with ``workers=0``); the parent fetches, validates the chain across every ledger
(gaps, ``previous_ledger_hash``, chunk boundaries included) and writes a chunk only once all its ledgers
passed, so a bad ledger stops the export with a typed error and leaves no partial file.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa

from stellar_arrow.build import TableSetOptions, table_schema
from stellar_arrow.config import ExportSettings, Settings
from stellar_arrow.errors import ConfigError, LedgerGapError
from stellar_arrow.export.chunks import Chunk, plan_chunks, written_ranges
from stellar_arrow.export.delta import DeltaChunkWriter
from stellar_arrow.export.filtering import describe_filter, export_filter, keep_rows
from stellar_arrow.export.manifest import (
    ChunkManifest,
    check_chunk,
    file_record,
    read_manifest,
    write_manifest,
)
from stellar_arrow.export.store import LocalOutput, OutputStore, open_output
from stellar_arrow.export.workers import LedgerProcessor, LedgerTables
from stellar_arrow.export.writer import last_ledger_link, write_table
from stellar_arrow.ledger.network import Network
from stellar_arrow.ledger.validation import ChainLink, ChainValidator
from stellar_arrow.source.base import LedgerSource, RawLedger
from stellar_arrow.source.open import describe_source, open_source, settle_network

__all__ = [
    "ExportPlan",
    "ExportSummary",
    "check_output_dir",
    "export_plan",
    "output_store",
    "prepare_export",
    "run_export",
]

ProgressCallback = Callable[[int], None]


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
    files: list[str] = field(default_factory=list)  # where each written file is (a path or a URL)
    replaced: list[str] = field(default_factory=list)  # chunks written again, and why
    elapsed_seconds: float = 0.0

    @property
    def ledgers_per_second(self) -> float:
        return self.ledgers_exported / self.elapsed_seconds if self.elapsed_seconds > 0 else 0.0


def output_dir(settings: Settings) -> Path:
    if settings.export.output_dir is None:
        msg = "export needs an output folder: --out DIR (or export.output_dir)"
        raise ConfigError(msg, key="export.output_dir")
    return Path(settings.export.output_dir)


def output_store(settings: Settings) -> OutputStore:
    """The export's output: a local folder or an object store URL (``s3://bucket/prefix``, any fsspec URL)."""
    if settings.export.output_dir is None:
        output_dir(settings)  # raises: no output
    return open_output(str(settings.export.output_dir), settings.export.output_storage_options)


def check_output_dir(out_dir: Path, tables: tuple[str, ...]) -> None:
    """Refuse, before reading any ledger, an output folder that cannot be written (creating nothing)."""
    LocalOutput(out_dir).check_writable(tables)


def export_plan(settings: Settings, end: int) -> list[Chunk]:
    start = settings.source.start_ledger
    if start is None:
        msg = "export needs a first ledger: --start N (or source.start_ledger)"
        raise ConfigError(msg, key="source.start_ledger")
    if end < start:
        msg = f"the source's newest ledger {end} is before --start {start}"
        raise ConfigError(msg, key="source.start_ledger")
    return plan_chunks(start, end, settings.export.chunk_size)


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


def _delta_writer(out: OutputStore, schemas: dict[str, pa.Schema]) -> DeltaChunkWriter:
    if not isinstance(out, LocalOutput):
        msg = f"--format delta writes to a local folder; {out.location('')} is an object store"
        raise ConfigError(msg, key="export.output_dir")
    return DeltaChunkWriter(out.root, schemas)


class _ChunkWriter:
    def __init__(self, options: ExportSettings, out: OutputStore, network: Network) -> None:
        self.options = options
        self.out = out
        self.network = network
        self.schemas = {t: table_schema(t, include_xdr=options.include_xdr) for t in options.tables}
        self.superseded: dict[Chunk, list[Chunk]] = {}
        self.rows = export_filter(options)  # token_transfers rows to keep
        self.row_filter = describe_filter(self.rows)
        self.delta = _delta_writer(out, self.schemas) if options.format == "delta" else None

    def _write_delta(
        self, delta: DeltaChunkWriter, chunk: Chunk, parts: list[LedgerTables]
    ) -> dict[str, int]:
        tables = {}
        for table in self.options.tables:
            batches = [p.batches[table] for p in parts]
            data = pa.Table.from_batches(batches, schema=self.schemas[table])
            tables[table] = keep_rows(table, data, self.rows)
        return delta.write(chunk, tables)

    def write(self, chunk: Chunk, parts: list[LedgerTables], summary: ExportSummary) -> None:
        fmt = self.options.format
        if self.delta is not None:
            for table, rows in self._write_delta(self.delta, chunk, parts).items():
                summary.rows[table] = summary.rows.get(table, 0) + rows
                location = str(self.delta.writers[table].path)
                if location not in summary.files:
                    summary.files.append(location)
            summary.chunks_written += 1
            return
        records = []
        for table in self.options.tables:
            batches = [p.batches[table] for p in parts]
            data = pa.Table.from_batches(batches) if batches else self.schemas[table].empty_table()
            data = keep_rows(table, data, self.rows)
            key = chunk.key(table, fmt)
            stored = write_table(self.out, key, data, fmt)
            records.append(file_record(table, key.rsplit("/", 1)[-1], stored, data.num_rows))
            summary.files.append(self.out.location(key))
            summary.rows[table] = summary.rows.get(table, 0) + data.num_rows
        manifest = ChunkManifest(
            chunk.first_ledger,
            chunk.last_ledger,
            fmt,
            self.network.name,
            self.options.include_xdr,
            tuple(records),
            parts[0].link.previous_ledger_hash.hex() if parts else "",
            parts[-1].link.ledger_hash.hex() if parts else "",
            self.row_filter,
        )
        write_manifest(self.out, manifest)  # last: the commit of the chunk
        for stale in self.superseded.get(chunk, []):  # a shorter chunk written when the range ended earlier
            for key in stale.files_of(self.out):
                self.out.remove(key)
        summary.chunks_written += 1


def _layout(settings: Settings, out: OutputStore, chunks: list[Chunk], writer: _ChunkWriter) -> None:
    """Refuse (or, with ``overwrite``, remove) written chunks that overlap the plan with other bounds."""
    conflicts: list[Chunk] = []
    for first, last in sorted(written_ranges(out)):
        hits = [c for c in chunks if c.overlaps(first, last)]
        if not hits or (len(hits) == 1 and (hits[0].first_ledger, hits[0].last_ledger) == (first, last)):
            continue
        if len(hits) == 1 and hits[0].supersedes(first, last):
            writer.superseded.setdefault(hits[0], []).append(Chunk(first, last))
            continue
        conflicts.append(Chunk(first, last))
    if not conflicts:
        return
    if not settings.export.overwrite:
        names = ", ".join(f"{c.first_ledger}-{c.last_ledger}" for c in conflicts[:5])
        more = f" and {len(conflicts) - 5} more" if len(conflicts) > 5 else ""
        msg = (
            f"{out.uri} holds chunks {names}{more} that overlap the planned chunks of "
            f"{settings.export.chunk_size} ledgers from {chunks[0].first_ledger} (another --start or "
            "--chunk-size?): use the same layout, another --out, or --overwrite to replace them"
        )
        raise ConfigError(msg, key="export.chunk_size")
    for stale in conflicts:
        for key in stale.files_of(out):
            out.remove(key)


def _pending(
    settings: Settings,
    out: OutputStore,
    chunks: list[Chunk],
    network: Network,
    summary: ExportSummary,
    writer: _ChunkWriter,
) -> list[bool]:
    """Which chunks to write: all with ``overwrite``, else those whose files fail their manifest."""
    options = settings.export
    if writer.delta is not None:
        writer.delta.check_start(chunks[0].first_ledger)
        return [not writer.delta.committed(chunk) for chunk in chunks]
    if options.overwrite:
        return [True] * len(chunks)
    written = written_ranges(out)
    pending = []
    for chunk in chunks:
        reason = check_chunk(
            out,
            read_manifest(out, chunk.first_ledger, chunk.last_ledger),
            first_ledger=chunk.first_ledger,
            last_ledger=chunk.last_ledger,
            tables=options.tables,
            file_format=options.format,
            network=network.name,
            include_xdr=options.include_xdr,
            keys={t: chunk.key(t, options.format) for t in options.tables},
            row_filter=writer.row_filter,
        )
        if reason is not None and (chunk.first_ledger, chunk.last_ledger) in written:
            summary.replaced.append(f"{chunk.first_ledger}-{chunk.last_ledger}: {reason}")
        pending.append(reason is not None)
    return pending


@dataclass(slots=True)
class ExportPlan:
    """The chunks of an export, which of them must be written, and the network they belong to."""

    chunks: list[Chunk]
    pending: list[bool]
    network: Network
    summary: ExportSummary
    writer: _ChunkWriter

    @property
    def pending_chunks(self) -> list[Chunk]:
        return [c for c, todo in zip(self.chunks, self.pending, strict=True) if todo]


def _plan(settings: Settings, out: OutputStore, source: LedgerSource) -> ExportPlan:
    options = settings.export
    end = settings.source.end_ledger if settings.source.end_ledger is not None else source.latest_ledger()
    chunks = export_plan(settings, end)
    network = settle_network(settings.source, source, chunks[0].first_ledger, end)
    summary = ExportSummary(chunks[0].first_ledger, end, network.name)
    writer = _ChunkWriter(options, out, network)
    _layout(settings, out, chunks, writer)
    pending = _pending(settings, out, chunks, network, summary, writer)
    summary.chunks_skipped = pending.count(False)
    return ExportPlan(chunks, pending, network, summary, writer)


def _checked_output(settings: Settings) -> OutputStore:
    out = output_store(settings)
    if settings.source.start_ledger is None:
        export_plan(settings, 0)  # raises: no first ledger
    if settings.export.format == "delta" and not isinstance(out, LocalOutput):
        msg = f"--format delta writes to a local folder; {out.location('')} is an object store"
        raise ConfigError(msg, key="export.output_dir")  # before the write probe needs credentials
    out.check_writable(settings.export.tables)
    export_filter(settings.export)  # a bad --where stops the export before any ledger is read
    if settings.export.format == "delta" and settings.export.overwrite:
        msg = "--overwrite does not apply to --format delta (appends are exactly once): use another --out"
        raise ConfigError(msg, key="export.overwrite")
    return out


def prepare_export(settings: Settings) -> ExportPlan:
    """Check the output folder and plan the chunks (reads only the source's tip and network).

    What a cluster client runs before it hands the pending chunks to workers.
    """
    out = _checked_output(settings)
    if settings.export.format == "delta":
        msg = "--format delta appends each Delta table in ledger order from one process: not with a cluster"
        raise ConfigError(msg, key="export.format")
    source = open_source(settings.source)
    try:
        return _plan(settings, out, source)
    finally:
        source.close()


def run_export(settings: Settings, *, on_progress: ProgressCallback | None = None) -> ExportSummary:
    """Export ``source.start_ledger``..``source.end_ledger`` as ``settings.export`` says.

    Raises a typed :class:`~stellar_arrow.errors.StellarArrowError` on bad input.
    """
    started = time.perf_counter()
    options = settings.export
    out = _checked_output(settings)
    source = open_source(settings.source)
    try:
        plan = _plan(settings, out, source)
        chunks, pending, summary = plan.chunks, plan.pending, plan.summary
        table_options = TableSetOptions(
            tables=options.tables,
            network=plan.network,
            include_xdr=options.include_xdr,
            decoder=options.decoder,
            verify_hashes=options.verify_hashes,
            verify_events=options.verify_events,
        )
        if on_progress is not None and summary.chunks_skipped:
            on_progress(sum(c.ledger_count for c, todo in zip(chunks, pending, strict=True) if not todo))
        with LedgerProcessor(table_options, workers=options.workers) as processor:
            for run in _runs(chunks, pending):
                anchor = _anchor(settings, out, run[0], plan.writer)
                raw = source.ledgers(run[0].first_ledger, run[-1].last_ledger)
                _export_run(
                    describe_source(settings.source),
                    raw,
                    processor,
                    run,
                    anchor,
                    plan.writer,
                    summary,
                    on_progress,
                )
    finally:
        source.close()
    summary.elapsed_seconds = time.perf_counter() - started
    return summary


def _anchor(settings: Settings, out: OutputStore, first: Chunk, writer: _ChunkWriter) -> ChainLink | None:
    """The last ledger already written just before ``first`` (a resumed export checks it links on)."""
    options = settings.export
    start = settings.source.start_ledger
    if "ledgers" not in options.tables or start is None or first.first_ledger <= start:
        return None
    if writer.delta is not None:
        return writer.delta.link(first.first_ledger - 1)
    before = Chunk(first.first_ledger - options.chunk_size, first.first_ledger - 1)
    link = last_ledger_link(out, before.key("ledgers", options.format), options.format)
    return link if link is not None and link.ledger_sequence == first.first_ledger - 1 else None


def _export_run(
    what: str,
    raw: Iterator[RawLedger],
    processor: LedgerProcessor,
    run: list[Chunk],
    anchor: ChainLink | None,
    writer: _ChunkWriter,
    summary: ExportSummary,
    on_progress: ProgressCallback | None,
) -> None:
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
            writer.write(chunk, parts, summary)
            parts = []
            next_chunk = next(chunk_iter, None)
            if next_chunk is None:
                break
            chunk = next_chunk
    if expected <= run[-1].last_ledger:
        msg = f"{what} ended at ledger {expected - 1}, before ledger {run[-1].last_ledger}"
        raise LedgerGapError(msg, ledger_sequence=expected)
