"""The SEP-54 lake manifest ``<root>/.config.json``: parse, check against local settings, serialise."""

from __future__ import annotations

import json
from dataclasses import dataclass

from stellar_arrow.errors import ConfigError, LedgerObjectError, NetworkMismatchError

__all__ = ["MANIFEST_NAME", "LakeManifest", "parse_manifest"]

MANIFEST_NAME = ".config.json"


@dataclass(frozen=True, slots=True)
class LakeManifest:
    """The manifest fields Galexie writes (``version`` "1.0", ``compression`` "zstd")."""

    network_passphrase: str
    ledgers_per_batch: int
    batches_per_partition: int
    compression: str = "zstd"
    version: str = "1.0"

    def to_json(self) -> bytes:
        """Stable serialisation (sorted keys), as committed in the sample lakes."""
        body = {
            "batchesPerPartition": self.batches_per_partition,
            "compression": self.compression,
            "ledgersPerBatch": self.ledgers_per_batch,
            "networkPassphrase": self.network_passphrase,
            "version": self.version,
        }
        return (json.dumps(body, indent=2, sort_keys=True) + "\n").encode()

    def check(
        self,
        *,
        where: str,
        network_passphrase: str | None = None,
        ledgers_per_batch: int | None = None,
        batches_per_partition: int | None = None,
    ) -> None:
        """Compare only the settings the caller gave (Galexie semantics); raise naming the field."""
        if network_passphrase is not None and network_passphrase != self.network_passphrase:
            msg = (
                f"{where}: manifest networkPassphrase {self.network_passphrase!r} differs from the "
                f"configured {network_passphrase!r}"
            )
            raise NetworkMismatchError(msg)
        for field, mine, theirs in (
            ("ledgersPerBatch", self.ledgers_per_batch, ledgers_per_batch),
            ("batchesPerPartition", self.batches_per_partition, batches_per_partition),
        ):
            if theirs is not None and theirs != mine:
                msg = f"{where}: manifest {field} is {mine} but {theirs} was configured"
                raise ConfigError(msg, key=field)


def _positive_int(body: dict[str, object], field: str, where: str) -> int:
    value = body.get(field)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        msg = f"{where}: manifest field {field!r} must be a positive integer, got {value!r}"
        raise LedgerObjectError(msg, object_key=where)
    return value


def parse_manifest(data: bytes, *, where: str) -> LakeManifest:
    """Parse ``.config.json`` bytes; ``where`` (the object's URI) is named in every error."""
    try:
        body = json.loads(data)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        msg = f"{where}: manifest is not valid JSON: {exc}"
        raise LedgerObjectError(msg, object_key=where) from exc
    if not isinstance(body, dict):
        msg = f"{where}: manifest must be a JSON object, got {type(body).__name__}"
        raise LedgerObjectError(msg, object_key=where)
    passphrase = body.get("networkPassphrase")
    if not isinstance(passphrase, str) or not passphrase:
        msg = f"{where}: manifest field 'networkPassphrase' must be a non-empty string, got {passphrase!r}"
        raise LedgerObjectError(msg, object_key=where)
    compression = body.get("compression", "zstd")
    if compression != "zstd":
        msg = f"{where}: manifest compression {compression!r} is not supported (only 'zstd')"
        raise LedgerObjectError(msg, object_key=where)
    version = body.get("version", "")
    return LakeManifest(
        network_passphrase=passphrase,
        ledgers_per_batch=_positive_int(body, "ledgersPerBatch", where),
        batches_per_partition=_positive_int(body, "batchesPerPartition", where),
        compression=compression,
        version=str(version),
    )
