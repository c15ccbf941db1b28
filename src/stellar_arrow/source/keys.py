"""SEP-54 object keys: computed from a ledger sequence, and parsed back from an object name.

``L`` = ledgers per batch, ``F`` = batches per partition, ``M`` = 0xFFFFFFFF. A batch starting at
``fs = s // L * L`` is named ``%08X(M - fs)--fs[-fe].xdr.<ext>``; when ``F > 1`` it lives in the
partition folder ``%08X(M - ps)--ps-pe/`` with ``ps = s // (L*F) * (L*F)``. Pure functions.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from stellar_arrow.errors import ConfigError

__all__ = ["BatchKey", "LakeSchema", "ParsedObjectName", "parse_object_name"]

_MAX_UINT32 = 0xFFFFFFFF
_NAME = re.compile(r"^([0-9A-Fa-f]{8})--(\d+)(?:-(\d+))?\.xdr\.([A-Za-z0-9]+)$")


@dataclass(frozen=True, slots=True)
class BatchKey:
    """One object's position: the ledgers its name covers and its key relative to the lake root."""

    first_ledger: int  # file boundary (the name's low); the batch may start later (startSequence)
    last_ledger: int
    key: str


@dataclass(frozen=True, slots=True)
class LakeSchema:
    """How a lake lays out its objects (from ``.config.json`` or user settings)."""

    ledgers_per_batch: int
    batches_per_partition: int
    extension: str = "zst"  # without the leading "xdr.": "zst" (SEP-54) or "zstd" (Galexie < v23)

    def __post_init__(self) -> None:
        if self.ledgers_per_batch < 1:
            msg = f"ledgers_per_batch must be >= 1, got {self.ledgers_per_batch}"
            raise ConfigError(msg, key="ledgers_per_batch")
        if self.batches_per_partition < 1:
            msg = f"batches_per_partition must be >= 1, got {self.batches_per_partition}"
            raise ConfigError(msg, key="batches_per_partition")
        if not re.fullmatch(r"[A-Za-z0-9]+", self.extension):
            msg = f"extension must be like 'zst' or 'zstd', got {self.extension!r}"
            raise ConfigError(msg, key="extension")

    def batch_start(self, ledger_sequence: int) -> int:
        """The file boundary of the batch holding ``ledger_sequence``."""
        return ledger_sequence // self.ledgers_per_batch * self.ledgers_per_batch

    def batch_key(self, ledger_sequence: int) -> BatchKey:
        """The key of the object holding ``ledger_sequence``, relative to the lake root."""
        if not 0 <= ledger_sequence <= _MAX_UINT32:
            msg = f"ledger sequence {ledger_sequence} is not a uint32"
            raise ConfigError(msg, key="ledger_sequence")
        size = self.ledgers_per_batch
        first = ledger_sequence // size * size
        last = first + size - 1
        name = f"{_MAX_UINT32 - first:08X}--{first}"
        if last != first:
            name += f"-{last}"
        name += f".xdr.{self.extension}"
        if self.batches_per_partition > 1:
            span = size * self.batches_per_partition
            part_first = ledger_sequence // span * span
            part_last = part_first + span - 1
            name = f"{_MAX_UINT32 - part_first:08X}--{part_first}-{part_last}/{name}"
        return BatchKey(first_ledger=first, last_ledger=last, key=name)


@dataclass(frozen=True, slots=True)
class ParsedObjectName:
    """What a valid SEP-54 base name says: the covered range and the compression extension."""

    low: int
    high: int
    extension: str


def parse_object_name(base_name: str) -> ParsedObjectName | None:
    """Parse a base name like ``FC4DB5FF--62016000.xdr.zst``; None for anything else (e.g. .config.json)."""
    match = _NAME.match(base_name)
    if match is None:
        return None
    low = int(match.group(2))
    high = int(match.group(3)) if match.group(3) is not None else low
    if high < low:
        return None
    return ParsedObjectName(low=low, high=high, extension=match.group(4))
