"""``stellar-arrow keys``: create (the key is printed once, alone on the last line), list, revoke."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from pathlib import Path

from stellar_arrow.config import load_settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.security.keystore import ApiKeyRecord, ApiKeyStore, parse_duration

__all__ = ["create_key", "list_keys", "revoke_key"]

Echo = Callable[[str], None]


def _store(config: Path | None, store: Path | None) -> ApiKeyStore:
    if store is not None:
        return ApiKeyStore(store)
    return ApiKeyStore(load_settings(config).security.api_keys_file)


def _when(stamp: float | None) -> str:
    if stamp is None:
        return "-"
    return dt.datetime.fromtimestamp(stamp, dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _describe(record: ApiKeyRecord, now: float) -> str:
    return (
        f"{record.key_id}\t{','.join(record.roles)}\t{record.state(now)}\tcreated {_when(record.created_at)}"
        f"\texpires {_when(record.expires_at)}\t{record.description}"
    )


def create_key(
    key_id: str,
    roles: list[str],
    *,
    description: str,
    expires_in: str | None,
    config: Path | None,
    store: Path | None,
    echo: Echo,
) -> None:
    keys = _store(config, store)
    try:
        seconds = None if expires_in is None else parse_duration(expires_in)
        record, key = keys.create(key_id, roles, description=description, expires_in_s=seconds)
    except ValueError as exc:
        raise ConfigError(str(exc), key="keys") from None
    shown = ", ".join(record.roles)
    echo(f"created API key {record.key_id} (roles: {shown}; expires {_when(record.expires_at)})")
    echo(f"store: {keys.path}; the key is shown only now, store it safely:")
    echo(key)


def list_keys(*, config: Path | None, store: Path | None, echo: Echo) -> None:
    keys = _store(config, store)
    records = keys.records()
    now = keys.now()
    echo("key_id\troles\tstate\tcreated\texpires\tdescription")
    for record in records:
        echo(_describe(record, now))


def revoke_key(key_id: str, *, config: Path | None, store: Path | None, echo: Echo) -> None:
    keys = _store(config, store)
    try:
        record = keys.revoke(key_id)
    except KeyError as exc:
        raise ConfigError(str(exc.args[0]), key="key_id") from None
    echo(f"revoked API key {record.key_id} at {_when(record.revoked_at)}")
