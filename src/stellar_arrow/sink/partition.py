"""Hive-style partitioning of a table's rows by event time (``closed_at``) and by column values.

Keys: ``date`` (``date=2025-01-31``) and ``hour`` (``hour=07``) from ``closed_at`` in UTC, ``asset_code`` and
``event_type`` from the columns of the same name. A key whose source column a table lacks is skipped for that
table (``ledgers`` has no ``asset_code``). Null values go to ``__HIVE_DEFAULT_PARTITION__``, which DuckDB and
pyarrow both read back as NULL. Partition columns stay inside the files too, so a file is self-contained.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final, Literal, get_args
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.errors import ConfigError

__all__ = ["NULL_PARTITION", "PartitionKey", "TablePartitioning", "parse_partition_keys"]

PartitionKey = Literal["date", "hour", "asset_code", "event_type"]
PARTITION_KEYS: Final[tuple[str, ...]] = get_args(PartitionKey)
NULL_PARTITION: Final = "__HIVE_DEFAULT_PARTITION__"
_TIME_COLUMN: Final = "closed_at"
_SEPARATOR: Final = "\x1f"  # unit separator: cannot occur in an asset code or event type


def parse_partition_keys(text: str | Sequence[str]) -> tuple[PartitionKey, ...]:
    """``"date,hour"`` or ``["date", "hour"]`` -> validated keys; ``ConfigError`` names the bad one."""
    items = [p.strip() for p in text.split(",")] if isinstance(text, str) else [p.strip() for p in text]
    keys: list[PartitionKey] = []
    for item in items:
        if not item:
            continue
        if item not in PARTITION_KEYS:
            msg = f"partition key {item!r} is not one of {', '.join(PARTITION_KEYS)}"
            raise ConfigError(msg, key="partition_by")
        if item in keys:
            msg = f"partition key {item!r} is given twice"
            raise ConfigError(msg, key="partition_by")
        keys.append(item)  # type: ignore[arg-type]
    return tuple(keys)


def _key_source(key: str) -> str:
    return _TIME_COLUMN if key in ("date", "hour") else key


@dataclass(frozen=True, slots=True)
class TablePartitioning:
    """The partition keys that apply to one table's schema."""

    keys: tuple[PartitionKey, ...]

    @classmethod
    def for_schema(cls, schema: pa.Schema, wanted: Sequence[PartitionKey]) -> TablePartitioning:
        names = set(schema.names)
        return cls(tuple(k for k in wanted if _key_source(k) in names))

    def _segment_column(self, table: pa.Table, key: str) -> pa.Array:
        if key == "date":
            values = pc.cast(pc.cast(table[_TIME_COLUMN], pa.date32()), pa.string())
        elif key == "hour":
            values = pc.utf8_lpad(pc.cast(pc.hour(table[_TIME_COLUMN]), pa.string()), 2, "0")
        else:
            values = pc.cast(table[key], pa.string())
        return pc.fill_null(values, NULL_PARTITION)

    def split(self, table: pa.Table) -> list[tuple[str, pa.Table]]:
        """``[(relative dir, rows), ...]`` (``""`` when unpartitioned); row order is kept per partition."""
        if not self.keys or table.num_rows == 0:
            return [("", table)] if table.num_rows else []
        segments = [self._segment_column(table, k) for k in self.keys]
        joined = pc.binary_join_element_wise(*segments, _SEPARATOR) if len(segments) > 1 else segments[0]
        out: list[tuple[str, pa.Table]] = []
        values = pc.unique(joined).to_pylist()
        for value in values:
            rows = table if len(values) == 1 else table.filter(pc.equal(joined, value))
            parts = zip(self.keys, str(value).split(_SEPARATOR), strict=True)
            path = "/".join(f"{k}={v if v == NULL_PARTITION else quote(v, safe='')}" for k, v in parts)
            out.append((path, rows))
        return sorted(out, key=lambda item: item[0])
