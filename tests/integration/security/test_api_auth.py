"""REST and WebSocket: every route and the handshake x every credential case, on a real uvicorn server.

Only a valid credential gets through; refusals are 401 (with ``WWW-Authenticate``) or 403 (REST) and a
rejected handshake (WebSocket, HTTP 403), carry no data and echo no secret. Open: ``/health*``,
``/ready``, the dashboard page and its static files, and the session login.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import orjson
import pytest
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from stellar_arrow.security import ApiKeyStore
from stellar_arrow.security.http import OPEN_PATHS, REVALIDATE_INTERVAL_S
from tests.integration.security.api_server import SecuredApi, start_secured
from tests.integration.security.conftest import Keys, credential_cases, security_settings
from tests.security_kit import token
from tests.unit.sink.realdata import FIRST, ledger_tables

pytestmark = pytest.mark.integration


@pytest.fixture
def api(tmp_path: Path, keys: Keys) -> Iterator[SecuredApi]:
    running = start_secured(tmp_path / "out", security_settings(keys))
    yield running
    running.stop()


def _sample_values() -> dict[str, str]:
    rows = ledger_tables()[0][1]["token_transfers"]
    first = rows.slice(0, 1).to_pylist()[0]
    return {
        "event_id": str((first["ledger_sequence"] << 32) | first["event_index"]),
        "account_id": first["to"] or first["from"],
        "sequence": str(FIRST),
        "tx_hash": first["transaction_hash"],
        "key_id": "nobody",
        "name": "volume_by_asset",  # /api/v1/analytics/{name}
    }


def protected_routes(running: SecuredApi) -> list[tuple[str, str]]:
    """Every (method, concrete path) of the app that needs a credential (OpenAPI plus the hidden pages)."""
    app = running.server.server.config.app
    values = _sample_values()
    out: list[tuple[str, str]] = [("GET", "/docs"), ("GET", "/openapi.json")]
    for template, methods in app.openapi()["paths"].items():
        if template in OPEN_PATHS:
            continue
        for method in sorted(methods):
            out.append((method.upper(), template.format(**values)))
    return out


def test_matrix_every_route_every_credential(api: SecuredApi, keys: Keys, secrets_seen: list[str]) -> None:
    routes = protected_routes(api)
    assert ("GET", "/api/v1/transfers") in routes and ("GET", "/metrics") in routes
    assert ("POST", "/api/v1/admin/api-keys") in routes and (
        "DELETE",
        "/api/v1/admin/api-keys/nobody",
    ) in routes
    assert len(routes) >= 14
    cases = credential_cases(keys)
    with api.client() as http:
        for method, path in routes:
            body = b'{"key_id": "x-1", "roles": ["reader"]}' if method == "POST" else None
            for name, headers in cases.items():
                response = http.request(method, path, headers=headers, content=body)
                assert response.status_code == 401, (method, path, name, response.text)
                assert response.headers["www-authenticate"].startswith("Bearer")
                problem = response.json()
                assert set(problem) == {"status", "title", "detail"}
                assert not any(secret in response.text for secret in secrets_seen)
            if path.startswith("/api/v1/admin"):
                for weaker in (keys.reader, keys.processor):
                    response = http.request(method, path, headers={"x-api-key": weaker}, content=body)
                    assert response.status_code == 403, (method, path, response.text)
                    assert "lacks permission 'admin'" in response.json()["detail"]
            for valid in ({"x-api-key": keys.admin}, {"authorization": f"Bearer {token(roles=('admin',))}"}):
                response = http.request(method, path, headers=valid, content=body)
                assert response.status_code not in (401, 403), (method, path, response.text)
                if method == "POST":
                    http.delete("/api/v1/admin/api-keys/x-1", headers={"x-api-key": keys.admin})
                    ApiKeyStore(keys.store)  # the revoked id stays taken; the next POST answers 400
            response = http.get("/api/v1/transfers?limit=3", headers={"x-api-key": keys.reader})
            assert response.status_code == 200 and len(response.json()["_embedded"]["records"]) == 3


def test_open_routes_need_no_credential(api: SecuredApi) -> None:
    with api.client() as http:
        for path in ("/health", "/ready", "/", "/static/dashboard.js"):
            assert http.get(path).status_code == 200, path
        assert "text/html" in http.get("/").headers["content-type"]


async def _handshake(url: str, headers: dict[str, str]) -> str:
    try:
        async with connect(url, additional_headers=headers, open_timeout=10) as ws:
            await ws.send('{"type": "ping"}')
            while True:
                message = orjson.loads(await asyncio.wait_for(ws.recv(), 10))
                if message["type"] == "pong":
                    return "open"
    except InvalidStatus as exc:
        return f"refused {exc.response.status_code}"


def test_websocket_handshake_matrix(api: SecuredApi, keys: Keys) -> None:
    for name, headers in credential_cases(keys).items():
        assert asyncio.run(_handshake(api.ws_url, headers)) == "refused 403", name
    assert asyncio.run(_handshake(api.ws_url, {"x-api-key": keys.reader})) == "open"
    bearer = {"authorization": f"Bearer {token(roles=('reader',))}"}
    assert asyncio.run(_handshake(api.ws_url, bearer)) == "open"


def test_metrics_permission_and_counters(tmp_path: Path, api: SecuredApi, keys: Keys) -> None:
    with api.client() as http:
        assert http.get("/metrics").status_code == 401
        http.get("/api/v1/transfers", headers={"x-api-key": "sa_" + "Z" * 43})
        text = http.get("/metrics", headers={"x-api-key": keys.reader}).text
    assert 'auth_attempts_total{status="unknown_key",type="api_key"} 1.0' in text
    assert 'api_key_usage_total{key_id="reader-001"} 1.0' in text
    public = start_secured(tmp_path / "public", security_settings(keys, metrics_public=True))
    try:
        with public.client() as http:
            assert http.get("/metrics").status_code == 200
            assert http.get("/api/v1/stats/summary").status_code == 401
    finally:
        public.stop()


def test_sessions_for_the_browser(api: SecuredApi, keys: Keys) -> None:
    with api.client() as http:
        assert http.post("/api/v1/session", headers={"x-api-key": "sa_" + "Z" * 43}).status_code == 401
        login = http.post("/api/v1/session", headers={"x-api-key": keys.spare})
        assert login.status_code == 200 and login.json()["subject"] == "spare-001"
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/" in cookie
        assert keys.spare not in cookie
        assert http.get("/api/v1/stats/summary").status_code == 200  # the cookie jar sends it
        session = http.cookies["sa_session"]
        ws_headers = {"cookie": f"sa_session={session}"}
        assert asyncio.run(_handshake(api.ws_url, ws_headers)) == "open"
        # the cookie is not a credential for changes: admin POST needs the header
        refused = http.post("/api/v1/admin/api-keys", content=b'{"key_id": "c", "roles": ["reader"]}')
        assert refused.status_code == 401
        tampered = session[:-2] + ("AA" if not session.endswith("AA") else "BB")
        assert (
            httpx.get(f"{api.base_url}/api/v1/stats/summary", cookies={"sa_session": tampered}).status_code
            == 401
        )
        ApiKeyStore(keys.store).revoke("spare-001")
        assert http.get("/api/v1/stats/summary").status_code == 401
        assert asyncio.run(_handshake(api.ws_url, ws_headers)) == "refused 403"
        assert http.delete("/api/v1/session").status_code == 200


def test_admin_endpoints_rotate_keys(api: SecuredApi, keys: Keys, secrets_seen: list[str]) -> None:
    admin = {"x-api-key": keys.admin}
    with api.client() as http:
        created = http.post(
            "/api/v1/admin/api-keys",
            json={
                "key_id": "reader-002",
                "roles": ["reader"],
                "description": "rotation",
                "expires_in": "90d",
            },
            headers=admin,
        )
        assert created.status_code == 201, created.text
        new_key = created.json()["api_key"]
        assert created.json()["state"] == "active" and created.json()["roles"] == ["reader"]
        assert http.get("/api/v1/stats/summary", headers={"x-api-key": new_key}).status_code == 200
        listed = http.get("/api/v1/admin/api-keys", headers=admin)
        assert [k["key_id"] for k in listed.json()["api_keys"]] == [
            "admin-001",
            "expired-001",
            "processor-001",
            "reader-001",
            "reader-002",
            "revoked-001",
            "spare-001",
        ]
        assert not any(secret in listed.text for secret in [*secrets_seen, new_key])
        assert http.delete("/api/v1/admin/api-keys/reader-002", headers=admin).json()["state"] == "revoked"
        assert http.get("/api/v1/stats/summary", headers={"x-api-key": new_key}).status_code == 401
        assert http.delete("/api/v1/admin/api-keys/none", headers=admin).status_code == 404
        for body, field in (
            ({"key_id": "a b", "roles": ["reader"]}, "key_id"),
            ({"key_id": "z", "roles": ["root"]}, "roles"),
            ({"key_id": "z", "roles": "reader"}, "roles"),
            ({"key_id": "z", "roles": ["reader"], "expires_in": "soon"}, "expires_in"),
            ({"key_id": "z", "roles": ["reader"], "owner": "x"}, "owner"),
            ({"key_id": "reader-002", "roles": ["reader"]}, "key_id"),
        ):
            response = http.post("/api/v1/admin/api-keys", json=body, headers=admin)
            assert response.status_code == 400 and response.json()["field"] == field, (body, response.text)
        assert http.post("/api/v1/admin/api-keys", content=b"[1", headers=admin).status_code == 400


def test_open_websocket_closes_after_revocation(api: SecuredApi, keys: Keys) -> None:
    async def scenario() -> tuple[int | None, float]:
        async with connect(api.ws_url, additional_headers={"x-api-key": keys.spare}) as ws:
            await ws.send('{"type": "subscribe"}')
            while orjson.loads(await asyncio.wait_for(ws.recv(), 10))["type"] != "subscribed":
                pass
            await asyncio.to_thread(ApiKeyStore(keys.store).revoke, "spare-001")
            started = time.monotonic()
            try:
                while True:
                    await asyncio.wait_for(ws.recv(), 10)
            except ConnectionClosed as exc:
                return (exc.rcvd.code if exc.rcvd else None), time.monotonic() - started
        return None, 0.0

    code, took = asyncio.run(scenario())
    assert code == 1008
    assert took < REVALIDATE_INTERVAL_S + 2.0


def test_secrets_never_in_logs_or_status(
    api: SecuredApi, keys: Keys, secrets_seen: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    captured: list[str] = []
    with caplog.at_level(logging.DEBUG), api.client() as http:
        for headers in [
            *credential_cases(keys).values(),
            {"x-api-key": keys.admin},
            {"x-api-key": keys.reader},
        ]:
            for path in ("/api/v1/status", "/api/v1/transfers?limit=1", "/metrics", "/api/v1/admin/api-keys"):
                captured.append(http.get(path, headers=headers).text)
        captured.append(http.post("/api/v1/session", headers={"x-api-key": keys.reader}).text)
        asyncio.run(_handshake(api.ws_url, {"x-api-key": keys.revoked}))
    server_log = "\n".join(
        f"{r.name} {r.getMessage()} {r.exc_text or ''}"
        for r in caplog.records
        if r.name.startswith(("stellar_arrow", "uvicorn", "fastapi", "starlette"))
    )  # the test's own clients (httpx, websockets) log the headers they send: not the server's logs
    captured.append(server_log)
    assert "authentication failed" in server_log
    for text in captured:
        for secret in secrets_seen:
            assert secret not in text
