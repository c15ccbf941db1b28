"""From the ``security`` settings to working parts: the authenticator and the bind-address rule."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path

from stellar_arrow.config import SecuritySettings
from stellar_arrow.errors import ConfigError
from stellar_arrow.security.authenticator import Authenticator, AuthObserver
from stellar_arrow.security.keystore import ApiKeyStore
from stellar_arrow.security.tokens import HMAC_ALGORITHMS, JwtVerifier

__all__ = [
    "SECRET_KEYS",
    "build_authenticator",
    "check_bind",
    "is_loopback",
    "jwt_verifier",
    "secret_environment",
]

SECRET_KEYS = ("jwt_secret", "service_api_key")
"""``security`` keys holding secrets: never written to files, handed to child processes by environment."""


def secret_environment(security: SecuritySettings) -> dict[str, str]:
    """``STELLAR_ARROW_SECURITY__<KEY>`` variables carrying the secrets that are set."""
    env: dict[str, str] = {}
    for key in SECRET_KEYS:
        value = getattr(security, key)
        if value is not None:
            env[f"STELLAR_ARROW_SECURITY__{key.upper()}"] = value.get_secret_value()
    return env


log = logging.getLogger(__name__)


def is_loopback(host: str) -> bool:
    """``localhost`` or a loopback IP literal (``127.0.0.0/8``, ``::1``)."""
    name = host.strip("[]")
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def check_bind(host: str, security: SecuritySettings, *, what: str, key: str) -> None:
    """Refuse a non-loopback ``host`` without authentication unless ``allow_insecure`` (then warn)."""
    if is_loopback(host) or security.auth_enabled:
        return
    if not security.allow_insecure:
        msg = (
            f"{what} would listen on {host} without authentication; set security.auth_enabled: true "
            "(see README 'Running securely') or security.allow_insecure: true to accept the risk"
        )
        raise ConfigError(msg, key=key)
    log.warning(
        "%s listens on %s WITHOUT authentication (security.allow_insecure): anyone who can reach it "
        "can read the stream",
        what,
        host,
    )


def jwt_verifier(security: SecuritySettings) -> JwtVerifier | None:
    issuer, audience = security.jwt_issuer or "", security.jwt_audience or ""
    if security.jwt_secret is not None:
        algorithms = security.jwt_algorithms or ("HS256",)
        return JwtVerifier.from_secret(
            security.jwt_secret.get_secret_value(), algorithms=algorithms, issuer=issuer, audience=audience
        )
    if security.jwt_public_key_file:
        algorithms = security.jwt_algorithms or ("ES256", "RS256")
        return JwtVerifier.from_public_key_file(
            Path(security.jwt_public_key_file), algorithms=algorithms, issuer=issuer, audience=audience
        )
    if security.jwt_algorithms and any(a not in HMAC_ALGORITHMS for a in security.jwt_algorithms):
        msg = "jwt_algorithms is set but neither jwt_secret nor jwt_public_key_file is"
        raise ConfigError(msg, key="security.jwt_algorithms")
    return None


def build_authenticator(security: SecuritySettings, observer: AuthObserver | None = None) -> Authenticator:
    """The authenticator the settings describe (the key store file is created on first use)."""
    if not security.auth_enabled:
        return Authenticator(None, enabled=False, observer=observer)
    return Authenticator(
        ApiKeyStore(security.api_keys_file),
        jwt_verifier(security),
        enabled=True,
        mtls_roles=security.mtls_roles,
        observer=observer,
    )
