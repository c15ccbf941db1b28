"""Dashboard sessions kept in the key store, on real uvicorn servers sharing one SQLite file.

A session opened on one API instance is accepted by a restarted one (a second app on the same store);
revoking the key behind it ends it at once; logging out ends it server side; expiry is enforced; a
forged or random cookie never gets through and is counted as a failed session authentication.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest

from stellar_arrow.security import ApiKeyStore
from stellar_arrow.security.session import SessionStore
from tests.integration.security.api_server import start_secured
from tests.integration.security.conftest import Keys, security_settings
from tests.integration.security.test_api_auth import _handshake
from tests.security_kit import token

pytestmark = pytest.mark.integration

ROUTE = "/api/v1/stats/summary"


def _get(base_url: str, session: str) -> httpx.Response:
    return httpx.get(f"{base_url}{ROUTE}", cookies={"sa_session": session}, timeout=10)


def _login(base_url: str, headers: dict[str, str]) -> str:
    response = httpx.post(f"{base_url}/api/v1/session", headers=headers, timeout=10)
    assert response.status_code == 200, response.text
    return response.cookies["sa_session"]


def test_a_session_survives_a_restart_of_the_api(tmp_path: Path, keys: Keys) -> None:
    settings = security_settings(keys)
    first = start_secured(tmp_path / "one", settings)
    try:
        by_key = _login(first.base_url, {"x-api-key": keys.reader})
        by_jwt = _login(first.base_url, {"authorization": f"Bearer {token(roles=('reader',))}"})
        assert _get(first.base_url, by_key).status_code == 200
    finally:
        first.stop()
    second = start_secured(tmp_path / "two", settings)  # a new process-level app on the same store
    try:
        for session in (by_key, by_jwt):
            answer = _get(second.base_url, session)
            assert (answer.status_code == 200 and "ledgers" in answer.text) or answer.json()
            assert asyncio.run(_handshake(second.ws_url, {"cookie": f"sa_session={session}"})) == "open"
        # logging out ends the session on the server, not only in the browser
        out = httpx.delete(f"{second.base_url}/api/v1/session", cookies={"sa_session": by_jwt}, timeout=10)
        assert out.status_code == 200
        assert _get(second.base_url, by_jwt).status_code == 401
        assert _get(second.base_url, by_key).status_code == 200
    finally:
        second.stop()


def test_revoking_the_key_ends_its_session_at_once(tmp_path: Path, keys: Keys) -> None:
    api = start_secured(tmp_path / "out", security_settings(keys))
    try:
        session = _login(api.base_url, {"x-api-key": keys.spare})
        other = _login(api.base_url, {"x-api-key": keys.reader})
        assert _get(api.base_url, session).status_code == 200
        revoked = httpx.delete(
            f"{api.base_url}/api/v1/admin/api-keys/spare-001", headers={"x-api-key": keys.admin}, timeout=10
        )
        assert revoked.status_code == 200 and revoked.json()["state"] == "revoked"
        refused = _get(api.base_url, session)
        assert refused.status_code == 401 and session not in refused.text
        assert asyncio.run(_handshake(api.ws_url, {"cookie": f"sa_session={session}"})) == "refused 403"
        assert _get(api.base_url, other).status_code == 200
        assert len(SessionStore(ApiKeyStore(keys.store), 3600)) == 1  # the revoked key's row is gone
    finally:
        api.stop()


def test_expired_and_forged_sessions_are_refused(tmp_path: Path, keys: Keys) -> None:
    api = start_secured(tmp_path / "out", security_settings(keys, session_ttl_s=1.5))
    try:
        session = _login(api.base_url, {"x-api-key": keys.reader})
        assert _get(api.base_url, session).status_code == 200
        forged = [
            "ss_" + ("A" if session[3] != "A" else "B") + session[4:],  # a well-formed unknown id
            session + "x",
            "eyJzdWIiOiJtYWxsb3J5Iiwicm9sZXMiOlsiYWRtaW4iXX0.c2lnbmF0dXJl",  # the old signed format
            "ss_" + "\u00e9" * 43,
            "",
        ]
        for value in forged:
            answer = httpx.get(
                f"{api.base_url}{ROUTE}",
                headers={"cookie": f"sa_session={value}".encode("latin-1")},
                timeout=10,
            )
            assert answer.status_code == 401, value
            assert answer.json()["detail"] and (not value or value not in answer.text)
        time.sleep(1.7)
        expired = _get(api.base_url, session)
        assert expired.status_code == 401 and "expired" in expired.json()["detail"]
        metrics = httpx.get(f"{api.base_url}/metrics", headers={"x-api-key": keys.admin}, timeout=10).text
        assert 'auth_attempts_total{status="expired",type="session"} 1.0' in metrics
        assert 'auth_attempts_total{status="invalid_token",type="session"} 1.0' in metrics
    finally:
        api.stop()
