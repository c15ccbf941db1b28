"""The work plan of an export: inclusive ledger ranges cut into chunks, and their output files.

A chunk ``[first, last]`` of table ``t`` is the file ``<out>/<t>/<t>-<first>-<last>.<ext>``; whether
a written chunk is complete is decided by its manifest (:mod:`stellar_arrow.export.manifest`).
:func:`written_ranges` lists the chunk ranges already in an output folder, so that a re-run with
another ``--start`` or ``--chunk-size`` is refused instead of leaving overlapping files.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Final

from stellar_arrow.errors import ConfigError
from stellar_arrow.export.manifest import MANIFEST_DIR, manifest_key, manifest_path
from stellar_arrow.vocabulary import FILE_FORMATS, TABLES

if TYPE_CHECKING:
    from stellar_arrow.export.store import OutputStore

__all__ = ["FORMAT_EXTENSIONS", "Chunk", "plan_chunks", "written_ranges"]

FORMAT_EXTENSIONS: Final[dict[str, str]] = {fmt: fmt for fmt in FILE_FORMATS}
_NAME = re.compile(r"^(?P<table>[a-z_]+)-(?P<first>\d+)-(?P<last>\d+)\.(?P<ext>[a-z]+)$")
_MANIFEST = re.compile(r"^chunk-(?P<first>\d+)-(?P<last>\d+)\.json$")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One inclusive range of ledgers written as one file per table."""

    first_ledger: int
    last_ledger: int

    @property
    def ledger_count(self) -> int:
        return self.last_ledger - self.first_ledger + 1

    def key(self, table: str, file_format: str) -> str:
        """The table file's key under the output root: ``<table>/<table>-<first>-<last>.<ext>``."""
        ext = FORMAT_EXTENSIONS[file_format]
        return f"{table}/{table}-{self.first_ledger}-{self.last_ledger}.{ext}"

    def path(self, out_dir: Path, table: str, file_format: str) -> Path:
        return out_dir / self.key(table, file_format)

    @property
    def manifest_key(self) -> str:
        return manifest_key(self.first_ledger, self.last_ledger)

    def manifest_path(self, out_dir: Path) -> Path:
        return manifest_path(out_dir, self.first_ledger, self.last_ledger)

    def overlaps(self, first: int, last: int) -> bool:
        return first <= self.last_ledger and self.first_ledger <= last

    def supersedes(self, first: int, last: int) -> bool:
        """``[first, last]`` is a shorter chunk starting here (written when an earlier range ended sooner)."""
        return first == self.first_ledger and last < self.last_ledger

    def files_of(self, out: OutputStore | Path) -> list[str]:
        """Keys of every object of this exact range in ``out``: table files of any format, the manifest.

        The manifest comes last, so that deleting them in this order never leaves a manifest whose
        files are gone (a half-deleted chunk is redone, never trusted).
        """
        store = _store(out)
        found = []
        for table in TABLES:
            names = set(store.names(table))
            for ext in FORMAT_EXTENSIONS.values():
                key = self.key(table, ext)
                if key.rsplit("/", 1)[-1] in names:
                    found.append(key)
        if self.manifest_key.rsplit("/", 1)[-1] in store.names(MANIFEST_DIR):
            found.append(self.manifest_key)
        return found


def _store(out: OutputStore | Path) -> OutputStore:
    from stellar_arrow.export.store import LocalOutput

    return LocalOutput(out) if isinstance(out, Path) else out


def written_ranges(out: OutputStore | Path) -> set[tuple[int, int]]:
    """``(first, last)`` of every chunk with a table file or a manifest under ``out``."""
    store = _store(out)
    ranges: set[tuple[int, int]] = set()
    for table in TABLES:
        for name in store.names(table):
            match = _NAME.match(name)
            if match and match["table"] == table and match["ext"] in FORMAT_EXTENSIONS:
                ranges.add((int(match["first"]), int(match["last"])))
    for name in store.names(MANIFEST_DIR):
        match = _MANIFEST.match(name)
        if match:
            ranges.add((int(match["first"]), int(match["last"])))
    return ranges


def plan_chunks(start: int, end: int, chunk_size: int) -> list[Chunk]:
    """``[start, end]`` (inclusive) cut into chunks of ``chunk_size`` ledgers (the last may be short)."""
    if start < 1 or end < start:
        msg = f"invalid ledger range {start}-{end}: need 1 <= start <= end"
        raise ConfigError(msg, key="start")
    if chunk_size < 1:
        msg = f"chunk size must be >= 1, got {chunk_size}"
        raise ConfigError(msg, key="chunk_size")
    return [Chunk(first, min(first + chunk_size - 1, end)) for first in range(start, end + 1, chunk_size)]
