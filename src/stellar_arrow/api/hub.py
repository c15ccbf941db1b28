"""The WebSocket broadcast hub: per-client bounded queues, shared serialization, replay then live.

Slow-client policy: every client owns a queue of at most ``queue_messages`` frames and one sender task. The
publisher never waits: it ``put_nowait``s; a client whose queue is full is disconnected with close code 1013
("try again later") and reason ``slow consumer: ...``, and counted in
``ws_clients_evicted_total{reason="slow"}``.
Other clients are not slowed down. During a replay, live events are parked (same bound) and flushed after it.

Exactly once per client: each client remembers the id (``ledger << 32 | event_index``) of the last event it
was sent; live rows at or below it are skipped, so replay and live never overlap and never leave a gap.

Replays are bounded: at most ``max_replays`` run at once (an :class:`~stellar_arrow.resilience.bulkhead.
AsyncBulkhead` named ``ws_replays``; one more waits ``replay_wait_s``, then gets an ``error`` frame
``busy`` with ``retry_after_s`` and is unsubscribed); each reads its history page by page with the
subscription's filter pushed down (:mod:`stellar_arrow.api.replay`), and reads the next page only once the
client's queue holds at most one frame, so a slow reader slows its own replay, never the server's
memory; a replay whose client reads nothing for ``replay_stall_s`` is closed with 1013.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final, Literal

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import zstandard
from starlette.websockets import WebSocket

from stellar_arrow.api.filters import event_id
from stellar_arrow.api.replay import ReplayPages
from stellar_arrow.api.subscription import Subscription
from stellar_arrow.errors import BusyError
from stellar_arrow.query import TransferFilter, filter_mask
from stellar_arrow.resilience.bulkhead import AsyncBulkhead
from stellar_arrow.sink.textfiles import to_rows

__all__ = ["Client", "Frame", "Hub", "HubLimits", "add_event_ids", "encode_events"]

log = logging.getLogger(__name__)

Frame = str | bytes
_ID: Final = "id"
_CLOSE: Final = None
_ACCOUNT_COLUMNS: Final = ("from", "to", "to_muxed")
ClientState = Literal["idle", "replaying", "live"]


@dataclass(frozen=True, slots=True)
class HubLimits:
    max_connections: int = 1000
    max_connections_per_ip: int = 100
    queue_messages: int = 256
    replay_page_rows: int = 5000
    max_replays: int = 8
    replay_wait_s: float = 5.0
    replay_stall_s: float = 30.0


def add_event_ids(rows: pa.Table) -> pa.Table:
    """Prepend the int64 ``id`` (paging token) column."""
    ledger = pc.cast(rows["ledger_sequence"], pa.int64())
    ids = pc.add(pc.multiply(ledger, 1 << 32), pc.cast(rows["event_index"], pa.int64()))
    return rows.add_column(0, _ID, ids)


def encode_events(rows: pa.Table, sub: Subscription) -> Frame:
    """One ``events`` frame in the subscriber's format (``rows`` carries the ``id`` column)."""
    if sub.format == "arrow":
        options = pa.ipc.IpcWriteOptions(compression="zstd" if sub.compression == "zstd" else None)
        sink = pa.BufferOutputStream()
        with pa.ipc.new_stream(sink, rows.schema, options=options) as writer:
            writer.write_table(rows)
        encoded: bytes = sink.getvalue().to_pybytes()
        return encoded
    ledgers = rows["ledger_sequence"]
    body = {
        "type": "events",
        "count": rows.num_rows,
        "ledger_range": [pc.min(ledgers).as_py(), pc.max(ledgers).as_py()],
        "data": to_rows(rows),
    }
    raw = orjson.dumps(body)
    if sub.compression == "zstd":
        packed: bytes = zstandard.ZstdCompressor(level=3).compress(raw)
        return packed
    return raw.decode()


