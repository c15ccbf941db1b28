"""Scale-out of exports on a Dask cluster: one task per chunk, the same files as a one-process export."""

from __future__ import annotations

from stellar_arrow.scaleout.backfill import (
    ClusterExportSummary,
    export_on_cluster_with_progress,
    run_export_on_cluster,
)
from stellar_arrow.scaleout.cluster import ClusterSpec, connect, parse_cluster
from stellar_arrow.scaleout.tasks import ChunkResult, export_chunk, task_settings

__all__ = [
    "ChunkResult",
    "ClusterExportSummary",
    "ClusterSpec",
    "connect",
    "export_chunk",
    "export_on_cluster_with_progress",
    "parse_cluster",
    "run_export_on_cluster",
    "task_settings",
]
