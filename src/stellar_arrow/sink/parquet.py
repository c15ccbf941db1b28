"""Parquet files: compression choice and one-file writes (the caller names, fsyncs and renames the file)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final, Literal, get_args

import pyarrow as pa
import pyarrow.parquet as pq

from stellar_arrow.errors import ConfigError

__all__ = ["COMPRESSIONS", "Compression", "ParquetOptions", "write_parquet"]

Compression = Literal["snappy", "gzip", "lz4", "zstd", "brotli", "none"]
COMPRESSIONS: Final[tuple[str, ...]] = get_args(Compression)


@dataclass(frozen=True, slots=True)
class ParquetOptions:
    """How Parquet files are encoded: codec (``none`` = uncompressed), its level and the row-group size."""

    compression: Compression = "zstd"
    compression_level: int | None = None
    row_group_size: int = 131_072

    def __post_init__(self) -> None:
        if self.compression not in COMPRESSIONS:
            msg = f"compression {self.compression!r} is not one of {', '.join(COMPRESSIONS)}"
            raise ConfigError(msg, key="compression")
        if self.row_group_size < 1:
            msg = f"row_group_size must be >= 1, got {self.row_group_size}"
            raise ConfigError(msg, key="row_group_size")


def write_parquet(path: Path, table: pa.Table, options: ParquetOptions) -> None:
    """Write ``table`` to ``path`` (the Arrow schema is stored so types read back exactly); not fsynced."""
    codec = "NONE" if options.compression == "none" else options.compression
    with path.open("wb") as fh:
        pq.write_table(
            table,
            fh,
            compression=codec,
            compression_level=options.compression_level,
            row_group_size=options.row_group_size,
            store_schema=True,
        )
