"""Short-lived signed session cookies: how the browser dashboard authenticates.

The dashboard cannot put headers on a WebSocket handshake, and a key in a URL (``?token=``) ends up in
logs and browser history. So the page POSTs its API key (or JWT) once to ``/api/v1/session`` in a
header and receives a cookie ``sa_session``: HttpOnly (scripts cannot read it), SameSite=Strict (other
sites cannot send it), Secure under TLS, valid for ``session_ttl_s`` at most and never past the
credential's own expiry. The cookie carries the principal and an HMAC-SHA256 over it with a random
per-process secret; it is honoured only on GET/HEAD and WebSocket handshakes (admin changes need the
header), and an API-key session is re-checked against the key store on every use, so revoking the key
ends its sessions too. Sessions do not survive a restart of the server.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Callable
from typing import Final

from stellar_arrow.errors import AuthenticationError
from stellar_arrow.security.roles import Principal, check_roles

__all__ = ["SESSION_COOKIE", "SessionSigner"]

SESSION_COOKIE: Final = "sa_session"
_MAX_COOKIE = 2048


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SessionSigner:
    """Issues and checks session cookie values for :class:`Principal` objects."""

    def __init__(self, ttl_s: float, *, clock: Callable[[], float] = time.time) -> None:
        self._secret = secrets.token_bytes(32)
        self.ttl_s = ttl_s
        self._clock = clock

    def issue(self, principal: Principal) -> tuple[str, float]:
        """The cookie value and its expiry (Unix seconds)."""
        expires = self._clock() + self.ttl_s
        if principal.expires_at is not None:
            expires = min(expires, principal.expires_at)
        body = {
            "sub": principal.subject,
            "kind": principal.kind,
            "roles": list(principal.roles),
            "exp": expires,
        }
        payload = _b64(json.dumps(body, separators=(",", ":")).encode())
        return f"{payload}.{self._sign(payload)}", expires

    def _sign(self, payload: str) -> str:
        return _b64(hmac.new(self._secret, payload.encode(), hashlib.sha256).digest())

    def now(self) -> float:
        return self._clock()

    def verify(self, value: str) -> Principal:
        if len(value) > _MAX_COOKIE or value.count(".") != 1:
            msg = "session cookie is malformed"
            raise AuthenticationError(msg, reason="malformed")
        payload, signature = value.split(".")
        if not hmac.compare_digest(signature, self._sign(payload)):
            msg = "session cookie is not valid (signed by another server run, or altered)"
            raise AuthenticationError(msg, reason="invalid_token")
        body = json.loads(_unb64(payload))  # signed by us: well-formed
        if self._clock() >= float(body["exp"]):
            msg = "session has expired: log in again"
            raise AuthenticationError(msg, reason="expired")
        return Principal(
            subject=str(body["sub"]),
            kind=body["kind"],
            roles=check_roles(body["roles"]),
            expires_at=body["exp"],
        )
