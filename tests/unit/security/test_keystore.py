"""The API key store: hashes only, shown once, revocation and expiry seen at once by every instance."""

from __future__ import annotations

import os
import sqlite3
import stat
import time
from pathlib import Path

import pytest

from stellar_arrow.errors import AuthenticationError
from stellar_arrow.security import ApiKeyStore, parse_duration
from stellar_arrow.security.keystore import looks_like_api_key


def test_create_returns_a_256_bit_key_and_stores_only_its_hash(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path / "keys.db")
    record, key = store.create("reader-001", ["reader"], description="dashboard", expires_in_s=3600)
    assert looks_like_api_key(key) and len(key) == 46
    assert record.key_id == "reader-001" and record.roles == ("reader",)
    assert record.expires_at is not None and 3590 < record.expires_at - time.time() <= 3600
    raw = (tmp_path / "keys.db").read_bytes() + b"".join(
        p.read_bytes() for p in tmp_path.iterdir() if p.name != "keys.db"
    )
    assert key.encode() not in raw and key[3:].encode() not in raw
    assert stat.S_IMODE(os.stat(tmp_path / "keys.db").st_mode) == 0o600
    assert store.authenticate(key).key_id == "reader-001"


def test_two_keys_differ_and_ids_are_unique(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path / "keys.db")
    _, first = store.create("a", ["reader"])
    _, second = store.create("b", ["admin", "reader", "admin"])
    assert first != second
    assert store.get("b") is not None and store.get("b").roles == ("admin", "reader")  # type: ignore[union-attr]
    with pytest.raises(ValueError, match="already exists"):
        store.create("a", ["reader"])


@pytest.mark.parametrize(
    ("key_id", "roles", "match"),
    [
        ("", ["reader"], "key id"),
        ("bad id", ["reader"], "key id"),
        ("x" * 65, ["reader"], "key id"),
        ("ok", [], "non-empty"),
        ("ok", ["root"], "unknown role 'root'"),
    ],
)
def test_create_refuses_bad_ids_and_roles(tmp_path: Path, key_id: str, roles: list[str], match: str) -> None:
    with pytest.raises(ValueError, match=match):
        ApiKeyStore(tmp_path / "k.db").create(key_id, roles)


def test_revocation_is_seen_at_once_by_another_store_instance(tmp_path: Path) -> None:
    service = ApiKeyStore(tmp_path / "keys.db")
    operator = ApiKeyStore(tmp_path / "keys.db")
    _, key = operator.create("proc-1", ["processor"])
    assert service.authenticate(key).roles == ("processor",)
    operator.revoke("proc-1")
    with pytest.raises(AuthenticationError, match="'proc-1' is revoked") as err:
        service.authenticate(key)
    assert err.value.reason == "revoked" and key not in str(err.value)
    with pytest.raises(KeyError):
        operator.revoke("nobody")


def test_expired_key_is_refused(tmp_path: Path) -> None:
    past = ApiKeyStore(tmp_path / "keys.db", clock=lambda: time.time() - 7200)
    _, key = past.create("old", ["reader"], expires_in_s=60)
    with pytest.raises(AuthenticationError) as err:
        ApiKeyStore(tmp_path / "keys.db").authenticate(key)
    assert err.value.reason == "expired"


@pytest.mark.parametrize(
    "bad", ["", "sa_", "sa_" + "a" * 42, "xx_" + "a" * 43, "sa_" + "!" * 43, "sa_" + "a" * 44]
)
def test_malformed_keys_are_refused_without_echo(tmp_path: Path, bad: str) -> None:
    with pytest.raises(AuthenticationError) as err:
        ApiKeyStore(tmp_path / "k.db").authenticate(bad)
    assert err.value.reason == "malformed"


def test_unknown_key(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path / "k.db")
    store.create("a", ["reader"])
    with pytest.raises(AuthenticationError) as err:
        store.authenticate("sa_" + "A" * 43)
    assert err.value.reason == "unknown_key"


def test_store_is_plain_sqlite_with_hash_column(tmp_path: Path) -> None:
    store = ApiKeyStore(tmp_path / "k.db")
    _, key = store.create("a", ["reader"])
    rows = sqlite3.connect(tmp_path / "k.db").execute("SELECT key_id, key_hash FROM api_keys").fetchall()
    assert rows[0][0] == "a" and len(rows[0][1]) == 64 and key not in rows[0][1]


@pytest.mark.parametrize(
    ("text", "seconds"), [("90d", 90 * 86400), ("12h", 43200), ("30m", 1800), ("45s", 45)]
)
def test_parse_duration(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "0d", "1w", "-1d", "1.5h", "d", "9999999d"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError, match="duration"):
        parse_duration(text)
