"""Authentication, authorization and TLS for the Flight services (server and client side).

Server: :class:`FlightSecurity` gives a :class:`LedgerFlightServer` its middleware (every call is
authenticated from its ``authorization`` / ``x-api-key`` metadata in ``start_call``, and the method's
permission is checked there), TLS certificates (``grpc+tls``) and, with ``client_ca_file``, mutual
TLS. Actions are authorized per action name in the handler (:meth:`FlightSecurity.authorize_action`).
An open ``do_get`` stream re-checks its credential at most every :data:`REVALIDATE_INTERVAL_S`
seconds while it produces or waits, and ends with ``FlightUnauthenticatedError`` once the API key is
revoked or the credential has expired. Authentication is counted in the process registry's
``auth_attempts_total{type,status}`` and ``api_key_usage_total{key_id}``. With ``rate_limit_enabled``
a token bucket per principal (in ``start_call``) and one per peer IP (:meth:`FlightSecurity.admit_peer`,
first thing in every handler: pyarrow's Python middleware does not see the peer) refuse a call with
``FlightUnavailableError`` "rate limited ... retry after N s", counted in
``rate_limit_rejections_total{name}`` (``per_key``, ``per_ip``).

Client: :class:`FlightClientSecurity` connects to another service with the CA to trust, the service's
own certificate (mTLS) and its ``service_api_key`` as a bearer header on every call.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

import pyarrow.flight as fl

from stellar_arrow.config import SecuritySettings
from stellar_arrow.errors import AuthenticationError, AuthorizationError, ConfigError
from stellar_arrow.observability.metrics import RATE_LIMIT_REJECTIONS
from stellar_arrow.resilience.ratelimit import KeyedBuckets, retry_after
from stellar_arrow.security.authenticator import Authenticator, AuthObserver, Credential
from stellar_arrow.security.metrics import observe_auth
from stellar_arrow.security.policy import build_authenticator
from stellar_arrow.security.roles import Permission, Principal

__all__ = [
    "ACTION_PERMISSIONS",
    "METHOD_PERMISSIONS",
    "PRIVATE_STATUS_KEYS",
    "REVALIDATE_INTERVAL_S",
    "FlightClientSecurity",
    "FlightSecurity",
    "peer_ip",
]

T = TypeVar("T")

REVALIDATE_INTERVAL_S: Final = 1.0
"""An open stream notices a revoked or expired credential within this many seconds (plus one batch)."""

_M = fl.FlightMethod
METHOD_PERMISSIONS: Final[dict[Any, Permission]] = {
    _M.LIST_FLIGHTS: "read_ledgers",
    _M.GET_FLIGHT_INFO: "read_ledgers",
    _M.GET_SCHEMA: "read_ledgers",
    _M.DO_GET: "read_ledgers",
    _M.DO_PUT: "write_ledgers",
    _M.DO_EXCHANGE: "write_ledgers",
    _M.LIST_ACTIONS: "read_metrics",
    _M.DO_ACTION: "read_metrics",  # the minimum; each action is then checked by name
    _M.HANDSHAKE: "read_metrics",
}
ACTION_PERMISSIONS: Final[dict[str, Permission]] = {
    "health": "read_metrics",
    "status": "read_metrics",
    "current_ledger": "read_metrics",
    "latest_ledger": "read_ledgers",
}
"""Actions not listed here need ``admin``."""

PRIVATE_STATUS_KEYS: Final = ("output_dir",)
"""``status`` keys shown to ``admin`` principals only."""

_MIDDLEWARE_KEY: Final = "stellar_arrow_auth"


def peer_ip(peer: str) -> str:
    """The IP address of a gRPC peer string (``ipv4:127.0.0.1:5000``, ``ipv6:[::1]:5000``)."""
    kind, _, rest = peer.partition(":")
    if kind == "ipv6" and rest.startswith("["):
        return rest[1 : rest.find("]")] if "]" in rest else rest
    if kind == "ipv4":
        return rest.rsplit(":", 1)[0]
    return peer or "unknown"


def _method_name(method: Any) -> str:
    return str(getattr(method, "name", method))


def _header(headers: Mapping[str, list[Any]], name: str) -> str | None:
    values = headers.get(name)
    if not values:
        return None
    if len(values) > 1:
        msg = f"metadata {name!r} sent {len(values)} times"
        raise AuthenticationError(msg, reason="malformed")
    value = values[0]
    return value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value)


class _CallPrincipal(fl.ServerMiddleware):  # type: ignore[misc]
    def __init__(self, principal: Principal) -> None:
        self.principal = principal


class _AuthMiddlewareFactory(fl.ServerMiddlewareFactory):  # type: ignore[misc]
    def __init__(self, security: FlightSecurity) -> None:
        self._security = security

    def start_call(self, info: Any, headers: Mapping[str, list[Any]]) -> _CallPrincipal:
        security = self._security
        method = _method_name(info.method)
        where = f"{security.service} {method}"
        try:
            credential = Credential(
                authorization=_header(headers, "authorization"),
                api_key=_header(headers, "x-api-key"),
                peer_identity="client-certificate" if security.mutual_tls else None,
            )
            principal = security.authenticator.authenticate(credential, where=where)
        except AuthenticationError as exc:
            msg = f"{where}: {exc}"
            raise fl.FlightUnauthenticatedError(msg) from None
        permission = METHOD_PERMISSIONS.get(info.method, "admin")
        try:
            principal.require(permission, what=where)
        except AuthorizationError as exc:
            msg = f"{where}: {exc}"
            raise fl.FlightUnauthorizedError(msg) from None
        if security.per_key is not None and principal.kind != "anonymous":
            security.limit(security.per_key, f"{principal.kind}:{principal.subject}", "per_key", where)
        return _CallPrincipal(principal)


@dataclass
class FlightSecurity:
    """Everything a Flight server needs to enforce the ``security`` settings."""

    authenticator: Authenticator
    service: str = "service"
    tls: tuple[bytes, bytes] | None = None  # (certificate chain PEM, private key PEM)
    client_ca: bytes | None = None  # set => mutual TLS
    per_ip: KeyedBuckets | None = None  # token bucket per peer IP (checked in every handler)
    per_key: KeyedBuckets | None = None  # token bucket per principal (checked in start_call)

    @classmethod
    def from_settings(
        cls, security: SecuritySettings, *, service: str, observer: AuthObserver | None = observe_auth
    ) -> FlightSecurity:
        tls = None
        client_ca = None
        if security.tls_enabled:
            assert security.cert_file and security.key_file  # checked by SecuritySettings
            tls = (_read(security.cert_file, "cert_file"), _read(security.key_file, "key_file"))
            if security.client_ca_file:
                client_ca = _read(security.client_ca_file, "client_ca_file")
        per_ip = per_key = None
        if security.rate_limit_enabled:
            per_ip = KeyedBuckets(security.rate_limit_per_ip_rps, security.rate_limit_per_ip_burst)
            per_key = KeyedBuckets(security.rate_limit_per_key_rps, security.rate_limit_per_key_burst)
        return cls(build_authenticator(security, observer), service, tls, client_ca, per_ip, per_key)

    def limit(self, buckets: KeyedBuckets, key: str, name: str, where: str) -> None:
        """Take a token for ``key`` or refuse the call: ``FlightUnavailableError`` with a retry hint
        (in the message and as ``extra_info`` JSON ``{"code": "rate_limited", "retry_after_s": n}``)."""
        wait = buckets.take(key)
        if wait > 0:
            RATE_LIMIT_REJECTIONS.labels(name).inc()
            after = int(retry_after(wait))
            info = json.dumps({"code": "rate_limited", "limit": name, "retry_after_s": after}).encode()
            msg = f"{where}: rate limited ({name}): retry after {after} s"
            raise fl.FlightUnavailableError(msg, info)

    def admit_peer(self, context: fl.ServerCallContext, method: str) -> None:
        """The per-IP token bucket of the calling peer (every Flight handler calls this first)."""
        if self.per_ip is not None:
            self.limit(self.per_ip, peer_ip(context.peer()), "per_ip", f"{self.service} {method}")

    @property
    def mutual_tls(self) -> bool:
        return self.client_ca is not None

    @property
    def scheme(self) -> str:
        return "grpc+tls" if self.tls is not None else "grpc"

    def server_options(self) -> dict[str, Any]:
        """Keyword arguments for ``FlightServerBase.__init__``."""
        options: dict[str, Any] = {}
        if self.authenticator.enabled:
            options["middleware"] = {_MIDDLEWARE_KEY: _AuthMiddlewareFactory(self)}
        if self.tls is not None:
            options["tls_certificates"] = [fl.CertKeyPair(*self.tls)]
            if self.client_ca is not None:
                options["verify_client"] = True
                options["root_certificates"] = self.client_ca
        return options

    def location(self, host: str, port: int) -> fl.Location:
        if self.tls is not None:
            return fl.Location.for_grpc_tls(host, port)
        return fl.Location.for_grpc_tcp(host, port)

    @staticmethod
    def principal(context: fl.ServerCallContext) -> Principal | None:
        middleware = context.get_middleware(_MIDDLEWARE_KEY)
        return middleware.principal if isinstance(middleware, _CallPrincipal) else None

    def authorize_action(self, context: fl.ServerCallContext, action: str) -> None:
        """Raise ``FlightUnauthorizedError`` unless the caller may run ``action``."""
        principal = self.principal(context)
        if principal is None:
            return
        where = f"{self.service} DoAction {action[:64]!r}"
        try:
            principal.require(ACTION_PERMISSIONS.get(action, "admin"), what=where)
        except AuthorizationError as exc:
            msg = f"{where}: {exc}"
            raise fl.FlightUnauthorizedError(msg) from None

    def visible_status(self, context: fl.ServerCallContext, body: dict[str, Any]) -> dict[str, Any]:
        """``body`` without :data:`PRIVATE_STATUS_KEYS` unless the caller is an admin."""
        principal = self.principal(context)
        if principal is None or "admin" in principal.permissions:
            return body
        return {k: v for k, v in body.items() if k not in PRIVATE_STATUS_KEYS}

    def stream_guard(self, context: fl.ServerCallContext) -> StreamGuard | None:
        principal = self.principal(context)
        if principal is None or principal.kind in ("anonymous", "mtls"):
            return None
        return StreamGuard(self.authenticator, principal, self.service)


class StreamGuard:
    """Re-checks one stream's credential at most every :data:`REVALIDATE_INTERVAL_S` seconds."""

    def __init__(self, authenticator: Authenticator, principal: Principal, service: str) -> None:
        self._authenticator = authenticator
        self._principal = principal
        self._service = service
        self._checked = time.monotonic()
        self._lock = threading.Lock()
        self.revoked = False

    def poll(self) -> bool:
        """True once the credential is no longer valid (cheap between checks)."""
        if self.revoked:
            return True
        now = time.monotonic()
        with self._lock:
            if now - self._checked < REVALIDATE_INTERVAL_S:
                return False
            self._checked = now
        if not self._authenticator.still_valid(self._principal):
            self.revoked = True
        return self.revoked

    def cancelled_or(self, client_cancelled: Callable[[], bool]) -> Callable[[], bool]:
        return lambda: client_cancelled() or self.poll()

    def wrap(self, messages: Iterator[T]) -> Iterator[T]:
        """Yield ``messages`` until the credential lapses, then end with ``FlightUnauthenticatedError``."""
        try:
            for message in messages:
                if self.poll():
                    break
                yield message
        except fl.FlightCancelledError:
            if not self.revoked:
                raise
        if self.revoked:
            who = self._principal.subject
            msg = f"{self._service} DoGet: credential of {who!r} was revoked or expired during the stream"
            raise fl.FlightUnauthenticatedError(msg)


