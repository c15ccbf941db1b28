"""The ``/ws`` endpoint: admission caps, the receive loop (rate limit, idle ping), subscribe/unsubscribe.

The handler always runs a receive loop (a send-only handler never notices a disconnect); frames to the client
go through the hub's per-client queue and sender task. Close codes: 1013 server full / per-IP cap / slow
consumer, 1008 message rate exceeded, 1001 idle timeout (no answer to the server's ping), 1011 a message the
server failed to handle (logged; a malformed message gets an error frame instead and the connection stays).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from starlette.websockets import WebSocket, WebSocketDisconnect

from stellar_arrow.api.hub import Client, Hub
from stellar_arrow.api.metrics import ApiMetrics
from stellar_arrow.api.subscription import parse_subscription
from stellar_arrow.config import ApiSettings
from stellar_arrow.errors import RequestError
from stellar_arrow.resilience.ratelimit import TokenBucket

__all__ = ["serve_websocket"]

log = logging.getLogger(__name__)


def _error(hub: Hub, client: Client, metrics: ApiMetrics, field: str, message: str) -> None:
    metrics.ws_bad_messages.labels(field).inc()
    hub.send_control(client, {"type": "error", "field": field, "message": message})


def _handle(hub: Hub, client: Client, metrics: ApiMetrics, text: str) -> None:
    try:
        message: Any = orjson.loads(text)
    except orjson.JSONDecodeError as exc:
        _error(hub, client, metrics, "message", f"not JSON: {exc}")
        return
    if not isinstance(message, dict) or not isinstance(message.get("type"), str):
        _error(hub, client, metrics, "type", "a message must be a JSON object with a string 'type'")
        return
    kind = message["type"]
    if kind in ("subscribe", "unsubscribe") and "channel" in message:
        _channel(hub, client, metrics, kind, message)
    elif kind == "subscribe":
        try:
            sub = parse_subscription(message)
        except RequestError as exc:
            _error(hub, client, metrics, exc.field, str(exc))
            return
        hub.send_control(
            client,
            {
                "type": "subscribed",
                "format": sub.format,
                "compression": sub.compression,
                "cursor": sub.cursor,
            },
        )
        hub.subscribe(client, sub)
    elif kind == "unsubscribe":
        hub.unsubscribe(client)
        hub.send_control(client, {"type": "unsubscribed"})
    elif kind == "ping":
        hub.send_control(client, {"type": "pong"})
    elif kind != "pong":
        _error(
            hub,
            client,
            metrics,
            "type",
            f"unknown message type {kind!r} (subscribe, unsubscribe, ping, pong)",
        )


def _channel(hub: Hub, client: Client, metrics: ApiMetrics, kind: str, message: dict[str, Any]) -> None:
    """``{"type": "subscribe"|"unsubscribe", "channel": "analytics"}``: the rolling windows, pushed as they
    change (``{"type": "analytics", "windows": {...}}``); independent of the events subscription."""
    if message["channel"] != "analytics" or set(message) != {"type", "channel"}:
        _error(hub, client, metrics, "channel", 'the only channel is "analytics" (with no other fields)')
        return
    client.analytics = kind == "subscribe"
    hub.send_control(client, {"type": f"{kind}d", "channel": "analytics"})
    if client.analytics:
        hub.request_analytics(client)


async def serve_websocket(ws: WebSocket, hub: Hub, options: ApiSettings, metrics: ApiMetrics) -> None:
    ip = ws.client.host if ws.client is not None else "unknown"
    refusal = hub.admit(ip)
    await ws.accept()
    if refusal is not None:
        cap, reason = refusal
        metrics.ws_rejected.labels(cap).inc()
        await ws.close(code=1013, reason=reason)
        return
    client = hub.register(ws, ip)
    metrics.ws_connections.inc()
    bucket = TokenBucket(options.ws_message_rate, options.ws_message_burst)
    pinged = False
    try:
        while not client.closing:
            wait = options.ws_ping_timeout_s if pinged else options.ws_idle_timeout_s
            try:
                message = await asyncio.wait_for(ws.receive(), timeout=wait)
            except TimeoutError:
                if pinged:
                    hub.evict(client, 1001, f"idle timeout: no message for {wait:g}s after ping", "idle")
                    break
                hub.send_control(client, {"type": "ping"})
                pinged = True
                continue
            pinged = False
            if message["type"] == "websocket.disconnect":
                break
            if not bucket.take():
                hub.evict(client, 1008, f"message rate exceeded ({options.ws_message_rate:g}/s)", "rate")
                break
            text = message.get("text")
            if text is None:
                _error(hub, client, metrics, "message", "binary messages are not accepted; send JSON text")
                continue
            try:
                _handle(hub, client, metrics, text)
            except Exception:  # a bug must still end with a close frame, never a dropped connection
                log.exception("websocket: message from %s failed", ip)
                hub.evict(client, 1011, "internal error handling the message", "error")
                break
        # an evicted client: keep reading until the close handshake ends (or the peer vanishes)
        while client.closing:
            message = await asyncio.wait_for(ws.receive(), timeout=10)
            if message["type"] == "websocket.disconnect":
                break
    except (WebSocketDisconnect, TimeoutError, RuntimeError):
        pass
    finally:
        metrics.ws_connections.dec()
        await hub.unregister(client)
