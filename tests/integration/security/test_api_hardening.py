"""Browser-facing hardening on a real uvicorn server: Host, Origin, CORS, headers, size and rate limits."""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from stellar_arrow.config import load_settings
from tests.integration.security.api_server import SecuredApi, start_secured
from tests.integration.security.conftest import Keys, security_settings
from tests.security_kit import CertificateAuthority, tls_client_context, tls_handshake

pytestmark = pytest.mark.integration

EVIL = "http://evil.example"
DASHBOARD = "https://dashboard.example.org"


@pytest.fixture
def default_api(tmp_path: Path) -> Iterator[SecuredApi]:
    """The embedded default: auth off, loopback, hardening on."""
    running = start_secured(tmp_path / "out", load_settings().security)
    yield running
    running.stop()


async def _ws(url: str, headers: dict[str, str], message: str = '{"type": "ping"}', **kw: object) -> str:
    try:
        async with connect(url, additional_headers=headers, open_timeout=10, **kw) as ws:  # type: ignore[arg-type]
            await ws.send(message)
            reply = await asyncio.wait_for(ws.recv(), 10)
            while '"status"' in str(reply):
                reply = await asyncio.wait_for(ws.recv(), 10)
            return f"reply {reply!s:.40}"
    except InvalidStatus as exc:
        return f"refused {exc.response.status_code}"
    except ConnectionClosed as exc:
        return f"closed {exc.rcvd.code if exc.rcvd else None}"


def test_default_refuses_foreign_origins_and_hosts(default_api: SecuredApi) -> None:
    url = default_api.ws_url
    assert asyncio.run(_ws(url, {})).startswith("reply")  # a non-browser client sends no Origin
    same = f"http://127.0.0.1:{default_api.server.port}"
    assert asyncio.run(_ws(url, {"origin": same})).startswith("reply")
    assert asyncio.run(_ws(url, {"origin": EVIL})) == "refused 403"
    with default_api.client() as http:
        assert http.get("/api/v1/stats/summary").status_code == 200  # auth off: open
        rebinding = http.get("/api/v1/stats/summary", headers={"host": "evil.example"})
        assert rebinding.status_code == 400 and "allowed_hosts" in rebinding.json()["detail"]
        assert "_embedded" not in rebinding.text
        assert http.get("/health", headers={"host": "localhost:1234"}).status_code == 200
        dotted = http.get("/static/%2e%2e/api/v1/stats/summary")  # decoded by the server: /static/../api
        assert dotted.status_code == 400 and "'..'" in dotted.json()["detail"]
        # admin endpoints exist only with authentication on
        assert http.get("/api/v1/admin/api-keys").status_code == 404


def test_security_headers_on_every_response(default_api: SecuredApi, tmp_path: Path, keys: Keys) -> None:
    with default_api.client() as http:
        for path in ("/", "/health", "/api/v1/stats/summary", "/nope", "/metrics", "/docs"):
            response = http.get(path)
            headers = response.headers
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["x-frame-options"] == "DENY"
            assert headers["referrer-policy"] == "no-referrer"
            csp = headers["content-security-policy"]
            assert "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
            assert ("'unsafe-inline'" in csp) == (path == "/docs")
            assert "strict-transport-security" not in headers
        bad_host = http.get("/health", headers={"host": "evil.example"})
        assert bad_host.headers["x-frame-options"] == "DENY"


def test_cors_only_for_configured_origins(tmp_path: Path, keys: Keys) -> None:
    api = start_secured(tmp_path / "out", security_settings(keys, cors_origins=[DASHBOARD]))
    try:
        with api.client() as http:
            preflight = http.options(
                "/api/v1/transfers",
                headers={
                    "origin": DASHBOARD,
                    "access-control-request-method": "GET",
                    "access-control-request-headers": "authorization",
                },
            )
            assert preflight.status_code == 200
            assert preflight.headers["access-control-allow-origin"] == DASHBOARD
            evil = http.options(
                "/api/v1/transfers", headers={"origin": EVIL, "access-control-request-method": "GET"}
            )
            assert "access-control-allow-origin" not in evil.headers
            read = http.get("/api/v1/stats/summary", headers={"origin": DASHBOARD, "x-api-key": keys.reader})
            assert read.status_code == 200 and read.headers["access-control-allow-origin"] == DASHBOARD
            foreign = http.get("/api/v1/stats/summary", headers={"origin": EVIL, "x-api-key": keys.reader})
            assert "access-control-allow-origin" not in foreign.headers  # the browser will not expose it
            assert http.get("/api/v1/stats/summary", headers={"origin": DASHBOARD}).status_code == 401
        assert asyncio.run(_ws(api.ws_url, {"origin": DASHBOARD, "x-api-key": keys.reader})).startswith(
            "reply"
        )
        assert asyncio.run(_ws(api.ws_url, {"origin": EVIL, "x-api-key": keys.reader})) == "refused 403"
    finally:
        api.stop()


