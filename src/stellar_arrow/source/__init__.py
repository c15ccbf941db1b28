"""Ledger sources: everything that produces raw ``LedgerCloseMeta`` bytes in ledger order.

* :class:`DataLakeLedgerSource`: a Galexie / SEP-54 lake (local folder, ``s3://``, ``gs://``, ``https://``).
* :class:`RpcLedgerSource`: Stellar RPC ``getLedgers``.
* :func:`read_ledger_file`: every LCM in one corpus file (gz, zstd batch, framed stream, base64 lines, raw).

Both sources implement :class:`LedgerSource` and yield :class:`RawLedger` ``(ledger_sequence, lcm_bytes)``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from stellar_arrow.source.base import LedgerSource, RawLedger

if TYPE_CHECKING:
    from stellar_arrow.source.files import read_ledger_file
    from stellar_arrow.source.lake import DataLakeLedgerSource
    from stellar_arrow.source.rpc import RpcLedgerSource

__all__ = ["DataLakeLedgerSource", "LedgerSource", "RawLedger", "RpcLedgerSource", "read_ledger_file"]

# imported on first use: a process reading a lake does not load the RPC client (httpx), and the reverse
_HOMES = {
    "DataLakeLedgerSource": "stellar_arrow.source.lake",
    "RpcLedgerSource": "stellar_arrow.source.rpc",
    "read_ledger_file": "stellar_arrow.source.files",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        msg = f"module {__name__!r} has no attribute {name!r}"
        raise AttributeError(msg)
    return getattr(importlib.import_module(home), name)
