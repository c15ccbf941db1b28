"""HTTP/WebSocket client certificates: from the TLS connection to the ASGI scope to a principal.

uvicorn 0.54 verifies client certificates (``ssl_ca_certs`` + ``ssl_cert_reqs``) but puts nothing
about them in the ASGI scope: its protocols build the scope from the transport without the ASGI TLS
extension. :class:`TlsHttpProtocol` and :class:`TlsWebSocketProtocol` (uvicorn's httptools and
websockets-sansio protocols, which ``auto`` picks) add it: when a connection is made they read the
peer certificate from the transport's ``ssl_object`` and wrap the connection's ASGI app so every scope
of that connection carries ``scope["extensions"]["tls"]`` as the ASGI TLS extension describes
(``client_cert_chain`` as PEM, ``client_cert_name`` as an RFC 4514 string, ``tls_version``).

:func:`client_certificate_subject` returns the certificate's common name, which the authenticator
maps to a principal exactly as on Flight: a verified client certificate (and no header credential) is
an ``mtls`` principal with ``security.mtls_roles``. ``cryptography`` is imported on the first TLS
connection (a plain-text API never loads it: ~40 ms of start-up).
"""

from __future__ import annotations

import asyncio
import ssl
from typing import Any, Final

from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol
from uvicorn.protocols.websockets.websockets_sansio_impl import WebSocketsSansIOProtocol

__all__ = ["TlsHttpProtocol", "TlsWebSocketProtocol", "client_certificate_subject", "tls_extension"]

_TLS_VERSIONS: Final = {"TLSv1.2": 0x0303, "TLSv1.3": 0x0304}


def tls_extension(transport: asyncio.BaseTransport) -> dict[str, Any] | None:
    """The ASGI TLS extension of a connection (``None`` for a plain-text one)."""
    ssl_object = transport.get_extra_info("ssl_object")
    if not isinstance(ssl_object, ssl.SSLObject | ssl.SSLSocket):
        return None
    from cryptography import x509

    der = ssl_object.getpeercert(binary_form=True)
    chain = [ssl.DER_cert_to_PEM_cert(der)] if der else []
    name = x509.load_der_x509_certificate(der).subject.rfc4514_string() if der else None
    return {
        "server_cert": None,
        "client_cert_chain": chain,
        "client_cert_name": name,
        "client_cert_error": None,
        "tls_version": _TLS_VERSIONS.get(ssl_object.version() or ""),
        "cipher_suite": None,
    }


def _with_tls(app: ASGIApp, extension: dict[str, Any]) -> ASGIApp:
    async def with_tls(scope: Scope, receive: Receive, send: Send) -> None:
        scope["extensions"] = {**(scope.get("extensions") or {}), "tls": extension}
        await app(scope, receive, send)

    return with_tls


class TlsHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol, adding the ASGI TLS extension to every scope."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        extension = tls_extension(transport)
        if extension is not None:
            self.app = _with_tls(self.app, extension)


class TlsWebSocketProtocol(WebSocketsSansIOProtocol):
    """uvicorn's websockets-sansio protocol, adding the ASGI TLS extension to the handshake scope."""

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        super().connection_made(transport)
        extension = tls_extension(transport)
        if extension is not None:
            self.app = _with_tls(self.app, extension)


def client_certificate_subject(scope: Scope) -> str | None:
    """The common name (else the whole RFC 4514 name) of the client certificate of ``scope``."""
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or []
    if not chain:
        return None
    from cryptography import x509
    from cryptography.x509.oid import NameOID

    certificate = x509.load_pem_x509_certificate(chain[0].encode())
    names = certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    if names:
        return str(names[0].value)
    return certificate.subject.rfc4514_string() or "client-certificate"
