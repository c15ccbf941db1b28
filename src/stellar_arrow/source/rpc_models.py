"""Typed values of Stellar RPC replies, parsed and checked field by field (pure).

Every malformed reply becomes :class:`~stellar_arrow.errors.RpcRequestError` naming the method and
the field. Timestamps are accepted as numbers or decimal strings (RPC uses both).
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Any, NoReturn

from stellar_arrow.errors import RpcRequestError

__all__ = ["HealthStatus", "LatestLedger", "LedgerPage", "NetworkInfo", "RpcLedger"]


@dataclass(frozen=True, slots=True)
class RpcLedger:
    """One entry of ``getLedgers``: identity, close time and the raw XDR."""

    ledger_sequence: int
    ledger_hash: str
    close_time: int
    header_xdr: bytes  # LedgerHeaderHistoryEntry
    ledger_close_meta: bytes


@dataclass(frozen=True, slots=True)
class LedgerPage:
    """A ``getLedgers`` reply."""

    ledgers: tuple[RpcLedger, ...]
    latest_ledger: int
    oldest_ledger: int
    cursor: str

    @classmethod
    def parse(cls, result: object) -> LedgerPage:
        body = _object(result, "getLedgers", "result")
        entries = body.get("ledgers")
        if not isinstance(entries, list):
            _bad("getLedgers", "result.ledgers", entries, "a list")
        ledgers = tuple(_ledger(entry, index) for index, entry in enumerate(entries))
        return cls(
            ledgers=ledgers,
            latest_ledger=_int(body, "latestLedger", "getLedgers"),
            oldest_ledger=_int(body, "oldestLedger", "getLedgers"),
            cursor=_str(body, "cursor", "getLedgers"),
        )


@dataclass(frozen=True, slots=True)
class HealthStatus:
    """A ``getHealth`` reply."""

    status: str
    latest_ledger: int
    oldest_ledger: int
    ledger_retention_window: int

    @classmethod
    def parse(cls, result: object) -> HealthStatus:
        body = _object(result, "getHealth", "result")
        return cls(
            status=_str(body, "status", "getHealth"),
            latest_ledger=_int(body, "latestLedger", "getHealth"),
            oldest_ledger=_int(body, "oldestLedger", "getHealth"),
            ledger_retention_window=_int(body, "ledgerRetentionWindow", "getHealth"),
        )


@dataclass(frozen=True, slots=True)
class NetworkInfo:
    """A ``getNetwork`` reply."""

    passphrase: str
    protocol_version: int
    friendbot_url: str | None

    @classmethod
    def parse(cls, result: object) -> NetworkInfo:
        body = _object(result, "getNetwork", "result")
        friendbot = body.get("friendbotUrl")
        return cls(
            passphrase=_str(body, "passphrase", "getNetwork"),
            protocol_version=_int(body, "protocolVersion", "getNetwork"),
            friendbot_url=friendbot if isinstance(friendbot, str) else None,
        )


@dataclass(frozen=True, slots=True)
class LatestLedger:
    """A ``getLatestLedger`` reply (only the light fields)."""

    ledger_sequence: int
    ledger_hash: str
    protocol_version: int

    @classmethod
    def parse(cls, result: object) -> LatestLedger:
        body = _object(result, "getLatestLedger", "result")
        return cls(
            ledger_sequence=_int(body, "sequence", "getLatestLedger"),
            ledger_hash=_str(body, "id", "getLatestLedger"),
            protocol_version=_int(body, "protocolVersion", "getLatestLedger"),
        )


def _bad(method: str, field: str, value: object, expected: str) -> NoReturn:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    msg = f"malformed {method} reply: {field} should be {expected}, got {shown}"
    raise RpcRequestError(msg, method=method)


def _object(value: object, method: str, field: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        _bad(method, field, value, "an object")
    return value


def _int(body: dict[str, Any], field: str, method: str, where: str = "result") -> int:
    value = body.get(field)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        return int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        _bad(method, f"{where}.{field}", value, "a non-negative integer")
    return value


def _str(body: dict[str, Any], field: str, method: str, where: str = "result") -> str:
    value = body.get(field)
    if not isinstance(value, str):
        _bad(method, f"{where}.{field}", value, "a string")
    return value


def _b64(body: dict[str, Any], field: str, where: str) -> bytes:
    text = _str(body, field, "getLedgers", where)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        _bad("getLedgers", f"{where}.{field}", text, "base64 XDR")


def _ledger(entry: object, index: int) -> RpcLedger:
    where = f"result.ledgers[{index}]"
    body = _object(entry, "getLedgers", where)
    meta = _b64(body, "metadataXdr", where)
    if not meta:
        _bad("getLedgers", f"{where}.metadataXdr", "", "non-empty base64 XDR (xdrFormat json is not used)")
    return RpcLedger(
        ledger_sequence=_int(body, "sequence", "getLedgers", where),
        ledger_hash=_str(body, "hash", "getLedgers", where),
        close_time=_int(body, "ledgerCloseTime", "getLedgers", where),
        header_xdr=_b64(body, "headerXdr", where),
        ledger_close_meta=meta,
    )
