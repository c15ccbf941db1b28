"""Browser sessions kept in the key store: how the dashboard authenticates.

The dashboard cannot put headers on a WebSocket handshake, and a key in a URL (``?token=``) ends up in
logs and browser history. So the page POSTs its API key (or JWT) once to ``/api/v1/session`` in a
header and receives a cookie ``sa_session``: HttpOnly (scripts cannot read it), SameSite=Strict (other
sites cannot send it), Secure under TLS. The cookie value is a random 256-bit session id (``ss_`` +
43 base64url characters); the ``sessions`` table of the SQLite key store keeps only its SHA-256 with
the principal (subject, credential kind, roles) and the expiry: ``session_ttl_s`` at most and never
past the credential's own expiry. So a restarted API (or another API process sharing the store)
accepts a session that is still valid; logging out deletes the row; revoking the API key that opened
a session deletes its sessions at once (:meth:`ApiKeyStore.revoke`), and the middleware also re-checks
an API-key session against the store on every use. Expired rows are purged when sessions are opened,
and at most ``max_sessions`` are kept (the oldest are ended first).
"""

from __future__ import annotations

import hashlib
import re
import secrets
import time
from collections.abc import Callable
from typing import Final, cast

from stellar_arrow.errors import AuthenticationError
from stellar_arrow.security.keystore import ApiKeyStore
from stellar_arrow.security.roles import CredentialKind, Principal, check_roles

__all__ = ["SESSION_COOKIE", "SESSION_PREFIX", "SessionStore"]

SESSION_COOKIE: Final = "sa_session"
SESSION_PREFIX: Final = "ss_"
_SESSION_RE: Final = re.compile(r"^ss_[A-Za-z0-9_-]{43}$")
_KINDS: Final = frozenset({"api_key", "jwt", "mtls"})


def _hash(session_id: str) -> str:
    return hashlib.sha256(session_id.encode()).hexdigest()


class SessionStore:
    """Sessions in the ``sessions`` table of ``keys``' SQLite file (see the module docstring)."""

    def __init__(
        self,
        keys: ApiKeyStore,
        ttl_s: float,
        *,
        max_sessions: int = 100_000,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.ttl_s = ttl_s
        self.max_sessions = max_sessions
        self._clock = clock

    def now(self) -> float:
        return self._clock()

    def issue(self, principal: Principal) -> tuple[str, float]:
        """A new session id for ``principal`` (shown once, only its hash is kept) and its expiry."""
        if principal.kind not in _KINDS:
            msg = f"no session for a {principal.kind} principal"
            raise ValueError(msg)
        now = self._clock()
        expires = now + self.ttl_s
        if principal.expires_at is not None:
            expires = min(expires, principal.expires_at)
        session_id = SESSION_PREFIX + secrets.token_urlsafe(32)
        with self.keys.connect() as conn:
            conn.execute("DELETE FROM sessions WHERE expires_at <= ?", (now,))
            (count,) = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()
            if count >= self.max_sessions:
                conn.execute(
                    "DELETE FROM sessions WHERE session_hash IN "
                    "(SELECT session_hash FROM sessions ORDER BY created_at LIMIT ?)",
                    (count - self.max_sessions + 1,),
                )
            roles = ",".join(principal.roles)
            conn.execute(
                "INSERT INTO sessions VALUES (?, ?, ?, ?, ?, ?)",
                (_hash(session_id), principal.subject, principal.kind, roles, now, expires),
            )
        return session_id, expires

    def verify(self, value: str) -> Principal:
        """The principal of a live session; :class:`AuthenticationError` (never echoing it) otherwise."""
        if not _SESSION_RE.match(value):
            msg = "session cookie is malformed"
            raise AuthenticationError(msg, reason="malformed")
        digest = _hash(value)
        with self.keys.connect() as conn:
            row = conn.execute(
                "SELECT subject, kind, roles, expires_at FROM sessions WHERE session_hash = ?", (digest,)
            ).fetchone()
            if row is not None and self._clock() >= float(row[3]):
                conn.execute("DELETE FROM sessions WHERE session_hash = ?", (digest,))
                msg = "session has expired: log in again"
                raise AuthenticationError(msg, reason="expired")
        if row is None:
            msg = "session is not known (logged out, ended by a key revocation, or never issued)"
            raise AuthenticationError(msg, reason="invalid_token")
        subject, kind, roles, expires = row
        return Principal(
            subject=str(subject),
            kind=cast(CredentialKind, kind),
            roles=check_roles(str(roles).split(",")),
            expires_at=float(expires),
        )

    def end(self, value: str) -> None:
        """Log out: forget the session ``value`` (nothing happens for an unknown one)."""
        if _SESSION_RE.match(value):
            with self.keys.connect() as conn:
                conn.execute("DELETE FROM sessions WHERE session_hash = ?", (_hash(value),))

    def __len__(self) -> int:
        with self.keys.connect() as conn:
            (count,) = conn.execute("SELECT COUNT(*) FROM sessions").fetchone()
        return int(count)
