"""The analytics sink: partitioned Parquet / JSON lines / CSV files with manifests and an atomic commit log.

``DatasetSink`` buffers the pipeline's tables (Arrow record batches), writes them per table and partition and
commits a ledger range's files together with the pipeline checkpoint; ``validate_dir`` checks the result.
"""

from __future__ import annotations

from stellar_arrow.sink.base import LiveListener, Sink, TableView, ledger_column
from stellar_arrow.sink.dataset import FILE_FORMATS, DatasetSink, SinkStats
from stellar_arrow.sink.manifest import (
    Checkpoint,
    CommitRecord,
    FileManifest,
    read_commits,
    schema_fingerprint,
)
from stellar_arrow.sink.parquet import COMPRESSIONS, Compression, ParquetOptions
from stellar_arrow.sink.partition import PartitionKey, TablePartitioning, parse_partition_keys
from stellar_arrow.sink.validate import FileProblem, ValidationReport, validate_dir

__all__ = [
    "COMPRESSIONS",
    "FILE_FORMATS",
    "Checkpoint",
    "CommitRecord",
    "Compression",
    "DatasetSink",
    "FileManifest",
    "FileProblem",
    "LiveListener",
    "ParquetOptions",
    "PartitionKey",
    "Sink",
    "SinkStats",
    "TablePartitioning",
    "TableView",
    "ValidationReport",
    "ledger_column",
    "parse_partition_keys",
    "read_commits",
    "schema_fingerprint",
    "validate_dir",
]
