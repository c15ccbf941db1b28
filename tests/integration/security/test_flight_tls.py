"""Flight over TLS and mutual TLS with certificates generated here (cryptography), on the sample lake."""

from __future__ import annotations

import ssl
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.security.flight import FlightClientSecurity, FlightSecurity
from tests.integration.flight.conftest import FIRST, LAST, lake_source, make_processor
from tests.integration.security.conftest import Keys, security_settings
from tests.security_kit import CertificateAuthority, tls_client_context, tls_handshake

pytestmark = pytest.mark.integration

TICKET = fl.Ticket(
    encode_request(StreamRequest(stream="ledger_close_meta", start_ledger=FIRST, end_ledger=FIRST))
)
QUICK = fl.FlightCallOptions(timeout=5)


@pytest.fixture(scope="module")
def cas() -> tuple[CertificateAuthority, CertificateAuthority]:
    return CertificateAuthority("stellar-arrow-ca"), CertificateAuthority("rogue-ca")


def serve(
    sample_lake: Path, keys: Keys, tmp_path: Path, ca: CertificateAuthority, *, mutual: bool
) -> SourceService:
    cert, key = ca.issue("source-service").write(tmp_path, "source")
    (tmp_path / "ca.crt").write_bytes(ca.pem)
    extra: dict[str, object] = {"tls_enabled": True, "cert_file": str(cert), "key_file": str(key)}
    if mutual:
        extra["client_ca_file"] = str(tmp_path / "ca.crt")
    security = FlightSecurity.from_settings(security_settings(keys, **extra), service="source")
    return SourceService(lake_source(sample_lake), first_ledger=FIRST, security=security)


@pytest.fixture
def tls_source(
    sample_lake: Path, keys: Keys, tmp_path: Path, cas: tuple[CertificateAuthority, CertificateAuthority]
) -> Iterator[SourceService]:
    server = serve(sample_lake, keys, tmp_path, cas[0], mutual=False)
    yield server
    server.stop()


@pytest.fixture
def mtls_source(
    sample_lake: Path, keys: Keys, tmp_path: Path, cas: tuple[CertificateAuthority, CertificateAuthority]
) -> Iterator[SourceService]:
    server = serve(sample_lake, keys, tmp_path, cas[0], mutual=True)
    yield server
    server.stop()


def test_tls_server_needs_a_client_trusting_its_ca(
    tls_source: SourceService, keys: Keys, cas: tuple[CertificateAuthority, CertificateAuthority]
) -> None:
    assert tls_source.uri.startswith("grpc+tls://127.0.0.1:")
    good = FlightClientSecurity(api_key=keys.reader, root_certs=cas[0].pem)
    with good.connect(tls_source.uri) as client:
        assert client.do_get(TICKET, QUICK).read_all().num_rows == 1
        (info,) = client.list_flights(options=QUICK)
        assert info.endpoints[0].locations[0].uri.startswith(b"grpc+tls://")
    with good.connect(tls_source.uri.replace("127.0.0.1", "localhost")) as client:
        assert client.do_get(TICKET, QUICK).read_all().num_rows == 1
    rogue = FlightClientSecurity(api_key=keys.reader, root_certs=cas[1].pem)
    with rogue.connect(tls_source.uri) as client, pytest.raises(fl.FlightUnavailableError):
        client.do_get(TICKET, QUICK).read_all()
    plain = tls_source.uri.replace("grpc+tls://", "grpc://")
    with fl.connect(plain) as client, pytest.raises(fl.FlightUnavailableError):
        client.do_get(TICKET, fl.FlightCallOptions(timeout=5, headers=[(b"x-api-key", keys.reader.encode())]))
    # TLS does not replace authentication: a trusted channel without a key is refused
    keyless = FlightClientSecurity(root_certs=cas[0].pem)
    with keyless.connect(tls_source.uri) as client, pytest.raises(fl.FlightUnauthenticatedError):
        client.do_get(TICKET, QUICK).read_all()


def test_mutual_tls_refuses_clients_without_a_certificate_of_the_ca(
    mtls_source: SourceService, keys: Keys, cas: tuple[CertificateAuthority, CertificateAuthority]
) -> None:
    ours, rogue = cas
    client_pem = ours.issue("sink-service", server=False)
    with_cert = FlightClientSecurity(
        root_certs=ours.pem, cert_chain=client_pem.cert, private_key=client_pem.key
    )
    with with_cert.connect(mtls_source.uri) as client:  # a verified certificate stands for the processor role
        assert client.do_get(TICKET, QUICK).read_all().num_rows == 1
        with pytest.raises(fl.FlightUnauthorizedError):
            list(client.do_action(fl.Action("shutdown", b""), QUICK))
    no_cert = FlightClientSecurity(api_key=keys.admin, root_certs=ours.pem)
    with no_cert.connect(mtls_source.uri) as client, pytest.raises(fl.FlightUnavailableError):
        client.do_get(TICKET, QUICK).read_all()
    rogue_pem = rogue.issue("mallory", server=False)
    foreign = FlightClientSecurity(
        api_key=keys.admin, root_certs=ours.pem, cert_chain=rogue_pem.cert, private_key=rogue_pem.key
    )
    with foreign.connect(mtls_source.uri) as client, pytest.raises(fl.FlightUnavailableError):
        client.do_get(TICKET, QUICK).read_all()


def test_processor_reads_the_source_over_mtls_and_serves_tls(
    sample_lake: Path,
    keys: Keys,
    tmp_path: Path,
    cas: tuple[CertificateAuthority, CertificateAuthority],
    expected_transfers: dict[int, pa.Table],
) -> None:
    ours = cas[0]
    source = serve(sample_lake, keys, tmp_path, ours, mutual=True)
    proc_cert, proc_key = ours.issue("processor-service").write(tmp_path, "processor")
    settings = security_settings(
        keys,
        tls_enabled=True,
        cert_file=str(proc_cert),
        key_file=str(proc_key),
        client_ca_file=str(tmp_path / "ca.crt"),
        service_api_key=keys.processor,
    )
    client = FlightClientSecurity.from_settings(settings)
    assert keys.processor not in repr(client)
    processor = make_processor(
        source.uri.replace("grpc+tls://", "grpc://"),  # upgraded to grpc+tls by the client
        reconnect_timeout_s=5.0,
        security=FlightSecurity.from_settings(settings, service="processor"),
        client=client,
    )
    try:
        request = StreamRequest(stream="token_transfers", start_ledger=FIRST, end_ledger=LAST)
        with client.connect(processor.uri) as flight:
            got = flight.do_get(
                fl.Ticket(encode_request(request)), fl.FlightCallOptions(timeout=60)
            ).read_all()
        assert got.equals(pa.concat_tables(expected_transfers[s] for s in range(FIRST, LAST + 1)))
    finally:
        processor.stop()
        source.stop()


def test_flight_tls_is_1_2_at_least(
    tls_source: SourceService, cas: tuple[CertificateAuthority, CertificateAuthority]
) -> None:
    ours = cas[0].pem
    assert tls_handshake(tls_source.port, tls_client_context(ours, legacy=False)) == "TLSv1.2"
    with pytest.raises((ssl.SSLError, OSError)):
        tls_handshake(tls_source.port, tls_client_context(ours, legacy=True))
