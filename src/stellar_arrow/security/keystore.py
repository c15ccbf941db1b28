"""The API key store: a SQLite file holding only SHA-256 hashes of 256-bit random keys.

A key is ``sa_`` followed by 43 base64url characters (32 random bytes from :mod:`secrets`); it is
returned once by :meth:`ApiKeyStore.create` and never stored. Because the key has 256 bits of
entropy, an unsalted SHA-256 is a sufficient one-way hash (no password stretching is needed).

Every lookup opens the file and reads the row, so a revocation or an expiry takes effect at once in
every process sharing the file (a lookup costs well under a millisecond). The file is created with
mode 0600 and uses WAL journaling with a 5 s busy timeout, so several services can share it. The same
file keeps the dashboard's browser sessions (table ``sessions``, :mod:`stellar_arrow.security.session`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import re
import secrets
import sqlite3
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from stellar_arrow.errors import AuthenticationError, ConfigError
from stellar_arrow.security.roles import Role, check_roles

__all__ = [
    "KEY_PREFIX",
    "ApiKeyRecord",
    "ApiKeyStore",
    "looks_like_api_key",
    "parse_duration",
]

KEY_PREFIX: Final = "sa_"
_KEY_RE: Final = re.compile(r"^sa_[A-Za-z0-9_-]{43}$")
_ID_RE: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_DURATION_RE: Final = re.compile(r"^(\d{1,6})([smhd])$")
_UNIT_S: Final = {"s": 1, "m": 60, "h": 3600, "d": 86400}

_SCHEMA: Final = (
    """
CREATE TABLE IF NOT EXISTS api_keys (
    key_id      TEXT PRIMARY KEY,
    key_hash    TEXT NOT NULL UNIQUE,
    description TEXT NOT NULL,
    roles       TEXT NOT NULL,
    created_at  REAL NOT NULL,
    expires_at  REAL,
    revoked_at  REAL
)
""",
    # browser sessions (stellar_arrow.security.session): the SHA-256 of the session id, never the id
    """
