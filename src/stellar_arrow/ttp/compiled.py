"""The compiled token-transfer rows (``ttp/_fast.pyx``), with the Python derivation as fallback and oracle.

:func:`compiled_batch` returns the ``token_transfers`` batch of a ledger (derived mode) built by the
extension, or ``None`` when the caller must use the Python derivation: the extension is not built, or it
declined the ledger (it raises for anything it does not reproduce exactly, and the Python code then gives
the reference result or error). Declined ledgers are counted by reason (:func:`declined`).
"""

from __future__ import annotations

import importlib
from collections import Counter
from collections.abc import Sequence
from types import ModuleType
from typing import Final

import pyarrow as pa

from stellar_arrow.ledger.network import Network
from stellar_arrow.ledger.view import LedgerTransaction, LedgerView

__all__ = ["compiled_available", "compiled_batch", "declined", "fast_module"]

_MODULE: Final = "stellar_arrow.ttp._fast"
_state: dict[str, ModuleType | None] = {}
_declined: Counter[str] = Counter()


def fast_module() -> ModuleType | None:
    """The extension, or None when it is not built (looked up once per process)."""
    if "module" not in _state:
        try:
            _state["module"] = importlib.import_module(_MODULE)
        except ImportError:
            _state["module"] = None
    return _state["module"]


def compiled_available() -> bool:
    return fast_module() is not None


def compiled_batch(
    view: LedgerView, transactions: Sequence[LedgerTransaction], network: Network
) -> pa.RecordBatch | None:
    """The ledger's ``token_transfers`` rows from compiled code, or None (use the Python derivation)."""
    module = fast_module()
    if module is None:
        return None
    try:
        batch: pa.RecordBatch = module.ledger_batch(view, transactions, network.network_id)
    except Exception as exc:
        _declined[f"{type(exc).__name__}: {exc}"] += 1
        return None
    return batch


def declined() -> Counter[str]:
    """Ledgers the extension left to the Python derivation in this process, by reason (tests, benches)."""
    return _declined
