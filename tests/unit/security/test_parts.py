"""Token buckets, session cookies and the bind rule at every entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import load_settings
from stellar_arrow.errors import AuthenticationError, ConfigError
from stellar_arrow.pipeline.components import build_processor, build_sink, build_source
from stellar_arrow.resilience.ratelimit import KeyedBuckets
from stellar_arrow.security import ApiKeyStore, Principal
from stellar_arrow.security.session import SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_token_bucket_refills_and_reports_the_wait() -> None:
    clock = Clock()
    buckets = KeyedBuckets(2.0, 3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert buckets.take("a") == pytest.approx(0.5)
    assert KeyedBuckets.retry_after(0.5) == "1" and KeyedBuckets.retry_after(2.2) == "3"
    assert buckets.take("b") == 0.0  # keys are independent
    clock.now += 0.5
    assert buckets.take("a") == 0.0


def test_token_buckets_track_a_bounded_number_of_keys() -> None:
    buckets = KeyedBuckets(1.0, 1, max_keys=100)
    for n in range(10_000):
        buckets.take(f"ip-{n}")
    assert len(buckets) == 100
    with pytest.raises(ValueError, match="rate"):
        KeyedBuckets(0, 1)


def test_sessions_live_in_the_key_store_hashed_and_survive_a_restart(tmp_path: Path) -> None:
    clock = Clock()
    keys = ApiKeyStore(tmp_path / "keys.db", clock=clock)
    keys.create("reader-001", ["reader"])
    sessions = SessionStore(keys, 3600, clock=clock)
    principal = Principal("reader-001", "api_key", ("reader",), expires_at=clock.now + 60)
    value, expires = sessions.issue(principal)
    assert expires == clock.now + 60  # never past the credential's own expiry
    assert value.startswith("ss_") and len(value) == 46
    restarted = SessionStore(ApiKeyStore(tmp_path / "keys.db", clock=clock), 3600, clock=clock)
    back = restarted.verify(value)
    assert (back.subject, back.kind, back.roles, back.expires_at) == (
        "reader-001",
        "api_key",
        ("reader",),
        expires,
    )
    stored = b"".join(p.read_bytes() for p in tmp_path.iterdir() if p.name.startswith("keys.db"))
    assert value.encode() not in stored  # only the SHA-256 is kept
    forged = "ss_" + ("A" if value[3] != "A" else "B") + value[4:]
    for bad, reason in ((forged, "invalid_token"), ("x" * 3000, "malformed"), ("a.b", "malformed")):
        with pytest.raises(AuthenticationError) as err:
            restarted.verify(bad)
        assert err.value.reason == reason and bad not in str(err.value)
    clock.now += 61
    with pytest.raises(AuthenticationError) as err:
        sessions.verify(value)
    assert err.value.reason == "expired" and len(sessions) == 0  # the expired row is gone
    with pytest.raises(ValueError, match="anonymous"):
        sessions.issue(Principal("anonymous", "anonymous", ("admin",)))


def test_revoking_a_key_ends_its_sessions_and_logout_ends_one(tmp_path: Path) -> None:
    keys = ApiKeyStore(tmp_path / "keys.db")
    keys.create("reader-001", ["reader"])
    sessions = SessionStore(keys, 3600)
    mine = [sessions.issue(Principal("reader-001", "api_key", ("reader",)))[0] for _ in range(2)]
    other = sessions.issue(Principal("alice", "jwt", ("reader",)))[0]
    keys.revoke("reader-001")
    for value in mine:
        with pytest.raises(AuthenticationError, match="not known"):
            sessions.verify(value)
    assert sessions.verify(other).subject == "alice"
    sessions.end(other)
    sessions.end("not-a-session")
    with pytest.raises(AuthenticationError, match="not known"):
        sessions.verify(other)


def test_sessions_are_bounded(tmp_path: Path) -> None:
    clock = Clock()
    sessions = SessionStore(ApiKeyStore(tmp_path / "keys.db"), 3600, max_sessions=5, clock=clock)
    issued = []
    for n in range(20):
        clock.now += 1
        issued.append(sessions.issue(Principal(f"user-{n}", "jwt", ("reader",)))[0])
    assert len(sessions) == 5
    assert sessions.verify(issued[-1]).subject == "user-19"
    with pytest.raises(AuthenticationError):
        sessions.verify(issued[0])


@pytest.mark.parametrize(
    ("build", "section"), [(build_source, "source"), (build_processor, "processor"), (build_sink, "sink")]
)
def test_services_refuse_a_public_address_without_auth(build: object, section: str) -> None:
    settings = load_settings(**{section: {"host": "0.0.0.0"}})
    with pytest.raises(ConfigError, match="without authentication") as err:
        build(settings, port=0)  # type: ignore[operator]
    assert err.value.key == f"{section}.host"


def test_api_command_refuses_a_public_address_without_auth(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["api", str(tmp_path), "--host", "0.0.0.0", "--port", "0"])
    assert result.exit_code == 2
    assert "without authentication" in result.output and "allow_insecure" in result.output


def test_client_certificate_subject_from_the_asgi_tls_extension() -> None:
    import datetime as dt

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    from stellar_arrow.security.client_certs import client_certificate_subject
    from tests.security_kit import CertificateAuthority

    issued = CertificateAuthority("unit-ca").issue("dashboard-reader", server=False)
    with_cert = {"extensions": {"tls": {"client_cert_chain": [issued.cert.decode()]}}}
    assert client_certificate_subject(with_cert) == "dashboard-reader"
    for scope in ({}, {"extensions": None}, {"extensions": {"tls": {"client_cert_chain": []}}}):
        assert client_certificate_subject(scope) is None
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Ops, Inc.")])
    now = dt.datetime.now(dt.UTC)
    no_cn = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(hours=1))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.PEM)
    )
    scope = {"extensions": {"tls": {"client_cert_chain": [no_cn.decode()]}}}
    assert client_certificate_subject(scope) == "O=Ops\\, Inc."