class _PublishedBatch:
    """One published batch: rows are JSON-encoded once, each group's frame joins its rows' bytes."""

    def __init__(self, rows: pa.Table) -> None:
        self.rows = rows
        self._json: list[bytes] | None = None
        self._by_account: dict[str, list[int]] | None = None

    def _account_rows(self, accounts: tuple[str, ...]) -> list[int]:
        """Positions of rows sent or received by any of ``accounts`` (index built once per batch)."""
        if self._by_account is None:
            index: dict[str, list[int]] = {}
            for column in _ACCOUNT_COLUMNS:
                for position, account in enumerate(self.rows[column].to_pylist()):
                    if account is not None:
                        index.setdefault(account, []).append(position)
            self._by_account = index
        found: set[int] = set()
        for account in accounts:
            found.update(self._by_account.get(account, ()))
        return sorted(found)

    def select(self, sub: Subscription) -> tuple[pa.Table, list[int] | None, tuple[int, int]]:
        """Matching rows, their positions (``None``: all) and their lowest and highest ids."""
        accounts = sub.filter.accounts
        indices: list[int] | None
        if accounts:  # most subscriptions by account match few rows: start from the index
            indices = self._account_rows(accounts)
            rows = self.rows.take(pa.array(indices, pa.int64()))
            rest = filter_mask(rows, replace(sub.filter, accounts=()))
            if rest is not None:
                keep = pc.indices_nonzero(rest).to_pylist()
                indices = [indices[i] for i in keep]
                rows = rows.filter(rest)
        else:
            mask = filter_mask(self.rows, sub.filter)
            if mask is None:
                rows, indices = self.rows, None
            else:
                rows, indices = self.rows.filter(mask), pc.indices_nonzero(mask).to_pylist()
        if rows.num_rows == 0:
            return rows, indices, (0, 0)
        span = pc.min_max(rows[_ID])
        return rows, indices, (span["min"].as_py(), span["max"].as_py())

    def frame(self, sub: Subscription, rows: pa.Table, indices: list[int] | None) -> Frame:
        if sub.format != "json":
            return encode_events(rows, sub)
        if self._json is None:
            self._json = [orjson.dumps(row) for row in to_rows(self.rows)]
        encoded = self._json
        body = b",".join(encoded) if indices is None else b",".join([encoded[i] for i in indices])
        ledgers = rows["ledger_sequence"]
        head = {"type": "events", "count": rows.num_rows}
        head["ledger_range"] = [pc.min(ledgers).as_py(), pc.max(ledgers).as_py()]
        raw = orjson.dumps(head)[:-1] + b',"data":[' + body + b"]}"
        if sub.compression == "zstd":
            packed: bytes = zstandard.ZstdCompressor(level=3).compress(raw)
            return packed
        return raw.decode()


@dataclass(eq=False)
class Client:
    ws: WebSocket
    ip: str
    queue: asyncio.Queue[Frame | None]
    subscription: Subscription | None = None
    state: ClientState = "idle"
    last_id: int = -1
    parked: list[pa.Table] = field(default_factory=list)
    closing: bool = False
    sender: asyncio.Task[None] | None = None
    replay: asyncio.Task[None] | None = None
    analytics: bool = False  # subscribed to the "analytics" channel (rolling windows)


