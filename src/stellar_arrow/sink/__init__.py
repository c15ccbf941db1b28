"""The analytics sink: partitioned Parquet / JSON lines / CSV files with manifests and an atomic commit log.

Two seams (:mod:`stellar_arrow.sink.base`): the :class:`Sink` the pipeline writes through and the
:class:`TableReader` the API and Flight read through. ``DatasetSink`` is the file implementation of the first
(buffering, commits, recovery), ``DatasetSink.reader()`` of the second; ``validate_dir`` checks the result.
In-memory fakes of both live in :mod:`stellar_arrow.testing`.
"""

from __future__ import annotations

from stellar_arrow.sink.base import (
    LiveListener,
    ReadableSink,
    Sink,
    SinkStats,
    TableReader,
    TableView,
    Unsubscribe,
    ledger_column,
)
from stellar_arrow.sink.dataset import DatasetReader, DatasetSink
from stellar_arrow.sink.durable import durable_file, fsync_dir, write_atomically
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
    "Checkpoint",
    "CommitRecord",
    "Compression",
    "DatasetReader",
    "DatasetSink",
    "FileManifest",
    "FileProblem",
    "LiveListener",
    "ParquetOptions",
    "PartitionKey",
    "ReadableSink",
    "Sink",
    "SinkStats",
    "TablePartitioning",
    "TableReader",
    "TableView",
    "Unsubscribe",
    "ValidationReport",
    "durable_file",
    "fsync_dir",
    "ledger_column",
    "parse_partition_keys",
    "read_commits",
    "schema_fingerprint",
    "validate_dir",
    "write_atomically",
]