CREATE TABLE IF NOT EXISTS sessions (
    session_hash TEXT PRIMARY KEY,
    subject      TEXT NOT NULL,
    kind         TEXT NOT NULL,
    roles        TEXT NOT NULL,
    created_at   REAL NOT NULL,
    expires_at   REAL NOT NULL
)
""",
    "CREATE INDEX IF NOT EXISTS sessions_by_subject ON sessions (kind, subject)",
)


def looks_like_api_key(text: str) -> bool:
    """True when ``text`` has the shape of a stellar-arrow API key (not whether it is valid)."""
    return _KEY_RE.match(text) is not None


def parse_duration(text: str) -> float:
    """``90d``, ``12h``, ``30m`` or ``45s`` in seconds; ``ValueError`` otherwise."""
    match = _DURATION_RE.match(text.strip())
    if match is None or int(match.group(1)) == 0:
        msg = f"duration {text!r} must be a positive number followed by s, m, h or d (e.g. 90d)"
        raise ValueError(msg)
    return float(int(match.group(1)) * _UNIT_S[match.group(2)])


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class ApiKeyRecord:
    """What the store knows about a key (never the key itself)."""

    key_id: str
    description: str
    roles: tuple[Role, ...]
    created_at: float
    expires_at: float | None
    revoked_at: float | None

    def state(self, now: float) -> str:
        """``active``, ``revoked`` or ``expired`` at Unix time ``now``."""
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and now >= self.expires_at:
            return "expired"
        return "active"

    def as_json(self, now: float) -> dict[str, object]:
        return {
            "key_id": self.key_id,
            "description": self.description,
            "roles": list(self.roles),
            "created_at": self.created_at,
            "expires_at": self.expires_at,
            "revoked_at": self.revoked_at,
            "state": self.state(now),
        }


class ApiKeyStore:
    """API keys in the SQLite file ``path`` (created with its table on first use).

    ``clock`` returns Unix seconds (tests pass a shifted clock to make keys that are already expired).
    """

    def __init__(self, path: Path | str, *, clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self._clock = clock
        self._ready = False

    @contextlib.contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection to the store (autocommit; SQLite errors become :class:`ConfigError`)."""
        if not self._ready:
            self._create()
        try:
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
        except sqlite3.Error as exc:
            msg = f"API key store {self.path} cannot be opened: {exc}"
            raise ConfigError(msg, key="security.api_keys_file") from None
        try:
            yield conn
        except sqlite3.Error as exc:
            msg = f"API key store {self.path} failed: {exc}"
            raise ConfigError(msg, key="security.api_keys_file") from None
        finally:
            conn.close()

    def _create(self) -> None:
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            if not self.path.exists():
                os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
            conn = sqlite3.connect(self.path, timeout=5.0, isolation_level=None)
            try:
                conn.execute("PRAGMA journal_mode=WAL")
                for statement in _SCHEMA:
                    conn.execute(statement)
            finally:
                conn.close()
        except (OSError, sqlite3.Error) as exc:
            msg = f"API key store {self.path} cannot be created or opened: {exc}"
            raise ConfigError(msg, key="security.api_keys_file") from None
        self._ready = True

    # ------------------------------------------------------------------ administration
    def create(
        self,
        key_id: str,
        roles: tuple[str, ...] | list[str],
        *,
        description: str = "",
        expires_in_s: float | None = None,
    ) -> tuple[ApiKeyRecord, str]:
        """A new key for ``key_id``: its record and the key (shown once; only its hash is kept)."""
        if not _ID_RE.match(key_id):
            msg = f"key id {key_id!r} must be 1-64 characters of letters, digits, '.', '_' or '-'"
            raise ValueError(msg)
        checked = check_roles(list(roles), field="roles")
        if len(description) > 200 or any(ord(c) < 32 for c in description):
            msg = "description must be at most 200 printable characters"
            raise ValueError(msg)
        if expires_in_s is not None and expires_in_s <= 0:
            msg = f"expiry must be in the future, not {expires_in_s} s from now"
            raise ValueError(msg)
        now = self._clock()
        record = ApiKeyRecord(
            key_id=key_id,
            description=description,
            roles=checked,
            created_at=now,
            expires_at=None if expires_in_s is None else now + expires_in_s,
            revoked_at=None,
        )
        key = KEY_PREFIX + secrets.token_urlsafe(32)
        with self.connect() as conn:
            try:
                conn.execute(
                    "INSERT INTO api_keys VALUES (?, ?, ?, ?, ?, ?, NULL)",
                    (key_id, _hash(key), description, ",".join(checked), now, record.expires_at),
                )
            except sqlite3.IntegrityError:
                msg = f"key id {key_id!r} already exists (revoked ids are kept): choose another id"
                raise ValueError(msg) from None
        return record, key

    def revoke(self, key_id: str) -> ApiKeyRecord:
        """Mark ``key_id`` revoked (effective at once everywhere) and end the browser sessions it
        opened; ``KeyError`` if unknown."""
        with self.connect() as conn:
            conn.execute(
                "UPDATE api_keys SET revoked_at = ? WHERE key_id = ? AND revoked_at IS NULL",
                (self._clock(), key_id),
            )
            conn.execute("DELETE FROM sessions WHERE kind = 'api_key' AND subject = ?", (key_id,))
        record = self.get(key_id)
        if record is None:
            msg = f"no API key with id {key_id!r}"
            raise KeyError(msg)
        return record

    def get(self, key_id: str) -> ApiKeyRecord | None:
        with self.connect() as conn:
            row = conn.execute(
                "SELECT key_id, description, roles, created_at, expires_at, revoked_at "
                "FROM api_keys WHERE key_id = ?",
                (key_id,),
            ).fetchone()
        return None if row is None else _record(row)

    def records(self) -> list[ApiKeyRecord]:
        with self.connect() as conn:
            rows = conn.execute(
                "SELECT key_id, description, roles, created_at, expires_at, revoked_at "
                "FROM api_keys ORDER BY key_id"
            ).fetchall()
        return [_record(row) for row in rows]

    def now(self) -> float:
        return self._clock()

    # ------------------------------------------------------------------ authentication
    def authenticate(self, key: str) -> ApiKeyRecord:
        """The active record of ``key``; :class:`AuthenticationError` (without the key) otherwise."""
        if not looks_like_api_key(key):
            msg = "API key is malformed (expected sa_ followed by 43 base64url characters)"
            raise AuthenticationError(msg, reason="malformed")
        digest = _hash(key)
        with self.connect() as conn:
            row = conn.execute(
                "SELECT key_id, description, roles, created_at, expires_at, revoked_at, key_hash "
                "FROM api_keys WHERE key_hash = ?",
                (digest,),
            ).fetchone()
        if row is None or not hmac.compare_digest(row[6], digest):
            msg = "API key is not known"
            raise AuthenticationError(msg, reason="unknown_key")
        record = _record(row[:6])
        state = record.state(self._clock())
        if state != "active":
            msg = f"API key {record.key_id!r} is {state}"
            raise AuthenticationError(msg, reason=state)
        return record


def _record(row: tuple[object, ...]) -> ApiKeyRecord:
    key_id, description, roles, created, expires, revoked = row
    return ApiKeyRecord(
        key_id=str(key_id),
        description=str(description),
        roles=check_roles(str(roles).split(",")),
        created_at=float(created),  # type: ignore[arg-type]
        expires_at=None if expires is None else float(expires),  # type: ignore[arg-type]
        revoked_at=None if revoked is None else float(revoked),  # type: ignore[arg-type]
    )
