"""``rpc-replay``: a small Stellar RPC server answering from a local data lake.

Methods: ``getLedgers`` (the real server's validation, error codes and cursor semantics),
``getLatestLedger``, ``getNetwork``, ``getHealth``. Ledgers can be *released* gradually
(``start_at`` + ``ledger_interval``) so that clients can tail a moving tip.
"""

from __future__ import annotations

import base64
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from stellar_arrow.errors import ConfigError, LedgerMissingError
from stellar_arrow.source.batch import LedgerBatch
from stellar_arrow.source.header import LedgerHeaderInfo, read_ledger_header
from stellar_arrow.source.keys import BatchKey, parse_object_name
from stellar_arrow.source.lake import DataLakeLedgerSource

__all__ = ["DEFAULT_LIMIT", "MAX_LIMIT", "ReplayLake", "RpcFault", "create_rpc_replay_app"]

MAX_LIMIT = 200
DEFAULT_LIMIT = 50
RETENTION_WINDOW = 120960


class RpcFault(Exception):
    """A JSON-RPC error reply."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class ReplayedLedger:
    header: LedgerHeaderInfo
    ledger_close_meta: bytes


class ReplayLake:
    """A local lake indexed once, with an optional release schedule for its ledgers."""

    def __init__(
        self,
        lake: str,
        *,
        start_at: int | None = None,
        ledger_interval: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
        cache_batches: int = 64,
    ) -> None:
        if "://" in lake and not lake.startswith("file://"):
            msg = f"rpc-replay serves a local lake folder, got {lake!r}"
            raise ConfigError(msg, key="lake")
        if ledger_interval <= 0:
            msg = f"ledger_interval must be > 0 seconds, got {ledger_interval}"
            raise ConfigError(msg, key="ledger_interval")
        self.source = DataLakeLedgerSource(lake)
        if self.source.network_passphrase is None:
            msg = f"{lake}: rpc-replay needs a lake with a .config.json manifest (network passphrase)"
            raise ConfigError(msg, key="lake")
        self.network_passphrase: str = self.source.network_passphrase
        self._cache: OrderedDict[int, LedgerBatch] = OrderedDict()
        self._cache_size = cache_batches
        self._lock = threading.Lock()
        self._keys = self._index(lake.removeprefix("file://"))
        if not self._keys:
            msg = f"{lake}: the lake holds no ledger objects"
            raise ConfigError(msg, key="lake")
        self.oldest_ledger = self._batch(min(self._keys)).start_sequence
        self.lake_latest = self._batch(max(self._keys)).end_sequence
        if start_at is not None and not self.oldest_ledger <= start_at <= self.lake_latest:
            span = f"[{self.oldest_ledger}, {self.lake_latest}]"
            msg = f"start_at {start_at} is outside the lake's ledgers {span}"
            raise ConfigError(msg, key="start_at")
        self._start_at = start_at
        self._interval = ledger_interval
        self._clock = clock
        self._t0 = clock()

    def _index(self, root: str) -> dict[int, BatchKey]:
        keys: dict[int, BatchKey] = {}
        for _folder, _dirs, files in os.walk(root):
            for name in files:
                parsed = parse_object_name(name)
                if parsed is not None and parsed.extension == self.source.schema.extension:
                    key = self.source.schema.batch_key(parsed.low)
                    keys[key.first_ledger] = key
        return keys

    @property
    def latest_ledger(self) -> int:
        """The newest released ledger."""
        if self._start_at is None:
            return self.lake_latest
        released = self._start_at + int((self._clock() - self._t0) / self._interval)
        return min(self.lake_latest, released)

    def _batch(self, first_ledger: int) -> LedgerBatch:
        with self._lock:
            cached = self._cache.get(first_ledger)
            if cached is not None:
                self._cache.move_to_end(first_ledger)
                return cached
        batch = self.source.read_batch(self._keys[first_ledger])
        with self._lock:
            self._cache[first_ledger] = batch
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return batch

    def ledger(self, ledger_sequence: int) -> ReplayedLedger | None:
        """The ledger if the lake holds it (released or not), else None."""
        first = self.source.schema.batch_start(ledger_sequence)
        if first not in self._keys:
            return None
        batch = self._batch(first)
        if not batch.start_sequence <= ledger_sequence <= batch.end_sequence:
            return None
        lcm = batch.ledger(ledger_sequence, object_name=self._keys[first].key)
        return ReplayedLedger(read_ledger_header(lcm), lcm)

    def required(self, ledger_sequence: int) -> ReplayedLedger:
        found = self.ledger(ledger_sequence)
        if found is None:
            msg = f"ledger {ledger_sequence} is not in the lake"
            raise LedgerMissingError(msg, ledger_sequence=ledger_sequence)
        return found


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def _int_param(params: dict[str, Any], name: str, default: int = 0) -> int:
    value = params.get(name, default)
    if value is None:
        return default
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise RpcFault(-32602, f"invalid parameters: {name} must be a non-negative integer")
    return value


def get_ledgers(lake: ReplayLake, params: dict[str, Any]) -> dict[str, Any]:
    oldest, latest = lake.oldest_ledger, lake.latest_ledger
    pagination = params.get("pagination")
    if pagination is None:
        pagination = {}
    if not isinstance(pagination, dict):
        raise RpcFault(-32602, "invalid parameters: pagination must be an object")
    start = _int_param(params, "startLedger")
    cursor = pagination.get("cursor")
    limit = _int_param(pagination, "limit")
    xdr_format = params.get("xdrFormat") or "base64"
    if cursor not in (None, "") and start != 0:
        raise RpcFault(-32600, "startLedger and cursor cannot both be set")
    if xdr_format not in ("base64", "json"):
        raise RpcFault(-32600, f"expected either 'base64' or 'json' for xdrFormat, got {xdr_format!r}")
    if xdr_format == "json":
        raise RpcFault(-32600, "xdrFormat 'json' is not supported by rpc-replay")
    if limit > MAX_LIMIT:
        raise RpcFault(-32600, f"limit must not exceed {MAX_LIMIT}")
    if cursor not in (None, ""):
        if not isinstance(cursor, str) or not (cursor.isascii() and cursor.isdigit()):
            raise RpcFault(-32602, f"invalid cursor: {cursor!r}")
        start = int(cursor) + 1
        if not oldest <= start <= latest:
            msg = f"cursor ('{cursor}') must be between the oldest ledger: {oldest} and the latest ledger: "
            msg += str(latest)
            raise RpcFault(-32602, msg)
    elif not oldest <= start <= latest:
        msg = (
            f"start ledger ({start}) must be between the oldest ledger: {oldest} and the latest ledger: "
            f"{latest} for this rpc instance"
        )
        raise RpcFault(-32600, msg)
    limit = limit or DEFAULT_LIMIT
    ledgers: list[dict[str, Any]] = []
    for sequence in range(start, min(start + limit - 1, latest) + 1):
        found = lake.ledger(sequence)
        if found is None:
            continue
        ledgers.append(
            {
                "hash": found.header.ledger_hash.hex(),
                "sequence": sequence,
                "ledgerCloseTime": str(found.header.close_time),
                "headerXdr": _b64(found.header.header_entry_xdr),
                "metadataXdr": _b64(found.ledger_close_meta),
            }
        )
    last = ledgers[-1]["sequence"] if ledgers else (int(cursor) if cursor else start - 1)
    return {
        "ledgers": ledgers,
        "latestLedger": latest,
        "latestLedgerCloseTime": lake.required(latest).header.close_time,
        "oldestLedger": oldest,
        "oldestLedgerCloseTime": lake.required(oldest).header.close_time,
        "cursor": str(last),
    }


def get_latest_ledger(lake: ReplayLake, params: dict[str, Any]) -> dict[str, Any]:
    found = lake.required(lake.latest_ledger)
    return {
        "id": found.header.ledger_hash.hex(),
        "sequence": found.header.ledger_sequence,
        "protocolVersion": found.header.protocol_version,
        "closeTime": str(found.header.close_time),
        "headerXdr": _b64(found.header.header_xdr),
        "metadataXdr": _b64(found.ledger_close_meta),
    }


def get_network(lake: ReplayLake, params: dict[str, Any]) -> dict[str, Any]:
    return {
        "passphrase": lake.network_passphrase,
        "protocolVersion": lake.required(lake.latest_ledger).header.protocol_version,
    }


def get_health(lake: ReplayLake, params: dict[str, Any]) -> dict[str, Any]:
    latest, oldest = lake.latest_ledger, lake.oldest_ledger
    return {
        "status": "healthy",
        "latestLedger": latest,
        "oldestLedger": oldest,
        "ledgerRetentionWindow": RETENTION_WINDOW,
        "latestLedgerCloseTime": str(lake.required(latest).header.close_time),
        "oldestLedgerCloseTime": str(lake.required(oldest).header.close_time),
    }


METHODS: dict[str, Callable[[ReplayLake, dict[str, Any]], dict[str, Any]]] = {
    "getLedgers": get_ledgers,
    "getLatestLedger": get_latest_ledger,
    "getNetwork": get_network,
    "getHealth": get_health,
}


def _error(request_id: object, code: int, message: str) -> dict[str, Any]:
    return {"jsonrpc": "2.0", "id": request_id, "error": {"code": code, "message": message}}


def dispatch(lake: ReplayLake, body: bytes) -> dict[str, Any]:
    """Answer one JSON-RPC request body."""
    try:
        request = orjson.loads(body)
    except orjson.JSONDecodeError:
        return _error(None, -32700, "parse error")
    if (
        not isinstance(request, dict)
        or request.get("jsonrpc") != "2.0"
        or not isinstance(request.get("method"), str)
    ):
        return _error(request.get("id") if isinstance(request, dict) else None, -32600, "invalid request")
    request_id = request.get("id")
    handler = METHODS.get(request["method"])
    if handler is None:
        return _error(request_id, -32601, "method not found")
    params = request.get("params") or {}
    if not isinstance(params, dict):
        return _error(request_id, -32602, "invalid parameters: params must be an object (by name)")
    try:
        result = handler(lake, params)
    except RpcFault as fault:
        return _error(request_id, fault.code, fault.message)
    except Exception as exc:  # a broken lake object must not kill the server
        return _error(request_id, -32603, f"{type(exc).__name__}: {exc}")
    return {"jsonrpc": "2.0", "id": request_id, "result": result}


def create_rpc_replay_app(lake: ReplayLake) -> Starlette:
    """The ASGI app: JSON-RPC over POST on ``/``."""

    async def rpc(request: Request) -> Response:
        body = await request.body()
        reply = await run_in_threadpool(dispatch, lake, body)
        return Response(orjson.dumps(reply), media_type="application/json")

    return Starlette(routes=[Route("/", rpc, methods=["POST"])])
