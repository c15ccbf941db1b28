"""One authenticator for every entry point: a credential in, a :class:`Principal` or a typed error out.

Credentials on the wire: ``Authorization: Bearer <API key or JWT>`` or ``X-API-Key: <API key>``
(only one of them per request). A bearer value starting with ``sa_`` is an API key, any other
value a JWT. A verified mTLS client certificate (Flight) stands for ``mtls_roles`` when no header
credential is sent. With authentication disabled every caller is the anonymous admin.

Failures are logged (never with the credential) and counted through ``observer``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from stellar_arrow.errors import AuthenticationError
from stellar_arrow.security.keystore import KEY_PREFIX, ApiKeyStore
from stellar_arrow.security.roles import Principal, Role
from stellar_arrow.security.tokens import JwtVerifier, looks_like_jwt

__all__ = ["ANONYMOUS", "AuthObserver", "Authenticator", "Credential"]

log = logging.getLogger(__name__)

ANONYMOUS: Final = Principal(subject="anonymous", kind="anonymous", roles=("admin",))
_MAX_CREDENTIAL = 8192

AuthObserver = Callable[[str, str, Principal | None], None]
"""``(credential type, status, principal)``: type api_key/jwt/mtls/none; status ok or the refusal reason."""


@dataclass(frozen=True, slots=True)
class Credential:
    """The raw credential headers of one request (values as received; never logged)."""

    authorization: str | None = None
    api_key: str | None = None
    peer_identity: str | None = None  # CN of a verified client certificate (mTLS)


@dataclass
class Authenticator:
    """Turns a :class:`Credential` into a :class:`Principal`; see the module docstring."""

    store: ApiKeyStore | None
    jwt: JwtVerifier | None = None
    enabled: bool = True
    mtls_roles: tuple[Role, ...] = ("processor",)
    observer: AuthObserver | None = None
    clock: Callable[[], float] = field(default=time.time)

    def authenticate(self, credential: Credential, *, where: str = "request") -> Principal:
        if not self.enabled:
            return ANONYMOUS
        kind = "none"
        try:
            kind, principal = self._authenticate(credential)
        except AuthenticationError as exc:
            log.warning("authentication failed for %s: %s (%s)", where, exc.reason, exc)
            self._observe(kind if kind != "none" else _kind_of(credential), exc.reason, None)
            raise
        self._observe(kind, "ok", principal)
        return principal

    def _observe(self, kind: str, status: str, principal: Principal | None) -> None:
        if self.observer is not None:
            self.observer(kind, status, principal)

    def _authenticate(self, credential: Credential) -> tuple[str, Principal]:
        authorization, api_key = credential.authorization, credential.api_key
        if authorization is not None and api_key is not None:
            msg = "send one credential: Authorization or X-API-Key, not both"
            raise AuthenticationError(msg, reason="malformed")
        if authorization is not None:
            scheme, _, value = authorization.strip().partition(" ")
            value = value.strip()
            if scheme.lower() != "bearer" or not value or " " in value:
                msg = "Authorization header must be 'Bearer <API key or JWT>'"
                raise AuthenticationError(msg, reason="malformed")
            return self._bearer(value)
        if api_key is not None:
            return "api_key", self._api_key(api_key.strip())
        if credential.peer_identity:
            return "mtls", Principal(subject=credential.peer_identity, kind="mtls", roles=self.mtls_roles)
        msg = "credentials required: Authorization: Bearer <API key or JWT>, or X-API-Key"
        raise AuthenticationError(msg, reason="missing")

    def _bearer(self, value: str) -> tuple[str, Principal]:
        if len(value) > _MAX_CREDENTIAL:
            msg = f"bearer credential longer than {_MAX_CREDENTIAL} characters"
            raise AuthenticationError(msg, reason="malformed")
        if value.startswith(KEY_PREFIX):
            return "api_key", self._api_key(value)
        if not looks_like_jwt(value):
            msg = "bearer credential is neither an API key (sa_...) nor a JWT"
            raise AuthenticationError(msg, reason="malformed")
        if self.jwt is None:
            msg = "JWTs are not accepted by this service (no jwt_secret or jwt_public_key_file)"
            raise AuthenticationError(msg, reason="invalid_token")
        return "jwt", self.jwt.verify(value)

    def _api_key(self, value: str) -> Principal:
        if self.store is None:
            msg = "API keys are not accepted by this service (no key store)"
            raise AuthenticationError(msg, reason="unknown_key")
        record = self.store.authenticate(value)
        return Principal(
            subject=record.key_id, kind="api_key", roles=record.roles, expires_at=record.expires_at
        )

    def still_valid(self, principal: Principal) -> bool:
        """Whether ``principal``'s credential is still good (API keys: read from the store again)."""
        if principal.kind in ("anonymous", "mtls"):
            return True
        now = self.clock()
        if principal.expires_at is not None and now >= principal.expires_at:
            return False
        if principal.kind == "api_key":
            if self.store is None:
                return False
            record = self.store.get(principal.subject)
            return record is not None and record.state(self.store.now()) == "active"
        return True


def _kind_of(credential: Credential) -> str:
    if credential.api_key is not None:
        return "api_key"
    if credential.authorization is not None:
        value = credential.authorization.strip().partition(" ")[2].strip()
        return "api_key" if value.startswith(KEY_PREFIX) else "jwt"
    return "none"
