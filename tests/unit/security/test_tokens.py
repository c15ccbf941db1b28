"""JWT verification: pinned algorithms, exp/iss/aud/sub required, alg none and key confusion refused."""

from __future__ import annotations

from pathlib import Path

import jwt
import pytest

from stellar_arrow.errors import AuthenticationError, ConfigError
from stellar_arrow.security import JwtVerifier
from tests.security_kit import AUDIENCE, ISSUER, JWT_SECRET, alg_none_token, ec_keypair, rsa_keypair, token


def hs() -> JwtVerifier:
    return JwtVerifier.from_secret(JWT_SECRET, algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE)


def test_valid_hs256() -> None:
    principal = hs().verify(token(roles=("processor",), sub="svc"))
    assert (principal.subject, principal.kind, principal.roles) == ("svc", "jwt", ("processor",))
    assert "write_ledgers" in principal.permissions and "admin" not in principal.permissions


@pytest.mark.parametrize(
    ("tok", "reason", "match"),
    [
        (lambda: token(expires_in=-60), "expired", "expired"),
        (lambda: token(issuer="https://evil.example"), "invalid_token", "issuer"),
        (lambda: token(audience="other"), "invalid_token", "audience"),
        (lambda: token(drop=("exp",)), "invalid_token", "'exp'"),
        (lambda: token(drop=("iss",)), "invalid_token", "'iss'"),
        (lambda: token(drop=("aud",)), "invalid_token", "'aud'"),
        (lambda: token(drop=("sub",)), "invalid_token", "'sub'"),
        (lambda: token(key="another-secret-" + "y" * 60), "invalid_token", "InvalidSignatureError"),
        (lambda: token(algorithm="HS512"), "invalid_token", "'HS512' is not accepted"),
        (lambda: alg_none_token(), "invalid_token", "'none' is not accepted"),
        (lambda: token(roles=("root",)), "invalid_token", "unknown role"),
        (lambda: token(roles="admin"), "invalid_token", "list of role names"),
        (lambda: token(roles=()), "invalid_token", "non-empty"),
        (lambda: "a.b", "malformed", "well-formed"),
        (lambda: "eyJ.eyJ.sig", "malformed", "well-formed"),
    ],
)
def test_refusals(tok: object, reason: str, match: str) -> None:
    value = tok()  # type: ignore[operator]
    with pytest.raises(AuthenticationError, match=match) as err:
        hs().verify(value)
    assert err.value.reason == reason
    assert value not in str(err.value) and JWT_SECRET not in str(err.value)


def test_es256_and_rs256_with_public_key_files(tmp_path: Path) -> None:
    ec_key, ec_pub = ec_keypair()
    (tmp_path / "ec.pem").write_bytes(ec_pub)
    verifier = JwtVerifier.from_public_key_file(
        tmp_path / "ec.pem", algorithms=("ES256",), issuer=ISSUER, audience=AUDIENCE
    )
    assert verifier.verify(token(key=ec_key, algorithm="ES256")).roles == ("reader",)
    rsa_key, rsa_pub = rsa_keypair()
    (tmp_path / "rsa.pem").write_bytes(rsa_pub)
    verifier = JwtVerifier.from_public_key_file(
        tmp_path / "rsa.pem", algorithms=("RS256",), issuer=ISSUER, audience=AUDIENCE
    )
    assert verifier.verify(token(key=rsa_key, algorithm="RS256", roles=("admin",))).roles == ("admin",)
    # algorithm confusion: an HS256 token signed with the public key's PEM text is refused
    forged = jwt.api_jws.PyJWS().encode(b'{"sub":"m"}', key=b"x" * 32, algorithm="HS256")
    with pytest.raises(AuthenticationError, match="not accepted"):
        verifier.verify(forged)
    with pytest.raises(AuthenticationError, match="'ES256' is not accepted"):
        verifier.verify(token(key=ec_key, algorithm="ES256"))


def test_configuration_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="at least 32 bytes"):
        JwtVerifier.from_secret("short", algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE)
    with pytest.raises(ConfigError, match="HS256"):
        JwtVerifier.from_secret(JWT_SECRET, algorithms=("RS256",), issuer=ISSUER, audience=AUDIENCE)
    (tmp_path / "bad.pem").write_text("not a key")
    with pytest.raises(ConfigError, match="not a readable PEM"):
        JwtVerifier.from_public_key_file(
            tmp_path / "bad.pem", algorithms=("ES256",), issuer=ISSUER, audience=AUDIENCE
        )
    with pytest.raises(ConfigError, match=r"not \['HS256'\]") as err:
        JwtVerifier.from_public_key_file(
            tmp_path / "bad.pem", algorithms=("HS256",), issuer=ISSUER, audience=AUDIENCE
        )
    assert err.value.key == "security.jwt_algorithms"
