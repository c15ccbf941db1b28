"""The work plan of an export: inclusive ledger ranges cut into chunks, and their output files.

A chunk ``[first, last]`` of table ``t`` is the file ``<out>/<t>/<t>-<first>-<last>.<ext>``. A
chunk is complete when the files of every requested table exist (they only appear through an
atomic rename), which is what makes a re-run resume. Pure apart from the two methods that look at files.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from stellar_arrow.errors import ConfigError

__all__ = ["FORMAT_EXTENSIONS", "Chunk", "plan_chunks"]

FORMAT_EXTENSIONS: Final = {"parquet": "parquet", "jsonl": "jsonl", "csv": "csv"}


@dataclass(frozen=True, slots=True)
class Chunk:
    """One inclusive range of ledgers written as one file per table."""

    first_ledger: int
    last_ledger: int

    @property
    def ledger_count(self) -> int:
        return self.last_ledger - self.first_ledger + 1

    def path(self, out_dir: Path, table: str, file_format: str) -> Path:
        ext = FORMAT_EXTENSIONS[file_format]
        return out_dir / table / f"{table}-{self.first_ledger}-{self.last_ledger}.{ext}"

    def is_complete(self, out_dir: Path, tables: tuple[str, ...], file_format: str) -> bool:
        return all(self.path(out_dir, table, file_format).is_file() for table in tables)

    def superseded_files(self, out_dir: Path, table: str, file_format: str) -> list[Path]:
        """Files of shorter chunks starting at the same ledger (left by a run whose range ended earlier)."""
        ext = FORMAT_EXTENSIONS[file_format]
        prefix = f"{table}-{self.first_ledger}-"
        out: list[Path] = []
        for path in (out_dir / table).glob(f"{prefix}*.{ext}"):
            last = path.name[len(prefix) : -len(ext) - 1]
            if last.isdigit() and self.first_ledger <= int(last) < self.last_ledger:
                out.append(path)
        return out


def plan_chunks(start: int, end: int, chunk_size: int) -> list[Chunk]:
    """``[start, end]`` (inclusive) cut into chunks of ``chunk_size`` ledgers (the last may be short)."""
    if start < 1 or end < start:
        msg = f"invalid ledger range {start}-{end}: need 1 <= start <= end"
        raise ConfigError(msg, key="start")
    if chunk_size < 1:
        msg = f"chunk size must be >= 1, got {chunk_size}"
        raise ConfigError(msg, key="chunk_size")
    return [Chunk(first, min(first + chunk_size - 1, end)) for first in range(start, end + 1, chunk_size)]