def _read(path: str, key: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as exc:
        msg = f"security.{key} {path} cannot be read: {exc.strerror}"
        raise ConfigError(msg, key=f"security.{key}") from None


class _BearerMiddleware(fl.ClientMiddleware):  # type: ignore[misc]
    def __init__(self, header: str) -> None:
        self._header = header

    def sending_headers(self) -> dict[str, str]:
        return {"authorization": self._header}


class _BearerFactory(fl.ClientMiddlewareFactory):  # type: ignore[misc]
    def __init__(self, key: str) -> None:
        self._header = f"Bearer {key}"

    def start_call(self, info: Any) -> _BearerMiddleware:
        return _BearerMiddleware(self._header)


@dataclass(frozen=True)
class FlightClientSecurity:
    """How a service (or tool) connects to a stellar-arrow Flight service."""

    api_key: str | None = None
    root_certs: bytes | None = None
    cert_chain: bytes | None = None
    private_key: bytes | None = None

    @classmethod
    def from_settings(cls, security: SecuritySettings) -> FlightClientSecurity:
        key = security.service_api_key.get_secret_value() if security.service_api_key else None
        if not security.tls_enabled:
            return cls(api_key=key)
        ca_file = security.ca_file or security.client_ca_file
        root = _read(ca_file, "ca_file") if ca_file else None
        chain = private = None
        if security.client_ca_file:
            assert security.cert_file and security.key_file
            chain, private = _read(security.cert_file, "cert_file"), _read(security.key_file, "key_file")
        return cls(api_key=key, root_certs=root, cert_chain=chain, private_key=private)

    @property
    def tls(self) -> bool:
        return self.root_certs is not None or self.cert_chain is not None

    def uri(self, endpoint: str) -> str:
        """``endpoint`` with ``grpc://``/``grpc+tcp://`` upgraded to ``grpc+tls://`` when TLS is on."""
        if self.tls:
            for plain in ("grpc://", "grpc+tcp://"):
                if endpoint.startswith(plain):
                    return "grpc+tls://" + endpoint[len(plain) :]
        return endpoint

    def connect(self, endpoint: str) -> fl.FlightClient:
        options: dict[str, Any] = {}
        if self.root_certs is not None:
            options["tls_root_certs"] = self.root_certs
        if self.cert_chain is not None:
            options["cert_chain"] = self.cert_chain
            options["private_key"] = self.private_key
        if self.api_key is not None:
            options["middleware"] = [_BearerFactory(self.api_key)]
        return fl.FlightClient(self.uri(endpoint), **options)

    def __repr__(self) -> str:  # never show the key or the private key
        return f"FlightClientSecurity(api_key={'***' if self.api_key else None}, tls={self.tls})"
