"""REST and WebSocket with client certificates (``client_ca_file``) on a real uvicorn server.

A client presenting a certificate signed by the configured CA becomes an ``mtls`` principal named by
the certificate's CN with ``mtls_roles`` (the Flight mapping); a header credential still wins. A client
without a certificate, or with one from another CA, is refused in the TLS handshake: no HTTP answer.
"""

from __future__ import annotations

import asyncio
import socket
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import InvalidMessage

from tests.integration.security.api_server import SecuredApi, start_secured
from tests.integration.security.conftest import Keys, security_settings
from tests.security_kit import CertificateAuthority

pytestmark = pytest.mark.integration

ROUTE = "/api/v1/stats/summary"
HANDSHAKE_REFUSED = (httpx.ConnectError, httpx.ReadError, httpx.RemoteProtocolError)


@pytest.fixture(scope="module")
def cas() -> tuple[CertificateAuthority, CertificateAuthority]:
    return CertificateAuthority("stellar-arrow-ca"), CertificateAuthority("rogue-ca")


@pytest.fixture
def mtls_api(
    tmp_path: Path, keys: Keys, cas: tuple[CertificateAuthority, CertificateAuthority]
) -> Iterator[SecuredApi]:
    ours = cas[0]
    cert, key = ours.issue("api").write(tmp_path, "api")
    (tmp_path / "ca.crt").write_bytes(ours.pem)
    settings = security_settings(
        keys,
        tls_enabled=True,
        cert_file=str(cert),
        key_file=str(key),
        client_ca_file=str(tmp_path / "ca.crt"),
        mtls_roles=("reader",),
    )
    api = start_secured(tmp_path / "out", settings)
    yield api
    api.stop()


def _context(tmp_path: Path, client: tuple[Path, Path] | None) -> ssl.SSLContext:
    context = ssl.create_default_context(cafile=str(tmp_path / "ca.crt"))
    if client is not None:
        context.load_cert_chain(str(client[0]), str(client[1]))
    return context


def _client_cert(tmp_path: Path, ca: CertificateAuthority, cn: str) -> tuple[Path, Path]:
    return ca.issue(cn, server=False).write(tmp_path, cn)


async def _ws(url: str, context: ssl.SSLContext, headers: dict[str, str] | None = None) -> str:
    async with connect(url, ssl=context, additional_headers=headers or {}, open_timeout=10) as ws:
        await ws.send('{"type": "ping"}')
        while True:
            message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
            if message["type"] == "pong":
                return "open"


def test_a_certificate_from_the_ca_is_a_principal(
    mtls_api: SecuredApi, keys: Keys, tmp_path: Path, cas: tuple[CertificateAuthority, CertificateAuthority]
) -> None:
    context = _context(tmp_path, _client_cert(tmp_path, cas[0], "dashboard-reader"))
    with httpx.Client(base_url=mtls_api.base_url, verify=context, timeout=10) as http:
        assert http.get(ROUTE).status_code == 200  # no header: the certificate is the credential
        refused = http.get("/api/v1/admin/api-keys")  # mtls_roles: reader
        assert refused.status_code == 403
        assert "mtls 'dashboard-reader'" in refused.json()["detail"]
        assert http.get("/api/v1/admin/api-keys", headers={"x-api-key": keys.admin}).status_code == 200
        wrong = http.get(ROUTE, headers={"x-api-key": "sa_" + "Q" * 43})  # a bad header is not ignored
        assert wrong.status_code == 401
        login = http.post("/api/v1/session")
        assert login.status_code == 200 and login.json()["subject"] == "dashboard-reader"
        metrics = http.get("/metrics", headers={"x-api-key": keys.admin}).text
    assert 'auth_attempts_total{status="ok",type="mtls"}' in metrics
    assert asyncio.run(_ws(mtls_api.ws_url, context)) == "open"


def test_no_certificate_or_a_foreign_one_is_refused_in_the_handshake(
    mtls_api: SecuredApi, keys: Keys, tmp_path: Path, cas: tuple[CertificateAuthority, CertificateAuthority]
) -> None:
    bare = _context(tmp_path, None)
    foreign = _context(tmp_path, _client_cert(tmp_path, cas[1], "mallory"))
    for context in (bare, foreign):
        with httpx.Client(base_url=mtls_api.base_url, verify=context, timeout=10) as http:
            with pytest.raises(HANDSHAKE_REFUSED):
                http.get(ROUTE, headers={"x-api-key": keys.admin})  # even with a valid key
            with pytest.raises(HANDSHAKE_REFUSED):
                http.get("/health/live")
        with pytest.raises((ssl.SSLError, OSError, InvalidMessage)):
            asyncio.run(_ws(mtls_api.ws_url, context, {"x-api-key": keys.admin}))
    # a raw TLS client gets the server's alert or a closed connection, never an HTTP answer
    answer = b""
    with socket.create_connection(("127.0.0.1", mtls_api.server.port), timeout=10) as raw:
        try:
            with bare.wrap_socket(raw, server_hostname="localhost") as tls:
                tls.sendall(b"GET /health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
                answer = tls.recv(1024)
        except (ssl.SSLError, ConnectionError) as exc:
            answer = repr(exc).encode()
    assert not answer.startswith(b"HTTP/"), answer
