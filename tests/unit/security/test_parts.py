"""Token buckets, session cookies and the bind rule at every entry point."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import load_settings
from stellar_arrow.errors import AuthenticationError, ConfigError
from stellar_arrow.pipeline.components import build_processor, build_sink, build_source
from stellar_arrow.security import Principal
from stellar_arrow.resilience.ratelimit import KeyedBuckets
from stellar_arrow.security.session import SessionSigner


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


def test_session_cookie_round_trip_expiry_and_tampering() -> None:
    clock = Clock()
    signer = SessionSigner(3600, clock=clock)
    principal = Principal("reader-001", "api_key", ("reader",), expires_at=clock.now + 60)
    value, expires = signer.issue(principal)
    assert expires == clock.now + 60  # never past the credential's own expiry
    back = signer.verify(value)
    assert (back.subject, back.kind, back.roles) == ("reader-001", "api_key", ("reader",))
    payload, signature = value.split(".")
    forged = payload.replace(payload[5], "A" if payload[5] != "A" else "B", 1) + "." + signature
    for bad, reason in ((forged, "invalid_token"), ("x" * 3000, "malformed"), ("a.b.c", "malformed")):
        with pytest.raises(AuthenticationError) as err:
            signer.verify(bad)
        assert err.value.reason == reason
    with pytest.raises(AuthenticationError, match="signed by another server run"):
        SessionSigner(3600, clock=clock).verify(value)
    clock.now += 61
    with pytest.raises(AuthenticationError) as err:
        signer.verify(value)
    assert err.value.reason == "expired"


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
