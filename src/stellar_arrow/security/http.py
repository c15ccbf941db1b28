"""One pure-ASGI middleware that enforces the ``security`` settings on every HTTP request and WebSocket.

In order: the ``Host`` header must be one of ``allowed_hosts`` (DNS rebinding); a path with ``..``
segments is refused; the per-IP token bucket; a WebSocket ``Origin`` must be same-origin or one of
``cors_origins``; then the credential (header, or the session cookie on GET/HEAD/WebSocket) becomes a
principal holding the permission the path needs (:func:`required_permission`; with ``client_ca_file``
a verified client certificate and no header is an ``mtls`` principal, see
:mod:`stellar_arrow.security.client_certs`); the per-key bucket;
request bodies are read up to ``max_body_bytes`` (413 beyond), WebSocket messages above
``ws_max_message_bytes`` close the socket with 1009; every HTTP response gets the security headers.
An open WebSocket re-checks its credential every :data:`REVALIDATE_INTERVAL_S` seconds and is closed
with 1008 once the API key is revoked or the credential expired.

Refusals: 400 (host, path), 401 with ``WWW-Authenticate: Bearer``, 403, 413, 429 with ``Retry-After``;
a refused WebSocket handshake is closed before it is accepted (HTTP 403 to the client), except a
rate-limited one, answered 429 with ``Retry-After``. No refusal carries data or echoes a credential.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from http.cookies import CookieError, SimpleCookie
from typing import Final

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from stellar_arrow.config import SecuritySettings
from stellar_arrow.errors import AuthenticationError, AuthorizationError
from stellar_arrow.resilience.ratelimit import KeyedBuckets
from stellar_arrow.security.authenticator import ANONYMOUS, Authenticator, Credential
from stellar_arrow.security.client_certs import client_certificate_subject
from stellar_arrow.security.metrics import SecurityMetrics
from stellar_arrow.security.policy import build_authenticator
from stellar_arrow.security.roles import Permission, Principal
from stellar_arrow.security.session import SESSION_COOKIE, SessionStore

__all__ = [
    "OPEN_PATHS",
    "REVALIDATE_INTERVAL_S",
    "ApiSecurity",
    "SecurityMiddleware",
    "required_permission",
    "session_cookie",
]

log = logging.getLogger(__name__)

REVALIDATE_INTERVAL_S: Final = 1.0
OPEN_PATHS: Final = frozenset({"/", "/health", "/ready", "/health/live", "/health/ready", "/api/v1/session"})
_OPEN_PREFIXES: Final = ("/static/",)
_BODY_METHODS: Final = frozenset({"POST", "PUT", "PATCH", "DELETE"})
_SAFE_METHODS: Final = frozenset({"GET", "HEAD"})


def required_permission(path: str, security: SecuritySettings) -> Permission | None:
    """The permission a request for ``path`` needs (``None``: open). Anything unknown needs read_ledgers."""
    if path in OPEN_PATHS or path.startswith(_OPEN_PREFIXES):
        return None
    if path == "/metrics":
        return None if security.metrics_public else "read_metrics"
    if path == "/api/v1/admin" or path.startswith("/api/v1/admin/"):
        return "admin"
    return "read_ledgers"


@dataclass
class ApiSecurity:
    """The HTTP side's security parts, built once per app from the settings."""

    settings: SecuritySettings
    authenticator: Authenticator
    metrics: SecurityMetrics
    sessions: SessionStore | None  # None with authentication off
    per_ip: KeyedBuckets | None
    per_key: KeyedBuckets | None

    @classmethod
    def from_settings(cls, settings: SecuritySettings, metrics: SecurityMetrics) -> ApiSecurity:
        limited = settings.rate_limit_enabled
        authenticator = build_authenticator(settings, metrics.observe_auth)
        store = authenticator.store
        return cls(
            settings=settings,
            authenticator=authenticator,
            metrics=metrics,
            sessions=SessionStore(store, settings.session_ttl_s) if store is not None else None,
            per_ip=KeyedBuckets(settings.rate_limit_per_ip_rps, settings.rate_limit_per_ip_burst)
            if limited
            else None,
            per_key=KeyedBuckets(settings.rate_limit_per_key_rps, settings.rate_limit_per_key_burst)
            if limited
            else None,
        )

    def headers(self, path: str, host: str) -> list[tuple[bytes, bytes]]:
        """The security headers of a response to ``path`` served as ``host``."""
        script = "'self' 'unsafe-inline'" if path == "/docs" else "'self'"  # Swagger UI starts inline
        connect = f"'self' ws://{host} wss://{host}" if host else "'self'"
        csp = (
            f"default-src 'self'; script-src {script}; style-src 'self'; img-src 'self' data:; "
            f"connect-src {connect}; object-src 'none'; base-uri 'none'; form-action 'self'; "
            "frame-ancestors 'none'"
        )
        out = [
            (b"content-security-policy", csp.encode()),
            (b"x-content-type-options", b"nosniff"),
            (b"x-frame-options", b"DENY"),
            (b"referrer-policy", b"no-referrer"),
            (b"cross-origin-opener-policy", b"same-origin"),
        ]
        if self.settings.tls_enabled:
            out.append((b"strict-transport-security", b"max-age=31536000; includeSubDomains"))
        return out


