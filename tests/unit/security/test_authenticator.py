"""The one authenticator: header forms, roles exactly as the original design, metrics observer, no echo."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from stellar_arrow.errors import AuthenticationError, AuthorizationError
from stellar_arrow.security import (
    ANONYMOUS,
    ROLE_PERMISSIONS,
    ApiKeyStore,
    Authenticator,
    Credential,
    JwtVerifier,
    Principal,
)
from tests.security_kit import AUDIENCE, ISSUER, JWT_SECRET, alg_none_token, token


def test_role_permissions_are_the_original_design() -> None:
    assert {role: sorted(perms) for role, perms in ROLE_PERMISSIONS.items()} == {
        "admin": ["admin", "read_ledgers", "read_metrics", "write_ledgers", "write_metrics"],
        "reader": ["read_ledgers", "read_metrics"],
        "processor": ["read_ledgers", "read_metrics", "write_ledgers"],
    }


def test_principal_require() -> None:
    reader = Principal("r1", "api_key", ("reader",))
    reader.require("read_ledgers", what="DoGet")
    with pytest.raises(AuthorizationError, match=r"'r1' .* lacks permission 'write_ledgers'") as err:
        reader.require("write_ledgers", what="DoPut")
    assert err.value.permission == "write_ledgers"


@pytest.fixture
def auth(tmp_path: Path) -> tuple[Authenticator, str, list[tuple[str, str, str | None]]]:
    store = ApiKeyStore(tmp_path / "keys.db")
    _, key = store.create("reader-001", ["reader"])
    seen: list[tuple[str, str, str | None]] = []
    verifier = JwtVerifier.from_secret(JWT_SECRET, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE)
    authenticator = Authenticator(
        store, verifier, observer=lambda kind, status, p: seen.append((kind, status, p and p.subject))
    )
    return authenticator, key, seen


def test_accepted_forms(auth: tuple[Authenticator, str, list[tuple[str, str, str | None]]]) -> None:
    authenticator, key, seen = auth
    assert authenticator.authenticate(Credential(authorization=f"Bearer {key}")).subject == "reader-001"
    assert authenticator.authenticate(Credential(authorization=f"bearer  {key} ")).subject == "reader-001"
    assert authenticator.authenticate(Credential(api_key=key)).kind == "api_key"
    assert authenticator.authenticate(Credential(authorization=f"Bearer {token(sub='bob')}")).subject == "bob"
    mtls = authenticator.authenticate(Credential(peer_identity="sink-service"))
    assert (mtls.kind, mtls.roles) == ("mtls", ("processor",))
    assert seen == [
        ("api_key", "ok", "reader-001"),
        ("api_key", "ok", "reader-001"),
        ("api_key", "ok", "reader-001"),
        ("jwt", "ok", "bob"),
        ("mtls", "ok", "sink-service"),
    ]


@pytest.mark.parametrize(
    ("credential", "reason"),
    [
        (Credential(), "missing"),
        (Credential(authorization="Basic dXNlcjpwdw=="), "malformed"),
        (Credential(authorization="Bearer"), "malformed"),
        (Credential(authorization="Bearer a b"), "malformed"),
        (Credential(authorization="Bearer notatoken"), "malformed"),
        (Credential(authorization="Bearer " + "sa_" + "A" * 43), "unknown_key"),
        (Credential(api_key="sa_short"), "malformed"),
        (Credential(authorization="Bearer " + "x" * 9000), "malformed"),
        (Credential(authorization=f"Bearer {alg_none_token()}"), "invalid_token"),
    ],
)
def test_refusals(
    auth: tuple[Authenticator, str, list[tuple[str, str, str | None]]], credential: Credential, reason: str
) -> None:
    authenticator, _, seen = auth
    with pytest.raises(AuthenticationError) as err:
        authenticator.authenticate(credential)
    assert err.value.reason == reason
    assert seen[-1][1] == reason and seen[-1][2] is None


def test_both_headers_refused(auth: tuple[Authenticator, str, list[tuple[str, str, str | None]]]) -> None:
    authenticator, key, _ = auth
    with pytest.raises(AuthenticationError, match="not both"):
        authenticator.authenticate(Credential(authorization=f"Bearer {key}", api_key=key))


def test_still_valid_follows_the_store(
    tmp_path: Path, auth: tuple[Authenticator, str, list[tuple[str, str, str | None]]]
) -> None:
    authenticator, key, _ = auth
    principal = authenticator.authenticate(Credential(api_key=key))
    assert authenticator.still_valid(principal)
    ApiKeyStore(tmp_path / "keys.db").revoke("reader-001")
    assert not authenticator.still_valid(principal)
    jwt_principal = authenticator.authenticate(Credential(authorization=f"Bearer {token(expires_in=1)}"))
    assert authenticator.still_valid(jwt_principal)
    assert not Authenticator(None, clock=lambda: time.time() + 10).still_valid(jwt_principal)


def test_disabled_is_anonymous_admin() -> None:
    assert Authenticator(None, enabled=False).authenticate(Credential()) is ANONYMOUS
    assert "admin" in ANONYMOUS.permissions


def test_jwt_refused_without_verifier(tmp_path: Path) -> None:
    with pytest.raises(AuthenticationError, match="JWTs are not accepted") as err:
        Authenticator(ApiKeyStore(tmp_path / "k.db")).authenticate(
            Credential(authorization=f"Bearer {token()}")
        )
    assert err.value.reason == "invalid_token"
