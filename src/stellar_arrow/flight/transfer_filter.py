"""Applying a ticket's :class:`~stellar_arrow.flight.tickets.TransferFilter` to ``token_transfers`` rows.

The filtering itself is :func:`stellar_arrow.ttp.filters.filter_batch` (columns read by name); this is
the adapter the processor service is given.
"""

from __future__ import annotations

import pyarrow as pa

from stellar_arrow.flight.tickets import TransferFilter
from stellar_arrow.ttp.filters import filter_batch

__all__ = ["filter_transfers"]


def filter_transfers(batch: pa.RecordBatch, rules: TransferFilter) -> pa.RecordBatch:
    """The rows of ``batch`` that pass every non-empty rule of ``rules``."""
    if rules.is_empty or batch.num_rows == 0:
        return batch
    return filter_batch(batch, rules.event_filter())
