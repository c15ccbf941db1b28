"""Reading committed Parquet files in bounded pieces: ledger windows and streamed record batches.

Readers of a sink (the Flight ``do_get``, the WebSocket replay) never load a ledger range at once.
:func:`ledger_windows` reads only the files' footers (ledger column statistics, row counts; cached per
file, committed files never change) and groups the files into ascending, disjoint ledger windows of
at most about ``max_rows`` rows: one commit's files (the partitions of one ledger range overlap) form
a window, and a bigger range is cut into ledger spans. :func:`scan_window` streams one window through
a ``pyarrow.dataset`` scanner with the ledger bounds and the caller's filter pushed down (files and
row groups whose statistics exclude them are skipped), in record batches of at most ``batch_rows``
rows, one file at a time, without threads: memory is bounded by one row group plus one batch.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.parquet as pq

__all__ = ["LedgerWindow", "ledger_bounds", "ledger_windows", "scan_window"]

_FOOTERS_KEPT: Final = 65_536


@dataclass(frozen=True, slots=True)
class _Footer:
    first: int | None  # None: the file has no rows (or no statistics)
    last: int | None
    rows: int


@dataclass(frozen=True, slots=True)
class LedgerWindow:
    """Files holding every committed row of ledgers ``first..last`` (and maybe rows outside it)."""

    files: tuple[Path, ...]
    first: int
    last: int
    rows: int


class _FooterCache:
    def __init__(self, size: int) -> None:
        self._size = size
        self._kept: OrderedDict[tuple[str, str], _Footer] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, path: Path, column: str) -> _Footer:
        key = (str(path), column)
        with self._lock:
            found = self._kept.get(key)
            if found is not None:
                self._kept.move_to_end(key)
                return found
        found = _read_footer(path, column)
        with self._lock:
            self._kept[key] = found
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return found


def _read_footer(path: Path, column: str) -> _Footer:
    meta = pq.read_metadata(str(path))
    index = meta.schema.to_arrow_schema().get_field_index(column)
    low: int | None = None
    high: int | None = None
    for group in range(meta.num_row_groups):
        row_group = meta.row_group(group)
        if row_group.num_rows == 0:
            continue
        stats = row_group.column(index).statistics if index >= 0 else None
        if stats is None or not stats.has_min_max:
            return _Footer(None, None, meta.num_rows)  # unknown range: read it whole, in one window
        low = stats.min if low is None else min(low, stats.min)
        high = stats.max if high is None else max(high, stats.max)
    return _Footer(low, high, meta.num_rows)


_FOOTERS = _FooterCache(_FOOTERS_KEPT)


def ledger_windows(
    paths: Iterable[Path], column: str, *, max_rows: int, after: int = 0, through: int | None = None
) -> list[LedgerWindow]:
    """Ascending disjoint windows over ``paths`` covering ledgers in ``(after, through]``.

    Windows hold about ``max_rows`` rows at most (estimated from row counts, evenly spread over a
    file's ledgers; one ledger is never split). A file without statistics makes one window of
    everything, read in order of its files.
    """
    spans: list[tuple[int, int, int, Path]] = []
    unknown: list[Path] = []
    for path in paths:
        footer = _FOOTERS.get(path, column)
        if footer.rows == 0:
            continue
        if footer.first is None or footer.last is None:
            unknown.append(path)
            continue
        if footer.last <= after or (through is not None and footer.first > through):
            continue
        spans.append((footer.first, footer.last, footer.rows, path))
    if unknown:
        every = tuple(unknown) + tuple(p for *_, p in spans)
        low = min([after + 1, *(s[0] for s in spans)])
        return [LedgerWindow(every, low, through if through is not None else 2**32 - 1, 0)]
    spans.sort(key=lambda s: (s[0], s[1]))
    merged: list[list[tuple[int, int, int, Path]]] = []
    reach = 0  # the newest ledger of the current group
    for span in spans:
        if merged and span[0] <= reach:
            merged[-1].append(span)
            reach = max(reach, span[1])
        else:
            merged.append([span])
            reach = span[1]
    windows: list[LedgerWindow] = []
    for group in merged:
        low = max(min(s[0] for s in group), after + 1)
        high = max(s[1] for s in group)
        high = high if through is None else min(high, through)
        count = sum(s[2] for s in group)
        pieces = max(1, math.ceil(count / max_rows))
        width = max(1, math.ceil((high - low + 1) / pieces))
        for start in range(low, high + 1, width):
            end = min(high, start + width - 1)
            files = tuple(p for first, last, _, p in group if first <= end and last >= start)
            rows = sum(r for first, last, r, _ in group if first <= end and last >= start)
            windows.append(LedgerWindow(files, start, end, min(rows, math.ceil(count / pieces))))
    return windows


def ledger_bounds(column: str, after: int, through: int | None) -> pc.Expression:
    """``after < column <= through`` as a dataset expression (``through`` None: no upper bound)."""
    bound = pc.field(column) > pa.scalar(after, pa.int64())
    if through is not None:
        bound = bound & (pc.field(column) <= pa.scalar(through, pa.int64()))
    return bound


def scan_window(
    window: LedgerWindow,
    schema: pa.Schema,
    column: str,
    *,
    where: pc.Expression | None,
    batch_rows: int,
) -> Iterator[pa.RecordBatch]:
    """Rows of ``window`` (ledgers ``first..last``) that ``where`` keeps, in batches of <= ``batch_rows``."""
    rows = ds.dataset([str(p) for p in window.files], schema=schema, format="parquet")
    keep = ledger_bounds(column, window.first - 1, window.last)
    if where is not None:
        keep = keep & where
    yield from rows.to_batches(
        filter=keep, batch_size=batch_rows, batch_readahead=0, fragment_readahead=0, use_threads=False
    )
