"""Decoding profiles: walk past the types a run does not need instead of building them.

A profile is a set of XDR type names. :func:`decoder_for` returns a ``LedgerCloseMeta`` decoder in
which every value of those types is skipped by the generated skip-walker and decodes as ``None``
(arrays keep their length). It copies the generated module's namespace, swaps ``d_<Type>`` for a
skipping stand-in and re-binds every generated function to the copy, so the rest of the decoder is
the same code, with no per-call test.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterable
from functools import cache
from typing import Any

from stellar_arrow.xdr.decoding import _as_bytes, pure_decoders, run_decoder
from stellar_arrow.xdr.model import LedgerCloseMeta

__all__ = ["FULL_PROFILE", "TABLES_PROFILE", "decoder_for"]

FULL_PROFILE: frozenset[str] = frozenset()
"""Build everything."""

TABLES_PROFILE: frozenset[str] = frozenset(
    {
        "LedgerEntryChange",
        "ContractEvent",
        "DiagnosticEvent",
        "TransactionEvent",
        "SCPHistoryEntry",
    }
)
"""What the ledgers/transactions/operations tables never read: entry changes, events and SCP
history. Envelopes, results, fee breakdowns and return values are still built."""


def _skipping(skipper: Callable[[bytes, int], int]) -> Callable[[bytes, int], tuple[None, int]]:
    def decode_skipped(b: bytes, o: int) -> tuple[None, int]:
        return None, skipper(b, o)

    return decode_skipped


def _namespace(skip_types: frozenset[str]) -> dict[str, Any]:
    decoders = pure_decoders()
    source = vars(decoders)
    unknown = [t for t in skip_types if f"s_{t}" not in source]
    if unknown:
        msg = f"unknown XDR types in profile: {sorted(unknown)}"
        raise ValueError(msg)
    inlined = sorted(skip_types & source["_INLINED"])
    if inlined:
        msg = f"XDR types decoded in place by their parents cannot be skipped by a profile: {inlined}"
        raise ValueError(msg)
    ns: dict[str, Any] = dict(source)
    rebound: dict[int, Any] = {}
    for name, value in source.items():
        if isinstance(value, types.FunctionType) and value.__module__ == decoders.__name__:
            fn = types.FunctionType(value.__code__, ns, value.__name__, value.__defaults__, value.__closure__)
            ns[name] = fn
            rebound[id(value)] = fn
    for t in skip_types:
        ns[f"d_{t}"] = _skipping(ns[f"s_{t}"])
        rebound[id(source[f"d_{t}"])] = ns[f"d_{t}"]
    for name, value in source.items():
        if name.startswith("_A_") and isinstance(value, dict):
            ns[name] = {case: rebound.get(id(fn), fn) for case, fn in value.items()}
    return ns


@cache
def _profile_decoder(skip_types: frozenset[str]) -> Callable[[bytes, int], tuple[Any, int]]:
    if not skip_types:
        full: Callable[[bytes, int], tuple[Any, int]] = pure_decoders().d_LedgerCloseMeta
        return full
    fn: Callable[[bytes, int], tuple[Any, int]] = _namespace(skip_types)["d_LedgerCloseMeta"]
    return fn


def decoder_for(skip_types: Iterable[str]) -> Callable[..., LedgerCloseMeta]:
    """A ``LedgerCloseMeta`` decoder that skips ``skip_types`` (see module docstring)."""
    fn = _profile_decoder(frozenset(skip_types))

    def decode_ledger(
        data: bytes | bytearray | memoryview, *, ledger_sequence: int | None = None
    ) -> LedgerCloseMeta:
        value: LedgerCloseMeta = run_decoder(fn, _as_bytes(data), "LedgerCloseMeta", ledger_sequence)
        return value

    return decode_ledger
