"""Fixtures: a key store with one key per case, security settings, and the secured source service."""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from stellar_arrow.config import SecuritySettings, load_settings
from stellar_arrow.security import ApiKeyStore
from tests.security_kit import AUDIENCE, ISSUER, JWT_SECRET, alg_none_token, token


@dataclass(frozen=True)
class Keys:
    store: Path
    admin: str
    reader: str
    processor: str
    revoked: str
    expired: str
    spare: str  # a reader key revoked by revocation tests


@pytest.fixture
def keys(tmp_path: Path) -> Keys:
    path = tmp_path / "keys" / "keys.db"
    store = ApiKeyStore(path)
    made = {role: store.create(f"{role}-001", [role])[1] for role in ("admin", "reader", "processor")}
    revoked = store.create("revoked-001", ["admin"])[1]
    store.revoke("revoked-001")
    expired = ApiKeyStore(path, clock=lambda: time.time() - 7200).create(
        "expired-001", ["admin"], expires_in_s=60
    )[1]
    spare = store.create("spare-001", ["reader"])[1]
    return Keys(path, made["admin"], made["reader"], made["processor"], revoked, expired, spare)


def security_settings(keys: Keys, **extra: Any) -> SecuritySettings:
    section = {
        "auth_enabled": True,
        "api_keys_file": str(keys.store),
        "jwt_secret": JWT_SECRET,
        "jwt_issuer": ISSUER,
        "jwt_audience": AUDIENCE,
        **extra,
    }
    return load_settings(security=section).security


def credential_cases(keys: Keys) -> dict[str, dict[str, str]]:
    """Header sets for every refusal case of the matrix (the ``insufficient`` role is per target)."""
    bearer = lambda value: {"authorization": f"Bearer {value}"}  # noqa: E731
    return {
        "no_credentials": {},
        "malformed_header": {"authorization": "Basic YWRtaW46YWRtaW4="},
        "wrong_key": bearer("sa_" + "Q" * 43),
        "revoked_key": bearer(keys.revoked),
        "expired_key": {"x-api-key": keys.expired},
        "expired_jwt": bearer(token(roles=("admin",), expires_in=-120)),
        "wrong_issuer": bearer(token(roles=("admin",), issuer="https://evil.example")),
        "wrong_audience": bearer(token(roles=("admin",), audience="someone-else")),
        "alg_none": bearer(alg_none_token(roles=("admin",))),
    }


@pytest.fixture
def secrets_seen(keys: Keys) -> Iterator[list[str]]:
    """Every secret of the test: appended to by tests, checked against captured text."""
    yield [keys.admin, keys.reader, keys.processor, keys.revoked, keys.expired, keys.spare, JWT_SECRET]


from tests.integration.flight.conftest import expected_transfers, lake_ledgers, sample_lake  # noqa: E402, F401
from tests.integration.pipeline.conftest import expected_tables, kit  # noqa: E402, F401
