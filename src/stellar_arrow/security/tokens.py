"""JWT verification with PyJWT: a pinned algorithm list, ``exp``/``iss``/``aud``/``sub`` required.

HS256/384/512 use a shared secret (at least 32 bytes); RS*/PS*/ES* use a PEM public key. The two
families never mix in one verifier (no algorithm confusion), ``alg: none`` is never accepted, and the
token's ``roles`` claim must be a non-empty list of known role names. A JWT cannot be revoked: keep
its lifetime short (``exp``); revocation applies to API keys. PyJWT (and the ``cryptography`` it
loads, ~0.1 s of imports) is imported by the first verification: a service without JWT settings never
loads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from stellar_arrow.errors import AuthenticationError, ConfigError
from stellar_arrow.security.roles import Principal, check_roles

__all__ = ["HMAC_ALGORITHMS", "PUBLIC_KEY_ALGORITHMS", "JwtVerifier", "looks_like_jwt"]

HMAC_ALGORITHMS: Final = ("HS256", "HS384", "HS512")
PUBLIC_KEY_ALGORITHMS: Final = (
    "RS256",
    "RS384",
    "RS512",
    "PS256",
    "PS384",
    "PS512",
    "ES256",
    "ES384",
    "ES512",
)
_LEEWAY_S: Final = 5.0


def looks_like_jwt(text: str) -> bool:
    """Three dot-separated base64url parts, header and payload non-empty (shape only; an unsigned
    ``alg: none`` token has this shape and is refused by :meth:`JwtVerifier.verify`)."""
    parts = text.split(".")
    return (
        len(parts) == 3
        and bool(parts[0] and parts[1])
        and all(not p or p.replace("-", "a").replace("_", "a").isalnum() for p in parts)
    )


@dataclass(frozen=True)
class JwtVerifier:
    """Verifies tokens issued by ``issuer`` for ``audience`` signed with one of ``algorithms``."""

    key: Any
    algorithms: tuple[str, ...]
    issuer: str
    audience: str

    @classmethod
    def from_secret(
        cls, secret: str, *, algorithms: tuple[str, ...], issuer: str, audience: str
    ) -> JwtVerifier:
        bad = [a for a in algorithms if a not in HMAC_ALGORITHMS]
        if bad or not algorithms:
            msg = f"jwt_secret works with {', '.join(HMAC_ALGORITHMS)} only, not {bad or 'no algorithm'}"
            raise ConfigError(msg, key="security.jwt_algorithms")
        if len(secret.encode()) < 32:
            msg = "jwt_secret must be at least 32 bytes"
            raise ConfigError(msg, key="security.jwt_secret")
        return cls(secret.encode(), algorithms, issuer, audience)

    @classmethod
    def from_public_key_file(
        cls, path: Path, *, algorithms: tuple[str, ...], issuer: str, audience: str
    ) -> JwtVerifier:
        from cryptography.hazmat.primitives.serialization import load_pem_public_key

        bad = [a for a in algorithms if a not in PUBLIC_KEY_ALGORITHMS]
        if bad or not algorithms:
            msg = f"jwt_public_key_file works with {', '.join(PUBLIC_KEY_ALGORITHMS)}, not {bad or 'none'}"
            raise ConfigError(msg, key="security.jwt_algorithms")
        try:
            key = load_pem_public_key(path.read_bytes())
        except (OSError, ValueError) as exc:
            msg = f"jwt_public_key_file {path} is not a readable PEM public key: {type(exc).__name__}"
            raise ConfigError(msg, key="security.jwt_public_key_file") from None
        return cls(key, algorithms, issuer, audience)

    def verify(self, token: str) -> Principal:
        """The principal the token names; :class:`AuthenticationError` for any defect (token not echoed)."""
        import jwt

        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError:
            msg = "bearer token is not a well-formed JWT"
            raise AuthenticationError(msg, reason="malformed") from None
        alg = header.get("alg")
        if alg not in self.algorithms:
            msg = f"JWT algorithm {str(alg)[:16]!r} is not accepted (accepted: {', '.join(self.algorithms)})"
            raise AuthenticationError(msg, reason="invalid_token")
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self.key,
                algorithms=list(self.algorithms),
                audience=self.audience,
                issuer=self.issuer,
                leeway=_LEEWAY_S,
                options={"require": ["exp", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError:
            msg = "JWT has expired"
            raise AuthenticationError(msg, reason="expired") from None
        except jwt.InvalidIssuerError:
            msg = f"JWT issuer is not {self.issuer!r}"
            raise AuthenticationError(msg, reason="invalid_token") from None
        except jwt.InvalidAudienceError:
            msg = f"JWT audience is not {self.audience!r}"
            raise AuthenticationError(msg, reason="invalid_token") from None
        except jwt.MissingRequiredClaimError as exc:
            msg = f"JWT lacks the required claim {exc.claim!r}"
            raise AuthenticationError(msg, reason="invalid_token") from None
        except jwt.PyJWTError as exc:
            msg = f"JWT rejected: {type(exc).__name__}"
            raise AuthenticationError(msg, reason="invalid_token") from None
        subject = claims["sub"]
        if not isinstance(subject, str) or not subject or len(subject) > 128:
            msg = "JWT sub must be a non-empty string of at most 128 characters"
            raise AuthenticationError(msg, reason="invalid_token")
        try:
            roles = check_roles(claims.get("roles"), field="JWT roles claim")
        except ValueError as exc:
            raise AuthenticationError(str(exc), reason="invalid_token") from None
        return Principal(subject=subject, kind="jwt", roles=roles, expires_at=float(claims["exp"]))
