"""``LedgerCloseMetaBatch`` (the SEP-54 object payload): split into per-ledger bytes, and build one.

XDR: ``uint32 startSequence; uint32 endSequence; LedgerCloseMeta ledgerCloseMetas<>``. A one-ledger
batch is split by slicing; in a multi-ledger batch the generated skip walker finds each LCM's length.
Every ledger's own header sequence is checked against ``startSequence + index``. Pure: bytes in.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from stellar_arrow.errors import LedgerObjectError, XdrDecodeError
from stellar_arrow.source.header import read_ledger_header

__all__ = ["LedgerBatch", "encode_ledger_close_meta_batch", "split_ledger_close_meta_batch"]

_HEAD = struct.Struct(">III")


@dataclass(frozen=True, slots=True)
class LedgerBatch:
    """One decoded batch envelope: its declared range and the raw bytes of each ledger in order."""

    start_sequence: int
    end_sequence: int
    ledger_close_metas: tuple[bytes, ...]

    def ledger(self, ledger_sequence: int, *, object_name: str) -> bytes:
        """The LCM bytes of ``ledger_sequence``, indexed as ``seq - startSequence`` with bounds checks."""
        index = ledger_sequence - self.start_sequence
        if not (self.start_sequence <= ledger_sequence <= self.end_sequence) or not (
            0 <= index < len(self.ledger_close_metas)
        ):
            msg = (
                f"{object_name}: ledger {ledger_sequence} is outside the batch "
                f"[{self.start_sequence}, {self.end_sequence}] holding {len(self.ledger_close_metas)} ledgers"
            )
            raise LedgerObjectError(msg, ledger_sequence=ledger_sequence, object_key=object_name)
        return self.ledger_close_metas[index]


def _lcm_lengths(data: bytes, count: int, object_name: str) -> list[int]:
    """Lengths of ``count`` consecutive LCMs from byte 12, walked by the generated skip functions."""
    from stellar_arrow.xdr import walk  # imported when first needed: a large generated module

    lengths: list[int] = []
    offset = 12
    for index in range(count):
        try:
            end = walk("LedgerCloseMeta", data, offset)
        except XdrDecodeError as exc:
            msg = f"{object_name}: LedgerCloseMeta #{index} of the batch is corrupt or truncated ({exc})"
            raise LedgerObjectError(msg, object_key=object_name) from exc
        if end > len(data):
            msg = f"{object_name}: LedgerCloseMeta #{index} of the batch is truncated"
            msg += f" (needs {end} bytes, object has {len(data)})"
            raise LedgerObjectError(msg, object_key=object_name)
        lengths.append(end - offset)
        offset = end
    return lengths


def split_ledger_close_meta_batch(data: bytes, *, object_name: str) -> LedgerBatch:
    """Split an uncompressed batch into per-ledger LCM bytes; errors name ``object_name``."""
    if len(data) < _HEAD.size:
        msg = f"{object_name}: LedgerCloseMetaBatch truncated ({len(data)} bytes, need at least 12)"
        raise LedgerObjectError(msg, object_key=object_name)
    start, end, count = _HEAD.unpack_from(data, 0)
    if end < start or count != end - start + 1:
        msg = f"{object_name}: LedgerCloseMetaBatch declares range [{start}, {end}] but holds {count} ledgers"
        raise LedgerObjectError(msg, ledger_sequence=start, object_key=object_name)
    if count == 1:
        metas: list[bytes] = [data[12:]]
    else:
        offset = 12
        metas = []
        for length in _lcm_lengths(data, count, object_name):
            metas.append(data[offset : offset + length])
            offset += length
        if offset != len(data):
            msg = f"{object_name}: {len(data) - offset} trailing bytes after {count} ledgers"
            raise LedgerObjectError(msg, ledger_sequence=start, object_key=object_name)
    for index, lcm in enumerate(metas):
        expected = start + index
        try:
            header = read_ledger_header(lcm, what=f"{object_name} ledger #{index}")
        except XdrDecodeError as exc:
            raise LedgerObjectError(str(exc), ledger_sequence=expected, object_key=object_name) from exc
        if header.ledger_sequence != expected:
            msg = (
                f"{object_name}: ledger #{index} of the batch has sequence {header.ledger_sequence}, "
                f"expected {expected} (batch range [{start}, {end}])"
            )
            raise LedgerObjectError(msg, ledger_sequence=expected, object_key=object_name)
    return LedgerBatch(start_sequence=start, end_sequence=end, ledger_close_metas=tuple(metas))


def encode_ledger_close_meta_batch(start_sequence: int, end_sequence: int, lcms: Sequence[bytes]) -> bytes:
    """The XDR of a batch holding ``lcms`` (already-encoded LedgerCloseMeta values)."""
    return _HEAD.pack(start_sequence, end_sequence, len(lcms)) + b"".join(lcms)