class Hub:
    """Owns the connected clients; every method runs on the event loop thread."""

    def __init__(
        self,
        limits: HubLimits,
        history: Callable[[int, TransferFilter], ReplayPages],
        *,
        on_evict: Callable[[str], None] = lambda reason: None,
        on_sent: Callable[[int], None] = lambda n: None,
    ) -> None:
        self.limits = limits
        self._history = history  # (ledger, filter) -> pages of the matching events after that ledger
        self._replays = AsyncBulkhead("ws_replays", limits.max_replays, max_wait_s=limits.replay_wait_s)
        self._on_evict = on_evict
        self._on_sent = on_sent
        self.clients: set[Client] = set()
        self._per_ip: dict[str, int] = {}
        self.analytics_snapshot: Callable[[], dict[str, Any]] | None = None  # the "analytics" channel's frame

    # -- connections -----------------------------------------------------------------------------------------

    def admit(self, ip: str) -> tuple[str, str] | None:
        """``None`` if a new connection from ``ip`` is allowed, else ``(cap, reason)`` to refuse it."""
        if len(self.clients) >= self.limits.max_connections:
            return "global", f"server full: {self.limits.max_connections} connections"
        if self._per_ip.get(ip, 0) >= self.limits.max_connections_per_ip:
            return "per_ip", f"too many connections from {ip} (limit {self.limits.max_connections_per_ip})"
        return None

    def register(self, ws: WebSocket, ip: str) -> Client:
        client = Client(ws, ip, asyncio.Queue(self.limits.queue_messages))
        client.sender = asyncio.get_running_loop().create_task(self._send_loop(client))
        self.clients.add(client)
        self._per_ip[ip] = self._per_ip.get(ip, 0) + 1
        return client

    async def unregister(self, client: Client) -> None:
        if client in self.clients:
            self.clients.discard(client)
            self._per_ip[client.ip] -= 1
            if not self._per_ip[client.ip]:
                del self._per_ip[client.ip]
        for task in (client.replay, client.sender):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _send_loop(self, client: Client) -> None:
        while True:
            frame = await client.queue.get()
            if frame is _CLOSE:
                return
            if isinstance(frame, bytes):
                await client.ws.send_bytes(frame)
            else:
                await client.ws.send_text(frame)
            self._on_sent(1)

    def send_control(self, client: Client, message: dict[str, Any]) -> None:
        """Queue a JSON control message (``subscribed``, ``error``, ``pong``, ``status``...)."""
        self._offer(client, orjson.dumps(message).decode())

    def _offer(self, client: Client, frame: Frame) -> None:
        if client.closing:
            return
        try:
            client.queue.put_nowait(frame)
        except asyncio.QueueFull:
            limit = self.limits.queue_messages
            self.evict(client, 1013, f"slow consumer: {limit} messages queued and not read", "slow")

    def evict(self, client: Client, code: int, reason: str, kind: str) -> None:
        """Close ``client`` with ``code``/``reason`` now, dropping what it has not read yet."""
        if client.closing:
            return
        client.closing = True
        self._on_evict(kind)
        if client.sender is not None:
            client.sender.cancel()
        if client.replay is not None:
            client.replay.cancel()
        asyncio.get_running_loop().create_task(self._close(client, code, reason))

    @staticmethod
    async def _close(client: Client, code: int, reason: str) -> None:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.ws.close(code=code, reason=reason[:120]), timeout=5)

    # -- subscriptions ---------------------------------------------------------------------------------------

    def subscribe(self, client: Client, sub: Subscription) -> None:
        if client.replay is not None and not client.replay.done():
            client.replay.cancel()
        client.subscription = sub
        client.parked.clear()
        if sub.cursor is None:
            client.state = "live"
            return
        client.state = "replaying"
        client.last_id = event_id(sub.cursor, 0xFFFFFFFF)
        client.replay = asyncio.get_running_loop().create_task(self._replay(client, sub))

    def unsubscribe(self, client: Client) -> None:
        if client.replay is not None:
            client.replay.cancel()
        client.subscription = None
        client.state = "idle"
        client.parked.clear()

    async def _replay(self, client: Client, sub: Subscription) -> None:
        try:
            async with self._replays.slot():
                await self._replay_pages(client, sub)
        except BusyError as exc:
            client.subscription, client.state = None, "idle"
            client.parked.clear()
            busy = {"type": "error", "field": "cursor", "message": str(exc), "retry_after_s": exc.retry_after}
            self.send_control(client, busy)

    async def _replay_pages(self, client: Client, sub: Subscription) -> None:
        pages = await asyncio.to_thread(self._history, sub.cursor or 0, sub.filter)
        sent = 0
        while True:
            if not await self._drained(client):
                return
            page = await asyncio.to_thread(pages.next_page)
            if page is None:
                break
            rows = add_event_ids(page)
            frame = await asyncio.to_thread(encode_events, rows, sub)  # off the loop: REST stays responsive
            self._offer(client, frame)
            sent += rows.num_rows
            client.last_id = max(client.last_id, pc.max(rows[_ID]).as_py())
        # no await from here on: parked live rows are flushed and the client goes live atomically
        parked, client.parked = client.parked, []
        self.send_control(client, {"type": "replay_done", "events": sent, "cursor": pages.through})
        client.state = "live"
        for rows in parked:
            self._deliver_to(client, rows, None)

    async def _drained(self, client: Client) -> bool:
        """Wait until ``client`` holds at most one unsent frame; False (client evicted) after a stall."""
        waited, pause = 0.0, 0.005
        while client.queue.qsize() > 1 or client.queue.full():
            if client.closing:
                return False
            if waited >= self.limits.replay_stall_s:
                stall = self.limits.replay_stall_s
                self.evict(client, 1013, f"slow consumer: replay not read for {stall:g}s", "slow")
                return False
            await asyncio.sleep(pause)
            waited += pause
            pause = min(pause * 2, 0.1)
        return not client.closing

    # -- publishing ------------------------------------------------------------------------------------------

    def _deliver_to(
        self, client: Client, rows: pa.Table, shared: Frame | None, span: tuple[int, int] | None = None
    ) -> None:
        """``rows`` are filtered for this client and carry ``id``; skip what it already has."""
        sub = client.subscription
        if sub is None or rows.num_rows == 0:
            return
        ids = rows[_ID]
        low, high = span if span is not None else (pc.min(ids).as_py(), pc.max(ids).as_py())
        if high <= client.last_id:
            return
        if low <= client.last_id:
            rows = rows.filter(pc.greater(ids, client.last_id))
            shared = None
        self._offer(client, shared if shared is not None else encode_events(rows, sub))
        client.last_id = high

    def publish(self, rows: pa.Table) -> None:
        """Fan ``token_transfers`` rows out to every subscriber (filter and encode once per group)."""
        if rows.num_rows == 0 or not self.clients:
            return
        batch = _PublishedBatch(add_event_ids(rows))
        groups: dict[tuple[object, ...], tuple[pa.Table, list[int] | None, tuple[int, int]]] = {}
        frames: dict[tuple[object, ...], Frame] = {}
        for client in list(self.clients):
            sub = client.subscription
            if sub is None or client.closing:
                continue
            key = sub.group_key
            if key not in groups:
                groups[key] = batch.select(sub)
            filtered, indices, span = groups[key]
            if filtered.num_rows == 0:
                continue
            if client.state == "replaying":
                client.parked.append(filtered)
                if len(client.parked) > self.limits.queue_messages:
                    self.evict(client, 1013, "slow consumer: live events piled up during replay", "slow")
                continue
            if key not in frames and client.last_id < span[0]:
                frames[key] = batch.frame(sub, filtered, indices)
            self._deliver_to(client, filtered, frames.get(key), span)

    def analytics_clients(self) -> int:
        return sum(1 for client in self.clients if client.analytics and not client.closing)

    def request_analytics(self, client: Client) -> None:
        """Send the current rolling windows to ``client`` (right after it subscribes)."""
        if self.analytics_snapshot is not None:
            self._offer(client, orjson.dumps(self.analytics_snapshot()).decode())

    def broadcast_analytics(self, message: dict[str, Any]) -> None:
        """Send ``message`` (the rolling windows) to every client subscribed to the analytics channel."""
        frame: Frame | None = None
        for client in list(self.clients):
            if client.analytics and not client.closing:
                frame = frame or orjson.dumps(message).decode()
                self._offer(client, frame)

    def broadcast_status(self, status: dict[str, Any]) -> None:
        frame: Frame | None = None
        for client in list(self.clients):
            if client.subscription is not None and client.subscription.status and not client.closing:
                frame = frame or orjson.dumps(status).decode()
                self._offer(client, frame)

    async def close_all(self, code: int, reason: str) -> None:
        for client in list(self.clients):
            self.evict(client, code, reason, "shutdown")
        await asyncio.sleep(0)
