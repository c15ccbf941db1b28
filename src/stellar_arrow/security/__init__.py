"""Authentication, authorization, TLS and browser hardening for every entry point.

:class:`Authenticator` turns a credential (API key or JWT) into a :class:`Principal` with roles
(``admin``, ``reader``, ``processor``); :class:`ApiKeyStore` keeps API keys as hashes in SQLite;
:mod:`stellar_arrow.security.flight` and :mod:`stellar_arrow.security.http` enforce them on Flight
and on REST/WebSocket. Settings: the ``security`` section (:class:`stellar_arrow.config.SecuritySettings`).
"""

from __future__ import annotations

from stellar_arrow.security.authenticator import ANONYMOUS, Authenticator, Credential
from stellar_arrow.security.keystore import ApiKeyRecord, ApiKeyStore, parse_duration
from stellar_arrow.security.policy import build_authenticator, check_bind, is_loopback
from stellar_arrow.security.roles import PERMISSIONS, ROLE_PERMISSIONS, ROLES, Permission, Principal, Role
from stellar_arrow.security.tokens import JwtVerifier

__all__ = [
    "ANONYMOUS",
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "ApiKeyRecord",
    "ApiKeyStore",
    "Authenticator",
    "Credential",
    "JwtVerifier",
    "Permission",
    "Principal",
    "Role",
    "build_authenticator",
    "check_bind",
    "is_loopback",
    "parse_duration",
]