def test_body_and_message_size_limits(tmp_path: Path, keys: Keys) -> None:
    api = start_secured(tmp_path / "out", security_settings(keys, max_body_bytes=4096))
    admin = {"x-api-key": keys.admin}
    try:
        with api.client() as http:
            big = b'{"key_id": "x", "roles": ["reader"], "description": "' + b"a" * 5000 + b'"}'
            response = http.post("/api/v1/admin/api-keys", content=big, headers=admin)
            assert response.status_code == 413 and "4096 bytes" in response.json()["detail"]

            def chunks() -> Iterator[bytes]:  # no Content-Length: chunked transfer
                for _ in range(10):
                    yield b"a" * 1000

            chunked = http.post("/api/v1/admin/api-keys", content=chunks(), headers=admin)
            assert chunked.status_code == 413
            assert http.get("/api/v1/admin/api-keys", headers=admin).status_code == 200  # still serving
        big_message = '{"type": "ping", "pad": "' + "x" * 5000 + '"}'
        result = asyncio.run(_ws(api.ws_url, {"x-api-key": keys.reader}, big_message, max_size=None))
        assert result == "closed 1009"
        assert asyncio.run(_ws(api.ws_url, {"x-api-key": keys.reader})).startswith("reply")
    finally:
        api.stop()


def test_rate_limits_per_ip_and_per_key(tmp_path: Path, keys: Keys) -> None:
    settings = security_settings(
        keys,
        rate_limit_enabled=True,
        rate_limit_per_ip_rps=1,
        rate_limit_per_ip_burst=8,
        rate_limit_per_key_rps=1,
        rate_limit_per_key_burst=3,
    )
    api = start_secured(tmp_path / "out", settings)
    try:
        with api.client() as http:
            codes = [
                http.get("/api/v1/stats/summary", headers={"x-api-key": keys.reader}).status_code
                for _ in range(4)
            ]
            assert codes == [200, 200, 200, 429]
            limited = http.get("/api/v1/stats/summary", headers={"x-api-key": keys.reader})
            assert limited.status_code == 429 and int(limited.headers["retry-after"]) >= 1
            assert limited.json()["detail"] == "rate limit per_key exceeded"
            # another key is not limited by the first one's bucket, the IP bucket still counts both
            assert http.get("/api/v1/stats/summary", headers={"x-api-key": keys.admin}).status_code == 200
            statuses = [http.get("/health").status_code for _ in range(4)]
            assert statuses[-1] == 429
            metrics = http.get("/metrics", headers={"x-api-key": keys.processor})
        assert metrics.status_code in (200, 429)
    finally:
        api.stop()
    text = api.server.server.config.app.state.metrics.registry
    from prometheus_client import generate_latest

    body = generate_latest(text).decode()
    assert 'rate_limit_rejections_total{name="per_key"} 2.0' in body
    assert 'rate_limit_rejections_total{name="per_ip"}' in body


def test_a_burst_of_websocket_handshakes_gets_429_with_retry_after(tmp_path: Path, keys: Keys) -> None:
    settings = security_settings(
        keys,
        rate_limit_enabled=True,
        rate_limit_per_ip_rps=1000,
        rate_limit_per_ip_burst=1000,
        rate_limit_per_key_rps=0.2,
        rate_limit_per_key_burst=2,
    )
    api = start_secured(tmp_path / "out", settings)

    async def handshake() -> tuple[int, str | None]:
        try:
            async with connect(api.ws_url, additional_headers={"x-api-key": keys.reader}, open_timeout=10):
                return 101, None
        except InvalidStatus as exc:
            return exc.response.status_code, exc.response.headers.get("retry-after")

    try:
        outcomes = [asyncio.run(handshake()) for _ in range(4)]
    finally:
        api.stop()
    assert outcomes[:2] == [(101, None), (101, None)]
    assert [status for status, _ in outcomes[2:]] == [429, 429]
    assert all(1 <= int(after or 0) <= 5 for _, after in outcomes[2:])  # 1 token every 5 s


def test_https_and_wss_with_tls_1_2_at_least(tmp_path: Path, keys: Keys) -> None:
    ca, rogue = CertificateAuthority(), CertificateAuthority("rogue")
    cert, key = ca.issue("api").write(tmp_path, "api")
    api = start_secured(
        tmp_path / "out", security_settings(keys, tls_enabled=True, cert_file=str(cert), key_file=str(key))
    )
    try:
        trusted = ssl.create_default_context(cadata=ca.pem.decode())
        assert api.base_url.startswith("https://")
        with httpx.Client(base_url=api.base_url, verify=trusted, timeout=10) as http:
            response = http.get("/api/v1/stats/summary", headers={"x-api-key": keys.reader})
            assert response.status_code == 200
            assert response.headers["strict-transport-security"].startswith("max-age=")
        with (
            httpx.Client(
                base_url=api.base_url, verify=ssl.create_default_context(cadata=rogue.pem.decode())
            ) as http,
            pytest.raises(httpx.ConnectError),
        ):
            http.get("/health")
        assert api.server.server.config.ssl.minimum_version == ssl.TLSVersion.TLSv1_2
        # the server, not the client, refuses TLS 1.0/1.1 (the legacy client would speak them)
        assert tls_handshake(api.server.port, tls_client_context(ca.pem, legacy=False)) == "TLSv1.2"
        with pytest.raises((ssl.SSLError, OSError)):
            tls_handshake(api.server.port, tls_client_context(ca.pem, legacy=True))
        assert asyncio.run(_ws(api.ws_url, {"x-api-key": keys.reader}, ssl=trusted)).startswith("reply")
    finally:
        api.stop()
