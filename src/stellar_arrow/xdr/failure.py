"""The one exception the generated decoders (pure-Python and compiled) raise on an invalid value.

Kept in its own small module so the compiled decoder and :mod:`stellar_arrow.xdr.decoding` need not
import the large pure-Python ``_decoders`` module (about 0.3 s of start-up) just for this class.
"""

from __future__ import annotations

__all__ = ["BadValue"]


class BadValue(Exception):
    """An invalid discriminant, enum value, flag or length of ``type_name`` at byte ``offset``."""

    def __init__(self, type_name: str, offset: int) -> None:
        super().__init__(type_name, offset)
        self.type_name = type_name
        self.offset = offset
