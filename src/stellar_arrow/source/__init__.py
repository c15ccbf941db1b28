"""Ledger sources: everything that produces raw ``LedgerCloseMeta`` bytes in ledger order.

* :class:`DataLakeLedgerSource`: a Galexie / SEP-54 lake (local folder, ``s3://``, ``gs://``, ``https://``).
* :class:`RpcLedgerSource`: Stellar RPC ``getLedgers``.
* :func:`read_ledger_file`: every LCM in one corpus file (gz, zstd batch, framed stream, base64 lines, raw).

Both sources implement :class:`LedgerSource` and yield :class:`RawLedger` ``(ledger_sequence, lcm_bytes)``.
"""

from __future__ import annotations

from stellar_arrow.source.base import LedgerSource, RawLedger
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.source.rpc import RpcLedgerSource

__all__ = ["DataLakeLedgerSource", "LedgerSource", "RawLedger", "RpcLedgerSource", "read_ledger_file"]
