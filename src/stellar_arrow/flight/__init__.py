"""Arrow Flight services of the pipeline: source (8815), processor (8816) and sink (8817).

Tickets and descriptors carry a versioned JSON :class:`~stellar_arrow.flight.tickets.StreamRequest`;
every stream is a sequence of per-ledger messages with a watermark in ``app_metadata``
(:mod:`stellar_arrow.flight.stream`).
"""

from __future__ import annotations

from stellar_arrow.flight.tickets import (
    StreamRequest,
    TicketError,
    decode_request,
    encode_request,
)

__all__ = ["StreamRequest", "TicketError", "decode_request", "encode_request"]
