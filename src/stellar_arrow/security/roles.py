"""Roles, permissions and the authenticated principal (the original design's three roles, unchanged).

=========  ===================================================================
role       permissions
=========  ===================================================================
admin      read_ledgers, write_ledgers, read_metrics, write_metrics, admin
reader     read_ledgers, read_metrics
processor  read_ledgers, write_ledgers, read_metrics
=========  ===================================================================
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal, get_args

from stellar_arrow.errors import AuthorizationError

__all__ = [
    "PERMISSIONS",
    "ROLES",
    "ROLE_PERMISSIONS",
    "CredentialKind",
    "Permission",
    "Principal",
    "Role",
    "check_roles",
    "permissions_of",
]

Permission = Literal["read_ledgers", "write_ledgers", "read_metrics", "write_metrics", "admin"]
Role = Literal["admin", "reader", "processor"]
CredentialKind = Literal["api_key", "jwt", "mtls", "anonymous"]

PERMISSIONS: Final[tuple[Permission, ...]] = get_args(Permission)
ROLES: Final[tuple[Role, ...]] = get_args(Role)

ROLE_PERMISSIONS: Final[dict[Role, frozenset[Permission]]] = {
    "admin": frozenset(PERMISSIONS),
    "reader": frozenset({"read_ledgers", "read_metrics"}),
    "processor": frozenset({"read_ledgers", "write_ledgers", "read_metrics"}),
}


def check_roles(roles: object, *, field: str = "roles") -> tuple[Role, ...]:
    """``roles`` as a tuple of known role names; ``ValueError`` naming the bad one otherwise."""
    if isinstance(roles, str) or not isinstance(roles, list | tuple) or not roles:
        msg = f"{field} must be a non-empty list of role names ({', '.join(ROLES)})"
        raise ValueError(msg)
    out: list[Role] = []
    for role in roles:
        if role not in ROLES:
            msg = f"unknown role {role!r} in {field}: use {', '.join(ROLES)}"
            raise ValueError(msg)
        if role not in out:
            out.append(role)
    return tuple(out)


def permissions_of(roles: tuple[Role, ...]) -> frozenset[Permission]:
    """The union of the roles' permissions."""
    granted: frozenset[Permission] = frozenset()
    for role in roles:
        granted |= ROLE_PERMISSIONS[role]
    return granted


@dataclass(frozen=True, slots=True)
class Principal:
    """Who made a call: ``subject`` is the API key id, the JWT ``sub`` or the client certificate's CN.

    ``expires_at`` (Unix seconds) is when the credential stops being valid, if known.
    """

    subject: str
    kind: CredentialKind
    roles: tuple[Role, ...]
    expires_at: float | None = None

    @property
    def permissions(self) -> frozenset[Permission]:
        return permissions_of(self.roles)

    def require(self, permission: Permission, *, what: str) -> None:
        """Raise :class:`AuthorizationError` unless the principal holds ``permission`` (for ``what``)."""
        if permission not in self.permissions:
            roles = ", ".join(self.roles) or "none"
            msg = f"{self.kind} {self.subject!r} (roles: {roles}) lacks permission {permission!r} for {what}"
            raise AuthorizationError(msg, permission=permission, subject=self.subject)
