"""Entry points of the fast decoder: bytes -> model values, with typed errors.

The generated functions (``_decoders.py``) raise a private ``_Bad`` on invalid discriminants,
enum values, flags or lengths, and ``struct.error``/``IndexError`` when they read past the end of
the buffer; here every failure becomes :class:`~stellar_arrow.errors.XdrDecodeError`, and a value
that does not consume its buffer exactly is rejected too.

Decoded trees hold no reference cycles, so the cyclic garbage collector is paused while a value is
built (:func:`gc_paused`): it would otherwise rescan the growing heap again and again.
"""

from __future__ import annotations

import gc
import struct
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

from stellar_arrow.errors import XdrDecodeError
from stellar_arrow.xdr.failure import BadValue
from stellar_arrow.xdr.model import LedgerCloseMeta, LedgerCloseMetaBatch

__all__ = [
    "decode",
    "decode_ledger_close_meta",
    "decode_ledger_close_meta_batch",
    "gc_paused",
    "pure_decoders",
    "skip",
    "walk",
]

T = TypeVar("T")
Decoder = Callable[[bytes, int], tuple[Any, int]]


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause the cyclic GC (re-entrant; restores the previous state)."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def pure_decoders() -> ModuleType:
    """The generated pure-Python decoders, imported on first use (~0.3 s; the compiled path needs none)."""
    from stellar_arrow.xdr import _decoders

    return _decoders


def _as_bytes(data: bytes | bytearray | memoryview) -> bytes:
    return data if type(data) is bytes else bytes(data)


def run_decoder(fn: Decoder, data: bytes, type_name: str, ledger_sequence: int | None = None) -> Any:
    """Run a generated decoder over the whole of ``data`` and translate every failure."""
    try:
        with gc_paused():
            value, end = fn(data, 0)
    except BadValue as exc:
        msg = (
            f"invalid {type_name} XDR{_where(ledger_sequence)}: bad discriminant, enum value, flag or "
            f"length in {exc.type_name} at byte {exc.offset} of {len(data)}"
        )
        raise XdrDecodeError(
            msg, ledger_sequence=ledger_sequence, type_name=exc.type_name, offset=exc.offset
        ) from None
    except (struct.error, IndexError, ValueError, OverflowError, MemoryError) as exc:
        msg = f"truncated or corrupt {type_name} XDR{_where(ledger_sequence)} ({len(data)} bytes): {exc}"
        raise XdrDecodeError(msg, ledger_sequence=ledger_sequence, type_name=type_name) from None
    except RecursionError:
        msg = f"{type_name} XDR{_where(ledger_sequence)} nests too deeply"
        raise XdrDecodeError(msg, ledger_sequence=ledger_sequence, type_name=type_name) from None
    if end != len(data):
        what = "truncated" if end > len(data) else f"{len(data) - end} trailing bytes after"
        msg = f"{what} {type_name} XDR{_where(ledger_sequence)} (decoded {end} of {len(data)} bytes)"
        raise XdrDecodeError(
            msg, ledger_sequence=ledger_sequence, type_name=type_name, offset=min(end, len(data))
        )
    return value


def _where(ledger_sequence: int | None) -> str:
    return "" if ledger_sequence is None else f" of ledger {ledger_sequence}"


def decode(
    type_name: str, data: bytes | bytearray | memoryview, *, ledger_sequence: int | None = None
) -> Any:
    """Decode one value of XDR type ``type_name`` that fills ``data`` exactly."""
    fn = getattr(pure_decoders(), f"d_{type_name}", None)
    if fn is None:
        msg = f"unknown XDR type {type_name!r}"
        raise ValueError(msg)
    return run_decoder(fn, _as_bytes(data), type_name, ledger_sequence)


def skip(type_name: str, data: bytes | bytearray | memoryview) -> int:
    """Walk past one value of ``type_name`` without building it; return the bytes consumed."""
    fn: Callable[[bytes, int], int] = getattr(pure_decoders(), f"s_{type_name}")
    buf = _as_bytes(data)

    def as_decoder(b: bytes, o: int) -> tuple[None, int]:
        return None, fn(b, o)

    run_decoder(as_decoder, buf, type_name)
    return len(buf)


def decode_ledger_close_meta(
    data: bytes | bytearray | memoryview, *, ledger_sequence: int | None = None
) -> LedgerCloseMeta:
    """Decode one ``LedgerCloseMeta`` (V0, V1 or V2)."""
    value: LedgerCloseMeta = run_decoder(
        pure_decoders().d_LedgerCloseMeta, _as_bytes(data), "LedgerCloseMeta", ledger_sequence
    )
    return value


def decode_ledger_close_meta_batch(data: bytes | bytearray | memoryview) -> LedgerCloseMetaBatch:
    """Decode a Galexie ``LedgerCloseMetaBatch`` (already decompressed)."""
    value: LedgerCloseMetaBatch = run_decoder(
        pure_decoders().d_LedgerCloseMetaBatch, _as_bytes(data), "LedgerCloseMetaBatch"
    )
    return value


def walk(type_name: str, data: bytes, offset: int) -> int:
    """Walk past one ``type_name`` value starting at ``offset`` of ``data``; return the offset after it.

    For buffers holding several values back to back (a multi-ledger ``LedgerCloseMetaBatch``).
    """
    fn: Callable[[bytes, int], int] = getattr(pure_decoders(), f"s_{type_name}")
    try:
        end = fn(data, offset)
    except (BadValue, struct.error, IndexError, ValueError, OverflowError, RecursionError) as exc:
        msg = f"corrupt or truncated {type_name} XDR at byte {offset} of {len(data)}: {exc!r}"
        raise XdrDecodeError(msg, type_name=type_name, offset=offset) from None
    if end > len(data):
        msg = f"truncated {type_name} XDR at byte {offset}: needs {end} bytes, buffer has {len(data)}"
        raise XdrDecodeError(msg, type_name=type_name, offset=offset)
    return end
