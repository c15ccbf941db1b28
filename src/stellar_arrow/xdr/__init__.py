"""Pure XDR decoding: LedgerCloseMeta bytes -> light model values (no I/O).

The decoder is generated from Stellar's machine-readable XDR schema by :mod:`.codegen`;
:mod:`.model` holds one class per XDR type, named and shaped as stellar-sdk names them.
Names are loaded on first use, so the code generator can run even while the generated modules
are being rewritten.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from stellar_arrow.xdr import model
    from stellar_arrow.xdr.decoding import (
        decode,
        decode_ledger_close_meta,
        decode_ledger_close_meta_batch,
        gc_paused,
        skip,
        walk,
    )
    from stellar_arrow.xdr.sdk import from_sdk, sdk_decode

__all__ = [
    "decode",
    "decode_ledger_close_meta",
    "decode_ledger_close_meta_batch",
    "from_sdk",
    "gc_paused",
    "model",
    "sdk_decode",
    "skip",
    "walk",
]

_HOME = {
    "decode": "stellar_arrow.xdr.decoding",
    "decode_ledger_close_meta": "stellar_arrow.xdr.decoding",
    "decode_ledger_close_meta_batch": "stellar_arrow.xdr.decoding",
    "gc_paused": "stellar_arrow.xdr.decoding",
    "skip": "stellar_arrow.xdr.decoding",
    "walk": "stellar_arrow.xdr.decoding",
    "from_sdk": "stellar_arrow.xdr.sdk",
    "sdk_decode": "stellar_arrow.xdr.sdk",
}


def __getattr__(name: str) -> Any:
    if name == "model":
        return importlib.import_module("stellar_arrow.xdr.model")
    home = _HOME.get(name)
    if home is None:
        msg = f"module 'stellar_arrow.xdr' has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(home), name)
