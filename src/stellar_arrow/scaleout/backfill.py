"""The client side of a cluster export: plan, submit one task per pending chunk, gather, check the chain.

The plan, the resume checks and the files are those of a one-process export (:mod:`stellar_arrow.export`):
the same chunks, skipped when their manifest still matches, written by the same writer. The client then
checks the hash chain across every chunk boundary from the manifests' boundary hashes (chunks written by
earlier runs included), so a cluster export validates exactly what a one-process export validates.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from stellar_arrow.config import Settings
from stellar_arrow.errors import HashChainError, SinkError
from stellar_arrow.export.chunks import Chunk
from stellar_arrow.export.console import progress_bar
from stellar_arrow.export.job import ExportSummary, output_store, prepare_export
from stellar_arrow.export.manifest import ChunkManifest, read_manifest
from stellar_arrow.export.store import OutputStore
from stellar_arrow.scaleout.cluster import ClusterSpec, connect
from stellar_arrow.scaleout.tasks import ChunkResult, export_chunk, task_settings

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ClusterExportSummary", "export_on_cluster_with_progress", "run_export_on_cluster"]

#: How often the scheduler retries a chunk whose task raised a transient error.
TASK_RETRIES = 3


@dataclass(slots=True)
class ClusterExportSummary:
    """A one-process summary plus the cluster facts."""

    export: ExportSummary
    dashboard: str | None
    workers: int
    manifests: list[ChunkManifest] = field(default_factory=list)


def run_export_on_cluster(
    settings: Settings,
    client: Client,
    *,
    on_progress: Callable[[int], None] | None = None,
) -> ClusterExportSummary:
    """Export ``settings`` on the cluster behind ``client``; raises the first terminal error of any chunk."""
    from distributed import as_completed

    started = time.perf_counter()
    plan = prepare_export(settings)
    summary = plan.summary
    out = output_store(settings)
    sections = task_settings(settings)
    sections["source"]["network_passphrase"] = plan.network.passphrase  # every worker checks the same one
    if on_progress is not None and summary.chunks_skipped:
        on_progress(
            sum(c.ledger_count for c, todo in zip(plan.chunks, plan.pending, strict=True) if not todo)
        )
    futures = [
        client.submit(
            export_chunk,
            sections,
            chunk.first_ledger,
            chunk.last_ledger,
            key=f"stellar-arrow-chunk-{chunk.first_ledger}-{chunk.last_ledger}-{time.time_ns()}",
            retries=TASK_RETRIES,
            pure=False,
        )
        for chunk in plan.pending_chunks
    ]
    try:
        for future in as_completed(futures):
            result: ChunkResult = future.result()
            if result.error is not None:
                raise result.error
            if result.manifest is None:
                msg = f"chunk {result.first_ledger}-{result.last_ledger} finished without a manifest"
                raise SinkError(msg)
            summary.chunks_written += 1
            summary.ledgers_exported += result.last_ledger - result.first_ledger + 1
            for record in result.manifest.files:
                summary.rows[record.table] = summary.rows.get(record.table, 0) + record.rows
                summary.files.append(out.location(f"{record.table}/{record.name}"))
            if on_progress is not None:
                on_progress(result.last_ledger - result.first_ledger + 1)
    finally:
        for future in futures:
            future.cancel()
    manifests = _check_chain(out, plan.chunks)
    summary.elapsed_seconds = time.perf_counter() - started
    workers = len(client.scheduler_info(n_workers=-1).get("workers", {}))
    return ClusterExportSummary(summary, client.dashboard_link, workers, manifests)


def _check_chain(out: OutputStore, chunks: list[Chunk]) -> list[ChunkManifest]:
    """Every chunk's manifest, in order, each linking to the one before by hash."""
    manifests: list[ChunkManifest] = []
    for chunk in chunks:
        manifest = read_manifest(out, chunk.first_ledger, chunk.last_ledger)
        if manifest is None:
            msg = f"chunk {chunk.first_ledger}-{chunk.last_ledger} has no valid manifest after the export"
            raise SinkError(msg)
        if manifests and manifests[-1].last_hash != manifest.first_previous_hash:
            before = manifests[-1]
            msg = (
                f"hash chain broken between chunks {before.first_ledger}-{before.last_ledger} and "
                f"{manifest.first_ledger}-{manifest.last_ledger}: ledger {manifest.first_ledger} names "
                f"previous hash {manifest.first_previous_hash[:16]}..., ledger {before.last_ledger} "
                "hashes to "
                f"{before.last_hash[:16]}..."
            )
            raise HashChainError(msg, ledger_sequence=manifest.first_ledger)
        manifests.append(manifest)
    return manifests


def export_on_cluster_with_progress(
    settings: Settings, spec: ClusterSpec, *, show_progress: bool | None = None
) -> ClusterExportSummary:
    """Connect to (or start) the cluster, print its dashboard address, export with a progress bar."""
    enabled = sys.stderr.isatty() if show_progress is None else show_progress
    start, end = settings.source.start_ledger, settings.source.end_ledger
    total = None if start is None or end is None else end - start + 1
    with connect(spec) as client:
        where = spec.scheduler or f"a local cluster of {spec.local_workers} worker processes"
        print(f"Dask: {where}; dashboard {client.dashboard_link}", file=sys.stderr, flush=True)
        with progress_bar(total, enabled) as advance:
            return run_export_on_cluster(settings, client, on_progress=advance)