class _Refused(Exception):
    def __init__(self, status: int, title: str, detail: str, headers: tuple[tuple[bytes, bytes], ...] = ()):
        super().__init__(detail)
        self.status, self.title, self.detail, self.headers = status, title, detail, headers


def _header(scope: Scope, name: bytes) -> str | None:
    found = [v for k, v in scope.get("headers", ()) if k == name]
    if len(found) > 1:
        raise _Refused(400, "Bad Request", f"header {name.decode()} sent {len(found)} times")
    return found[0].decode("latin-1") if found else None


def _host_name(host: str) -> str:
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


class SecurityMiddleware:
    """See the module docstring; ``security`` carries settings, authenticator, buckets and metrics."""

    def __init__(self, app: ASGIApp, security: ApiSecurity) -> None:
        self.app = app
        self.security = security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        websocket = scope["type"] == "websocket"
        try:
            host = self._check_host(scope)
            principal = await self._admit(scope)
        except _Refused as refusal:
            self.security.metrics.refused.labels(str(refusal.status)).inc()
            if websocket:
                log.info("websocket handshake refused (%d): %s", refusal.status, refusal.detail)
                if refusal.status == 429 and "websocket.http.response" in (scope.get("extensions") or {}):
                    await self._refuse(scope, send, refusal, _header_or_empty(scope), prefix="websocket.")
                else:
                    await send({"type": "websocket.close", "code": 1008, "reason": refusal.detail[:120]})
            else:
                await self._refuse(scope, send, refusal, _header_or_empty(scope))
            return
        scope.setdefault("state", {})["principal"] = principal
        if websocket:
            await self._websocket(scope, receive, send, principal)
            return
        await self._http(scope, receive, send, host)

    # ------------------------------------------------------------------ checks
    def _check_host(self, scope: Scope) -> str:
        host = _header(scope, b"host") or ""
        allowed = self.security.settings.allowed_hosts
        if "*" not in allowed and _host_name(host).lower() not in allowed:
            raise _Refused(400, "Bad Request", "Host header is not one of security.allowed_hosts")
        path: str = scope.get("path", "")
        if "/../" in path + "/" or "/./" in path + "/" or "\\" in path:
            raise _Refused(400, "Bad Request", "path segments '.' and '..' are not accepted")
        return host

    def _client_ip(self, scope: Scope) -> str:
        client = scope.get("client")
        return str(client[0]) if client else "unknown"

    async def _admit(self, scope: Scope) -> Principal | None:
        security = self.security
        if security.per_ip is not None:
            self._limit(security.per_ip, self._client_ip(scope), "per_ip")
        websocket = scope["type"] == "websocket"
        if websocket:
            self._check_origin(scope)
        permission = required_permission(scope["path"], security.settings)
        if permission is None and not websocket:
            return None
        if not security.authenticator.enabled:
            return ANONYMOUS
        method = "WS" if websocket else scope["method"]
        where = f"{method} {scope['path'][:80]}"
        cookie = session_cookie(scope) if websocket or scope["method"] in _SAFE_METHODS else None
        authorization, api_key = _header(scope, b"authorization"), _header(scope, b"x-api-key")
        try:
            if authorization is None and api_key is None and cookie is not None:
                principal = await self._session(cookie, where)
            else:
                credential = Credential(authorization, api_key, self._peer_identity(scope))
                principal = await asyncio.to_thread(
                    security.authenticator.authenticate, credential, where=where
                )
            if permission is not None:
                principal.require(permission, what=where)
        except AuthenticationError as exc:
            headers = ((b"www-authenticate", b'Bearer realm="stellar-arrow"'),)
            raise _Refused(401, "Unauthorized", str(exc), headers) from None
        except AuthorizationError as exc:
            raise _Refused(403, "Forbidden", str(exc)) from None
        if security.per_key is not None and principal.kind != "anonymous":
            self._limit(security.per_key, f"{principal.kind}:{principal.subject}", "per_key")
        return principal

    def _peer_identity(self, scope: Scope) -> str | None:
        """The subject of the verified client certificate (only under ``client_ca_file``)."""
        if not self.security.settings.client_ca_file:
            return None
        return client_certificate_subject(scope)

    async def _session(self, cookie: str, where: str) -> Principal:
        security = self.security
        try:
            if security.sessions is None:
                msg = "sessions are not available without a key store"
                raise AuthenticationError(msg, reason="invalid_token")
            principal = await asyncio.to_thread(security.sessions.verify, cookie)
        except AuthenticationError as exc:
            security.metrics.observe_auth("session", exc.reason, None)
            raise
        if not await asyncio.to_thread(security.authenticator.still_valid, principal):
            security.metrics.observe_auth("session", "revoked", None)
            msg = f"the credential behind this session ({principal.subject!r}) was revoked or expired"
            raise AuthenticationError(msg, reason="revoked")
        security.metrics.observe_auth("session", "ok", principal)
        return principal

    def _limit(self, buckets: KeyedBuckets, key: str, name: str) -> None:
        wait = buckets.take(key)
        if wait > 0:
            self.security.metrics.rate_limited.labels(name).inc()
            retry = KeyedBuckets.retry_after(wait)
            raise _Refused(
                429, "Too Many Requests", f"rate limit {name} exceeded", ((b"retry-after", retry.encode()),)
            )

    def _check_origin(self, scope: Scope) -> None:
        origin = _header(scope, b"origin")
        if origin is None:
            return  # not a browser
        scheme = "https" if scope.get("scheme") in ("wss", "https") else "http"
        same = f"{scheme}://{_header(scope, b'host') or ''}"
        if origin != same and origin not in self.security.settings.cors_origins:
            raise _Refused(
                403, "Forbidden", "WebSocket Origin is neither same-origin nor in security.cors_origins"
            )

    # ------------------------------------------------------------------ HTTP
    async def _refuse(
        self, scope: Scope, send: Send, refusal: _Refused, host: str, *, prefix: str = ""
    ) -> None:
        """A problem+json answer; ``prefix="websocket."`` answers a WebSocket handshake with it (the
        ASGI ``websocket.http.response`` extension), as for a rate-limited handshake: 429 + Retry-After."""
        body = orjson.dumps({"status": refusal.status, "title": refusal.title, "detail": refusal.detail})
        headers = [
            (b"content-type", b"application/problem+json"),
            (b"content-length", str(len(body)).encode()),
            *refusal.headers,
            *self.security.headers(scope.get("path", ""), host),
        ]
        await send({"type": f"{prefix}http.response.start", "status": refusal.status, "headers": headers})
        await send({"type": f"{prefix}http.response.body", "body": body})

    async def _http(self, scope: Scope, receive: Receive, send: Send, host: str) -> None:
        limit = self.security.settings.max_body_bytes
        if scope["method"] in _BODY_METHODS:
            try:
                receive = await _buffer_body(scope, receive, limit)
            except _Refused as refusal:
                self.security.metrics.refused.labels("413").inc()
                await self._refuse(scope, send, refusal, host)
                return
        extra = self.security.headers(scope["path"], host)

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", ())}
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), *(h for h in extra if h[0] not in names)],
                }
            await send(message)

        await self.app(scope, receive, send_with_headers)

    # ------------------------------------------------------------------ WebSocket
    async def _websocket(
        self, scope: Scope, receive: Receive, send: Send, principal: Principal | None
    ) -> None:
        security = self.security
        limit = security.settings.ws_max_message_bytes
        state = {"accepted": False, "closed": False}

        async def guarded_send(message: Message) -> None:
            if state["closed"]:
                return  # we closed the socket: the app's late frames are dropped
            if message["type"] == "websocket.accept":
                state["accepted"] = True
            elif message["type"] == "websocket.close":
                state["closed"] = True
            await send(message)

        async def close(code: int, reason: str) -> None:
            if not state["closed"]:
                await send({"type": "websocket.close", "code": code, "reason": reason})
                state["closed"] = True

        async def guarded_receive() -> Message:
            message = await receive()
            if message["type"] == "websocket.receive":
                size = len(message.get("text") or "") + len(message.get("bytes") or b"")
                if size > limit:
                    security.metrics.refused.labels("1009").inc()
                    await close(1009, f"message of {size} bytes exceeds {limit}")
                    return {"type": "websocket.disconnect", "code": 1009}
            return message

        watcher = None
        if principal is not None and principal.kind not in ("anonymous", "mtls"):
            watcher = asyncio.create_task(self._watch(principal, state, close))
        try:
            await self.app(scope, guarded_receive, guarded_send)
        finally:
            if watcher is not None:
                watcher.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await watcher

    async def _watch(
        self, principal: Principal, state: dict[str, bool], close: Callable[[int, str], Awaitable[None]]
    ) -> None:
        while not state["closed"]:
            await asyncio.sleep(REVALIDATE_INTERVAL_S)
            if state["accepted"] and not await asyncio.to_thread(
                self.security.authenticator.still_valid, principal
            ):
                log.info(
                    "closing WebSocket of %s %r: credential revoked or expired",
                    principal.kind,
                    principal.subject,
                )
                await close(1008, "credential revoked or expired")
                return


def _header_or_empty(scope: Scope) -> str:
    try:
        return _header(scope, b"host") or ""
    except _Refused:
        return ""


def session_cookie(scope: Scope) -> str | None:
    """The ``sa_session`` cookie of a request, if there is exactly one cookie header holding it."""
    try:
        raw = _header(scope, b"cookie")
    except _Refused:
        return None
    if raw is None:
        return None
    try:
        jar: SimpleCookie = SimpleCookie()
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(SESSION_COOKIE)
    return morsel.value if morsel is not None else None


async def _buffer_body(scope: Scope, receive: Receive, limit: int) -> Receive:
    """Read the whole body (at most ``limit`` bytes) and return a receive that replays it."""
    declared = _header(scope, b"content-length")
    if declared is not None and (not declared.isdigit() or int(declared) > limit):
        raise _Refused(413, "Content Too Large", f"request body is limited to {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            break
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise _Refused(413, "Content Too Large", f"request body is limited to {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            break
    body = b"".join(chunks)
    replayed = False

    async def replay() -> Message:
        nonlocal replayed
        if not replayed:
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
