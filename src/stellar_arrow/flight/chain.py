"""The hash chain across the ledgers of one decoded Flight stream.

Every stream whose ledgers are decoded (the source's and the processor's table streams) checks that
they arrive consecutively and that each ledger's ``previous_ledger_hash`` is the hash of the ledger
before (:class:`~stellar_arrow.ledger.ChainValidator`); each ledger's own hash was checked against
its header when it was decoded. A resumed stream (``resume_after`` inside the range) is anchored at
the ledger it resumes after, so the check also holds across a consumer's restart: the anchor's link
comes from the shared result cache or, without decoding, from its raw header.
"""

from __future__ import annotations

from stellar_arrow.build import LedgerTables
from stellar_arrow.errors import LedgerGapError
from stellar_arrow.flight.tickets import StreamRequest
from stellar_arrow.ledger.validation import ChainLink, ChainValidator
from stellar_arrow.source.header import read_ledger_header

__all__ = ["StreamChain", "header_link", "resume_anchor"]


def resume_anchor(request: StreamRequest) -> int | None:
    """The ledger a resumed stream's first ledger must link to, or ``None`` at the start of the range."""
    cursor = request.resume_after
    if cursor is None or (request.start_ledger is not None and cursor < request.start_ledger):
        return None
    return cursor


def header_link(lcm: bytes, ledger_sequence: int) -> ChainLink:
    """The chain link of a raw ledger, read from its header without decoding the rest."""
    header = read_ledger_header(lcm, what=f"ledger {ledger_sequence}")
    return ChainLink(header.ledger_sequence, header.ledger_hash, header.previous_ledger_hash)


class StreamChain:
    """Checks one stream's ledgers: the sequence the stream announced, then the hash chain."""

    __slots__ = ("_validator",)

    def __init__(self, anchor: ChainLink | None = None) -> None:
        self._validator = ChainValidator(anchor)

    def anchor(self, link: ChainLink) -> None:
        """Start the chain at ``link`` (the ledger before the first one this stream delivers)."""
        self._validator = ChainValidator(link)

    def check(self, ledger_sequence: int, result: LedgerTables) -> None:
        """Raise :class:`LedgerGapError` / :class:`HashChainError` unless ``result`` continues the chain."""
        if result.link.ledger_sequence != ledger_sequence:
            msg = (
                f"ledger {ledger_sequence}: the decoded ledger is ledger {result.link.ledger_sequence} "
                "(the upstream delivered another ledger under this sequence)"
            )
            raise LedgerGapError(msg, ledger_sequence=ledger_sequence)
        self._validator.check(result.link)
