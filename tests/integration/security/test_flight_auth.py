"""Flight: every method x every credential case on a real source service over the sample lake.

Only a valid credential gets through: refusals are ``FlightUnauthenticatedError`` (401-like) or
``FlightUnauthorizedError`` (403-like), carry no data and never echo a secret. An insufficient role
exists only for DoPut/DoExchange (write_ledgers) and admin-only actions: every role holds
read_ledgers and read_metrics.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pyarrow as pa
import pyarrow.flight as fl
import pytest

from stellar_arrow.errors import UpstreamError
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.stream import LEDGER_CLOSE_META_SCHEMA
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.flight.upstream import upstream_action
from stellar_arrow.security import ApiKeyStore
from stellar_arrow.security.flight import REVALIDATE_INTERVAL_S, FlightClientSecurity, FlightSecurity
from tests.integration.flight.conftest import FIRST, LAST, lake_source, make_processor
from tests.integration.security.conftest import Keys, credential_cases, security_settings
from tests.security_kit import token

pytestmark = pytest.mark.integration

DESC = fl.FlightDescriptor.for_path("ledger_close_meta")
Call = Callable[[fl.FlightClient, fl.FlightCallOptions], object]


def _do_get(client: fl.FlightClient, options: fl.FlightCallOptions) -> object:
    request = StreamRequest(stream="ledger_close_meta", start_ledger=FIRST, end_ledger=FIRST + 1)
    return client.do_get(fl.Ticket(encode_request(request)), options).read_all()


def _do_put(client: fl.FlightClient, options: fl.FlightCallOptions) -> object:
    writer, _ = client.do_put(DESC, LEDGER_CLOSE_META_SCHEMA, options)
    writer.write_table(LEDGER_CLOSE_META_SCHEMA.empty_table())
    writer.close()
    return None


def _do_exchange(client: fl.FlightClient, options: fl.FlightCallOptions) -> object:
    writer, reader = client.do_exchange(DESC, options)
    writer.begin(LEDGER_CLOSE_META_SCHEMA)
    writer.done_writing()
    reader.read_all()
    return None


def _action(name: str) -> Call:
    return lambda client, options: [
        r.body.to_pybytes() for r in client.do_action(fl.Action(name, b""), options)
    ]


METHODS: dict[str, tuple[Call, str | None]] = {
    # name: (call, role lacking the permission or None when every role holds it)
    "ListFlights": (lambda c, o: list(c.list_flights(options=o)), None),
    "GetFlightInfo": (lambda c, o: c.get_flight_info(DESC, o), None),
    "GetSchema": (lambda c, o: c.get_schema(DESC, o), None),
    "DoGet": (_do_get, None),
    "DoPut": (_do_put, "reader"),
    "DoExchange": (_do_exchange, "reader"),
    "ListActions": (lambda c, o: list(c.list_actions(o)), None),
    "DoAction:status": (_action("status"), None),
    "DoAction:health": (_action("health"), None),
    "DoAction:current_ledger": (_action("current_ledger"), None),
    "DoAction:latest_ledger": (_action("latest_ledger"), None),
    "DoAction:shutdown": (_action("shutdown"), "processor"),  # unknown actions need admin
}
NOT_SERVED = {"DoPut", "DoExchange", "DoAction:shutdown"}  # the source serves no puts/exchanges


@pytest.fixture
def secured(sample_lake: Path, keys: Keys) -> Iterator[SourceService]:
    security = FlightSecurity.from_settings(security_settings(keys), service="source")
    server = SourceService(lake_source(sample_lake), first_ledger=FIRST, security=security)
    yield server
    server.stop()


def _pyarrow_get_schema_status(method: str, exc: BaseException, expected: type[BaseException]) -> bool:
    """pyarrow 26's client turns GetSchema's status into a plain OSError; the gRPC status is in the text."""
    detail = "Unauthenticated" if expected is fl.FlightUnauthenticatedError else "Unauthorized"
    return method == "GetSchema" and f"Detail: {detail}" in str(exc)


def options(headers: dict[str, str]) -> fl.FlightCallOptions:
    return fl.FlightCallOptions(headers=[(k.encode(), v.encode()) for k, v in headers.items()], timeout=20)


@pytest.fixture(params=["source", "processor", "sink"])
def any_service(
    request: pytest.FixtureRequest, secured: SourceService, keys: Keys, tmp_path: Path, sample_lake: Path
) -> Iterator[tuple[str, str]]:
    """Each of the three services with authentication on: (name, uri)."""
    name = request.param
    if name == "source":
        yield name, secured.uri
        return
    if name == "processor":
        processor = make_processor(
            secured.uri,
            reconnect_timeout_s=5.0,
            security=FlightSecurity.from_settings(security_settings(keys), service="processor"),
            client=FlightClientSecurity(api_key=keys.processor),
        )
        yield name, processor.uri
        processor.stop()
        return
    from stellar_arrow.config import load_settings
    from stellar_arrow.pipeline.components import build_sink

    security = security_settings(keys).model_dump()
    security["jwt_secret"] = security["jwt_secret"].get_secret_value()
    settings = load_settings(source={"datalake_uri": str(sample_lake)}, security=security)
    sink = build_sink(settings, port=0, output_dir=tmp_path / "out")
    yield name, sink.uri
    sink.stop()
    sink.close()


def test_matrix_every_method_every_credential(
    any_service: tuple[str, str], keys: Keys, secrets_seen: list[str]
) -> None:
    service, uri = any_service
    role_keys = {"reader": keys.reader, "processor": keys.processor}
    outcomes: dict[tuple[str, str], str] = {}
    with fl.connect(uri) as client:
        for method, (call, weaker_role) in METHODS.items():
            cases = {name: (h, fl.FlightUnauthenticatedError) for name, h in credential_cases(keys).items()}
            if weaker_role is not None:
                cases["insufficient_role"] = (
                    {"x-api-key": role_keys[weaker_role]},
                    fl.FlightUnauthorizedError,
                )
            for name, (headers, expected) in cases.items():
                with pytest.raises((expected, OSError)) as err:
                    call(client, options(headers))
                text = str(err.value)
                assert isinstance(err.value, expected) or _pyarrow_get_schema_status(
                    method, err.value, expected
                ), (service, method, name, text)
                assert not any(secret in text for secret in secrets_seen), (service, method, name)
                assert "Traceback" not in text and "ledger_close_meta_xdr" not in text
                outcomes[(method, name)] = type(err.value).__name__
            for valid in ({"x-api-key": keys.admin}, {"authorization": f"Bearer {token(roles=('admin',))}"}):
                if service == "source" and method not in NOT_SERVED:
                    assert call(client, options(valid)) is not None
                    continue
                try:  # the request may not be one this service serves: any answer but an auth refusal
                    call(client, options(valid))
                except (fl.FlightError, pa.ArrowException, OSError) as exc:
                    assert not isinstance(exc, fl.FlightUnauthenticatedError | fl.FlightUnauthorizedError)
                    assert "Unauthenticated" not in str(exc) and "Unauthorized" not in str(exc)
    assert len(outcomes) == 9 * len(METHODS) + 3


def test_valid_reads_return_real_ledgers(secured: SourceService, keys: Keys) -> None:
    with fl.connect(secured.uri) as client:
        table = _do_get(client, options({"authorization": f"Bearer {keys.reader}"}))
    assert isinstance(table, pa.Table) and table.num_rows == 2
    assert table.column("ledger_sequence").to_pylist() == [FIRST, FIRST + 1]


def test_status_hides_private_keys_from_non_admins(secured: SourceService, keys: Keys) -> None:
    with fl.connect(secured.uri) as client:
        reader = json.loads(_action("status")(client, options({"x-api-key": keys.reader}))[0])  # type: ignore[index]
        admin = json.loads(_action("status")(client, options({"x-api-key": keys.admin}))[0])  # type: ignore[index]
    assert reader["service"] == admin["service"] == "source"
    assert all(key not in reader for key in ("output_dir",))


def test_processor_authenticates_to_the_source_with_a_processor_key(
    secured: SourceService, keys: Keys, expected_transfers: dict[int, pa.Table]
) -> None:
    client = FlightClientSecurity(api_key=keys.processor)
    processor = make_processor(secured.uri, reconnect_timeout_s=5.0, client=client)
    try:
        request = StreamRequest(stream="token_transfers", start_ledger=FIRST, end_ledger=LAST)
        with fl.connect(processor.uri) as flight:
            got = flight.do_get(
                fl.Ticket(encode_request(request)), fl.FlightCallOptions(timeout=60)
            ).read_all()
        want = pa.concat_tables(expected_transfers[s] for s in range(FIRST, LAST + 1))
        assert got.equals(want)
        assert upstream_action(secured.uri, "latest_ledger", client=client)["latest_ledger"] == LAST
    finally:
        processor.stop()
    keyless = make_processor(secured.uri, reconnect_timeout_s=2.0)
    try:
        with (
            fl.connect(keyless.uri) as flight,
            pytest.raises(fl.FlightServerError, match="refused stream") as err,
        ):
            flight.do_get(fl.Ticket(encode_request(request)), fl.FlightCallOptions(timeout=30)).read_all()
        assert "credentials required" in str(err.value)
    finally:
        keyless.stop()
    with pytest.raises(UpstreamError, match="refused action 'latest_ledger'"):
        upstream_action(secured.uri, "latest_ledger", client=FlightClientSecurity(api_key=keys.revoked))


@pytest.mark.parametrize("how", ["api_key", "jwt_expiry"])
def test_open_live_stream_stops_after_revocation_or_expiry(
    secured: SourceService, keys: Keys, how: str
) -> None:
    """A live DoGet idles at the tip; revoking its key (or its JWT expiring) ends it within the bound."""
    if how == "api_key":
        headers = {"x-api-key": keys.spare}
    else:
        headers = {"authorization": f"Bearer {token(roles=('reader',), expires_in=4)}"}
    request = StreamRequest(stream="ledger_close_meta", start_ledger=FIRST, live=True)
    errors: list[BaseException] = []
    ended = threading.Event()
    seen: list[int] = []

    def consume() -> None:
        try:
            with fl.connect(secured.uri) as client:
                reader = client.do_get(fl.Ticket(encode_request(request)), options(headers))
                for chunk in reader:
                    seen.append(chunk.data.num_rows)
        except BaseException as exc:
            errors.append(exc)
        ended.set()

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while sum(seen) < LAST - FIRST + 1 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert sum(seen) == LAST - FIRST + 1 and not ended.is_set()  # caught up, idling at the tip
    if how == "api_key":
        ApiKeyStore(keys.store).revoke("spare-001")
        bound = REVALIDATE_INTERVAL_S + 2.0
    else:
        bound = 4 + 5 + REVALIDATE_INTERVAL_S + 2.0  # expiry (no leeway on open streams) + slack
    started = time.monotonic()
    assert ended.wait(bound), "stream still open after revocation"
    took = time.monotonic() - started
    assert len(errors) == 1 and isinstance(errors[0], fl.FlightUnauthenticatedError), errors
    assert "revoked or expired during the stream" in str(errors[0])
    thread.join(5)
    if how == "api_key":
        assert took < REVALIDATE_INTERVAL_S + 2.0


def test_method_permission_table_covers_every_flight_method() -> None:
    from stellar_arrow.security.flight import METHOD_PERMISSIONS

    methods = {m for m in fl.FlightMethod if m.name != "INVALID"}
    assert methods <= set(METHOD_PERMISSIONS)


def test_sink_status_reveals_output_dir_to_admins_only(tmp_path: Path, keys: Keys, sample_lake: Path) -> None:
    from stellar_arrow.config import load_settings
    from stellar_arrow.pipeline.components import build_sink

    security = security_settings(keys).model_dump()
    security["jwt_secret"] = security["jwt_secret"].get_secret_value()
    settings = load_settings(source={"datalake_uri": str(sample_lake)}, security=security)
    sink = build_sink(settings, port=0, output_dir=tmp_path / "out")
    try:
        with fl.connect(sink.uri) as client:
            as_reader = json.loads(_action("status")(client, options({"x-api-key": keys.reader}))[0])  # type: ignore[index]
            as_admin = json.loads(_action("status")(client, options({"x-api-key": keys.admin}))[0])  # type: ignore[index]
            with pytest.raises(fl.FlightUnauthenticatedError):
                _action("status")(client, options({}))
    finally:
        sink.stop()
        sink.close()
    assert as_reader["service"] == "sink" and "checkpoint" in as_reader
    assert "output_dir" not in as_reader and str(tmp_path) not in json.dumps(as_reader)
    assert as_admin["output_dir"] == str(tmp_path / "out")
