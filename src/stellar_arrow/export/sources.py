"""Open the ledger source an export names: a lake (path or URI), a Stellar RPC URL, or one corpus file.

* ``http://`` / ``https://`` -> Stellar RPC (``lake+https://...`` for a lake served over HTTPS);
* ``s3://``, ``gs://``, ``file://`` or a local folder -> SEP-54 data lake;
* a local file -> every ledger it holds (any corpus format, :func:`read_ledger_file`).

Also settles the network: the one asked for (``--network``) must agree with the one the source
declares (lake manifest, RPC ``getNetwork``); without either, it is detected from the ledgers.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from stellar_arrow.errors import LedgerMissingError
from stellar_arrow.source.base import RawLedger
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.header import read_ledger_header

__all__ = ["FileLedgerSource", "declared_passphrase", "open_source"]


class FileLedgerSource:
    """The ledgers of one local file, served like a source (bounded ranges only)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self.network_passphrase: str | None = None
        lcms = read_ledger_file(self.path)
        self._by_sequence: dict[int, bytes] = {}
        for lcm in lcms:
            seq = read_ledger_header(lcm, what=str(self.path)).ledger_sequence
            self._by_sequence[seq] = lcm

    def ledgers(self, start: int, end: int | None = None) -> Iterator[RawLedger]:
        last = self.latest_ledger() if end is None else end
        for seq in range(start, last + 1):
            data = self._by_sequence.get(seq)
            if data is None:
                msg = f"{self.path}: holds no ledger {seq}"
                raise LedgerMissingError(msg, ledger_sequence=seq, object_key=str(self.path))
            yield RawLedger(seq, data)

    def latest_ledger(self) -> int:
        return max(self._by_sequence)

    def first_ledger(self) -> int:
        return min(self._by_sequence)

    def stop(self) -> None:
        return None

    def close(self) -> None:
        return None


def open_source(
    spec: str,
    *,
    network_passphrase: str | None = None,
    storage_options: Mapping[str, Any] | None = None,
    ledgers_per_batch: int | None = None,
    batches_per_partition: int | None = None,
) -> Any:
    """The source named by ``spec``; ``network_passphrase`` is checked against what it declares.

    ``storage_options`` go to fsspec for a lake (``endpoint_url``, ``key``/``secret``, ``anon``);
    ``ledgers_per_batch``/``batches_per_partition`` describe a lake without a manifest (pre-v23 Galexie).
    """
    if spec.startswith(("http://", "https://")):
        from stellar_arrow.source.rpc import RpcLedgerSource

        return RpcLedgerSource(spec, network_passphrase=network_passphrase)
    from stellar_arrow.source.lake import DataLakeLedgerSource

    if spec.startswith("lake+"):
        spec = spec.removeprefix("lake+")
    elif "://" not in spec and Path(spec).is_file():
        return FileLedgerSource(spec)
    return DataLakeLedgerSource(
        spec,
        network_passphrase=network_passphrase,
        storage_options=storage_options,
        ledgers_per_batch=ledgers_per_batch,
        batches_per_partition=batches_per_partition,
    )


def declared_passphrase(source: Any) -> str | None:
    """The passphrase the source declares (lake manifest, RPC ``getNetwork``), if any."""
    passphrase = getattr(source, "network_passphrase", None)
    return passphrase if isinstance(passphrase, str) else None
