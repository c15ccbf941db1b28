"""Flight: authentication counted in the process registry, token buckets per key and per peer IP.

A real source service over the sample lake; a burst of real calls. A refused call is a
``FlightUnavailableError`` "rate limited" with a retry hint (message and ``extra_info``), counted in
``rate_limit_rejections_total{name}``; failed authentications are logged without the credential.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow.flight as fl
import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.security.flight import FlightSecurity, peer_ip
from tests.integration.flight.conftest import FIRST, lake_source
from tests.integration.security.conftest import Keys, security_settings
from tests.security_kit import token

pytestmark = pytest.mark.integration


def _value(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def _options(headers: dict[str, str]) -> fl.FlightCallOptions:
    return fl.FlightCallOptions(headers=[(k.encode(), v.encode()) for k, v in headers.items()], timeout=20)


def _status(client: fl.FlightClient, headers: dict[str, str]) -> dict[str, Any]:
    results = list(client.do_action(fl.Action("status", b""), _options(headers)))
    body: dict[str, Any] = json.loads(results[0].body.to_pybytes())
    return body


def _do_get(client: fl.FlightClient, headers: dict[str, str]) -> int:
    request = StreamRequest(stream="ledger_close_meta", start_ledger=FIRST, end_ledger=FIRST)
    rows: int = client.do_get(fl.Ticket(encode_request(request)), _options(headers)).read_all().num_rows
    return rows


def _serve(sample_lake: Path, security: FlightSecurity) -> SourceService:
    return SourceService(lake_source(sample_lake), first_ledger=FIRST, security=security)


@pytest.fixture
def limited(sample_lake: Path, keys: Keys) -> Iterator[SourceService]:
    settings = security_settings(
        keys,
        rate_limit_enabled=True,
        rate_limit_per_key_rps=1.0,
        rate_limit_per_key_burst=3,
        rate_limit_per_ip_rps=1000.0,
        rate_limit_per_ip_burst=1000,
    )
    server = _serve(sample_lake, FlightSecurity.from_settings(settings, service="source"))
    yield server
    server.stop()


def test_flight_counts_authentications_and_key_use(
    sample_lake: Path, keys: Keys, secrets_seen: list[str], caplog: pytest.LogCaptureFixture
) -> None:
    server = _serve(sample_lake, FlightSecurity.from_settings(security_settings(keys), service="source"))
    labels = [
        ("api_key", "ok"),
        ("api_key", "unknown_key"),
        ("api_key", "revoked"),
        ("none", "missing"),
        ("jwt", "ok"),
        ("jwt", "invalid_token"),
    ]
    before = {pair: _value("auth_attempts_total", type=pair[0], status=pair[1]) for pair in labels}
    used = _value("api_key_usage_total", key_id="reader-001")
    caplog.set_level(logging.WARNING)
    try:
        with fl.connect(server.uri) as client:
            assert _status(client, {"x-api-key": keys.reader})["service"] == "source"
            assert _do_get(client, {"authorization": f"Bearer {keys.reader}"}) == 1
            assert _status(client, {"authorization": f"Bearer {token()}"})["service"] == "source"
            refused = [
                {"x-api-key": "sa_" + "Q" * 43},
                {"x-api-key": keys.revoked},
                {},
                {"authorization": f"Bearer {token(issuer='https://evil.example')}"},
            ]
            for headers in refused:
                with pytest.raises(fl.FlightUnauthenticatedError):
                    _status(client, headers)
    finally:
        server.stop()
    after = {pair: _value("auth_attempts_total", type=pair[0], status=pair[1]) for pair in labels}
    delta = {pair: after[pair] - before[pair] for pair in labels}
    assert delta == {
        ("api_key", "ok"): 2,
        ("api_key", "unknown_key"): 1,
        ("api_key", "revoked"): 1,
        ("none", "missing"): 1,
        ("jwt", "ok"): 1,
        ("jwt", "invalid_token"): 1,
    }
    assert _value("api_key_usage_total", key_id="reader-001") - used == 2
    failures = [r.getMessage() for r in caplog.records if "authentication failed" in r.getMessage()]
    assert len(failures) == 4 and any("revoked-001" in line for line in failures)
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert not any(secret in logged for secret in secrets_seen)


def test_burst_of_flight_calls_is_limited_per_key(limited: SourceService, keys: Keys) -> None:
    before = _value("rate_limit_rejections_total", name="per_key")
    reader = {"x-api-key": keys.reader}
    outcomes: list[str] = []
    refusals: list[fl.FlightUnavailableError] = []
    with fl.connect(limited.uri) as client:
        for n in range(10):
            try:
                _do_get(client, reader) if n % 2 else _status(client, reader)
                outcomes.append("ok")
            except fl.FlightUnavailableError as exc:
                outcomes.append("limited")
                refusals.append(exc)
        # another key has its own bucket
        assert _status(client, {"x-api-key": keys.admin})["service"] == "source"
        time.sleep(1.1)  # one token back at 1/s
        assert _status(client, reader)["service"] == "source"
    assert outcomes == ["ok"] * 3 + ["limited"] * 7
    first = refusals[0]
    assert "rate limited (per_key)" in str(first) and "retry after 1 s" in str(first)
    assert json.loads(first.extra_info) == {"code": "rate_limited", "limit": "per_key", "retry_after_s": 1}
    assert keys.reader not in str(first)
    assert _value("rate_limit_rejections_total", name="per_key") - before == 7


@pytest.mark.parametrize("auth", [True, False])
def test_burst_of_flight_calls_is_limited_per_peer_ip(sample_lake: Path, keys: Keys, auth: bool) -> None:
    limits = {
        "rate_limit_enabled": True,
        "rate_limit_per_ip_rps": 0.5,
        "rate_limit_per_ip_burst": 4,
        "rate_limit_per_key_rps": 1000.0,
        "rate_limit_per_key_burst": 1000,
    }
    settings = security_settings(keys, **limits) if auth else load_settings(security=limits).security
    server = _serve(sample_lake, FlightSecurity.from_settings(settings, service="source"))
    before = _value("rate_limit_rejections_total", name="per_ip")
    headers = [{"x-api-key": keys.reader}, {"x-api-key": keys.admin}] if auth else [{}, {}]
    outcomes = []
    try:
        with fl.connect(server.uri) as client:
            for n in range(8):  # alternating keys: only the peer's bucket can run dry
                try:
                    _status(client, headers[n % 2])
                    outcomes.append("ok")
                except fl.FlightUnavailableError as exc:
                    assert "rate limited (per_ip)" in str(exc) and "retry after 2 s" in str(exc)
                    outcomes.append("limited")
            with pytest.raises(fl.FlightUnavailableError, match="per_ip"):
                list(client.list_flights(options=_options(headers[0])))
    finally:
        server.stop()
    assert outcomes == ["ok"] * 4 + ["limited"] * 4
    assert _value("rate_limit_rejections_total", name="per_ip") - before == 5


def test_peer_strings_become_ip_addresses() -> None:
    assert peer_ip("ipv4:127.0.0.1:50123") == "127.0.0.1"
    assert peer_ip("ipv6:[::1]:50123") == "::1"
    assert peer_ip("unix:/tmp/socket") == "unix:/tmp/socket"
    assert peer_ip("") == "unknown"
