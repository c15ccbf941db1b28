"""Read the ledger header at the front of a raw ``LedgerCloseMeta`` without decoding the rest.

The header sits at a fixed position in every arm (V0: right after the discriminant; V1/V2: after
the small ``LedgerCloseMetaExt`` union), so the sequence, hash, close time and the exact
``LedgerHeaderHistoryEntry`` bytes can be sliced out in microseconds. Pure: bytes in, value out.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from stellar_arrow.errors import XdrDecodeError

__all__ = ["LedgerHeaderInfo", "read_ledger_header"]

_U32 = struct.Struct(">I")
_U64 = struct.Struct(">Q")


@dataclass(frozen=True, slots=True)
class LedgerHeaderInfo:
    """The header facts a source needs: identity, time and the raw history entry."""

    ledger_sequence: int
    ledger_hash: bytes
    previous_ledger_hash: bytes
    close_time: int
    protocol_version: int
    meta_version: int
    header_entry_xdr: bytes  # LedgerHeaderHistoryEntry, exactly as stored in the LCM
    header_xdr: bytes  # LedgerHeader alone


class _Cursor:
    __slots__ = ("data", "pos", "what")

    def __init__(self, data: bytes, pos: int, what: str) -> None:
        self.data = data
        self.pos = pos
        self.what = what

    def need(self, n: int, field: str) -> None:
        if self.pos + n > len(self.data):
            msg = f"{self.what}: truncated LedgerCloseMeta header at byte {self.pos} reading {field}"
            raise XdrDecodeError(msg, type_name="LedgerCloseMeta", offset=self.pos)

    def u32(self, field: str) -> int:
        self.need(4, field)
        (value,) = _U32.unpack_from(self.data, self.pos)
        self.pos += 4
        return int(value)

    def u64(self, field: str) -> int:
        self.need(8, field)
        (value,) = _U64.unpack_from(self.data, self.pos)
        self.pos += 8
        return int(value)

    def fixed(self, n: int, field: str) -> bytes:
        self.need(n, field)
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def var_opaque(self, max_len: int, field: str) -> None:
        length = self.u32(field)
        if length > max_len:
            msg = f"{self.what}: {field} length {length} exceeds {max_len} at byte {self.pos - 4}"
            raise XdrDecodeError(msg, type_name="LedgerCloseMeta", offset=self.pos - 4)
        self.fixed((length + 3) & ~3, field)

    def discriminant(self, allowed: tuple[int, ...], field: str) -> int:
        value = self.u32(field)
        if value not in allowed:
            msg = f"{self.what}: unknown {field} arm {value} at byte {self.pos - 4}"
            raise XdrDecodeError(msg, type_name="LedgerCloseMeta", offset=self.pos - 4)
        return value


def _skip_value_signature(cur: _Cursor) -> None:
    cur.discriminant((0,), "NodeID type")
    cur.fixed(32, "NodeID key")
    cur.var_opaque(64, "lcValueSignature.signature")


def read_ledger_header(lcm: bytes, *, what: str = "LedgerCloseMeta") -> LedgerHeaderInfo:
    """Slice the header out of one raw LCM; ``what`` names the ledger/object in error messages."""
    cur = _Cursor(lcm, 0, what)
    meta_version = cur.discriminant((0, 1, 2), "LedgerCloseMeta.v")
    if meta_version in (1, 2) and cur.discriminant((0, 1), "LedgerCloseMetaExt.v") == 1:
        cur.discriminant((0,), "LedgerCloseMetaExtV1.ext")
        cur.fixed(8, "sorobanFeeWrite1KB")
    entry_start = cur.pos
    ledger_hash = cur.fixed(32, "LedgerHeaderHistoryEntry.hash")
    header_start = cur.pos
    protocol_version = cur.u32("ledgerVersion")
    previous_ledger_hash = cur.fixed(32, "previousLedgerHash")
    cur.fixed(32, "scpValue.txSetHash")
    close_time = cur.u64("scpValue.closeTime")
    upgrades = cur.u32("scpValue.upgrades")
    if upgrades > 6:
        msg = f"{what}: scpValue.upgrades count {upgrades} exceeds 6"
        raise XdrDecodeError(msg, type_name="LedgerCloseMeta", offset=cur.pos - 4)
    for _ in range(upgrades):
        cur.var_opaque(128, "scpValue.upgrades[]")
    value_type = cur.discriminant((0, 1, 2), "StellarValue.ext")
    if value_type == 1:
        _skip_value_signature(cur)
    elif value_type == 2:
        cur.fixed(64, "proposedValue hashes")
        cur.u32("proposedValue.previousLedgerVersion")
        _skip_value_signature(cur)
    cur.fixed(64, "txSetResultHash+bucketListHash")
    ledger_sequence = cur.u32("ledgerSeq")
    cur.fixed(8 + 8 + 4 + 8 + 4 + 4 + 4 + 4 * 32, "header counters and skipList")
    if cur.discriminant((0, 1), "LedgerHeader.ext") == 1:
        cur.u32("LedgerHeaderExtensionV1.flags")
        cur.discriminant((0,), "LedgerHeaderExtensionV1.ext")
    header_end = cur.pos
    cur.discriminant((0,), "LedgerHeaderHistoryEntry.ext")
    return LedgerHeaderInfo(
        ledger_sequence=ledger_sequence,
        ledger_hash=ledger_hash,
        previous_ledger_hash=previous_ledger_hash,
        close_time=close_time,
        protocol_version=protocol_version,
        meta_version=meta_version,
        header_entry_xdr=lcm[entry_start : cur.pos],
        header_xdr=lcm[header_start:header_end],
    )
