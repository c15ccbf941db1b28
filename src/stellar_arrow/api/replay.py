"""History pages for a WebSocket replay: committed files then live rows, filtered at the read, bounded.

:meth:`ReplayHistory.after` takes one consistent :class:`~stellar_arrow.sink.base.TableView` of
``token_transfers`` and returns a :class:`ReplayPages` cursor. Each :meth:`ReplayPages.next_page` (blocking:
run it in a thread) returns the next at most ``page_rows`` events after the cursor ledger, in
``(ledger_sequence, event_index)`` order, with the subscription's filter pushed down into the Parquet scan
(:func:`~stellar_arrow.query.filter_expression`): committed files are read one ledger window at a time
(:func:`~stellar_arrow.sink.scan.ledger_windows`: about ``window_rows`` rows, sorted in memory), then the
view's not-yet-committed rows. Nothing reads the whole history; memory is one window plus one page.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Final

import pyarrow as pa
import pyarrow.compute as pc

from stellar_arrow.query import TransferFilter, filter_expression, filter_rows
from stellar_arrow.sink.base import TableReader, TableView
from stellar_arrow.sink.scan import ledger_windows, scan_window
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_TABLE

__all__ = ["ReplayHistory", "ReplayPages"]

_ORDER: Final = [("ledger_sequence", "ascending"), ("event_index", "ascending")]
_LEDGER: Final = "ledger_sequence"


class ReplayPages:
    """The events of one view after ledger ``after`` that ``rules`` keep, page by page."""

    def __init__(
        self, view: TableView, after: int, rules: TransferFilter, *, page_rows: int, window_rows: int
    ) -> None:
        self._view = view
        self._after = after
        self._rules = rules
        self._page_rows = page_rows
        self._window_rows = window_rows
        self._pieces: Iterator[pa.Table] | None = None
        self._held: pa.Table | None = None
        #: The newest ledger the view holds (what a client has once the replay is done).
        self.through = max(view.last_ledger or 0, after)

    def _sorted_pieces(self) -> Iterator[pa.Table]:
        view, schema = self._view, self._view.schema
        where = None if self._rules.is_empty else filter_expression(self._rules, schema)
        windows = ledger_windows(view.files, _LEDGER, max_rows=self._window_rows, after=self._after)
        for window in windows:
            batches = list(scan_window(window, schema, _LEDGER, where=where, batch_rows=self._window_rows))
            rows = pa.Table.from_batches(batches, schema=schema)
            if rows.num_rows:
                yield rows.sort_by(_ORDER)
        live = view.live
        if live.num_rows:
            live = filter_rows(live.filter(pc.greater(live[_LEDGER], self._after)), self._rules)
            if live.num_rows:
                yield live.sort_by(_ORDER)

    def next_page(self) -> pa.Table | None:
        """The next page (1..``page_rows`` rows), or ``None`` when the view is exhausted."""
        if self._pieces is None:
            self._pieces = self._sorted_pieces()
        while self._held is None or self._held.num_rows == 0:
            self._held = next(self._pieces, None)
            if self._held is None:
                return None
        page = self._held.slice(0, self._page_rows)
        self._held = self._held.slice(self._page_rows)
        return page


class ReplayHistory:
    """Opens :class:`ReplayPages` over a reader's ``token_transfers``."""

    def __init__(self, reader: TableReader, *, page_rows: int, window_rows: int = 50_000) -> None:
        self._reader = reader
        self._page_rows = page_rows
        self._window_rows = max(window_rows, page_rows)

    def after(self, ledger_sequence: int, rules: TransferFilter) -> ReplayPages:
        """Pages of the events after ledger ``ledger_sequence`` (the view is taken now)."""
        view = self._reader.view(TOKEN_TRANSFERS_TABLE)
        return ReplayPages(
            view, ledger_sequence, rules, page_rows=self._page_rows, window_rows=self._window_rows
        )
