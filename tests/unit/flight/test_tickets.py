"""Tickets and descriptors: versioned JSON, validated field by field."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellar_arrow.errors import RequestError
from stellar_arrow.flight.tickets import (
    FILTERED_STREAM,
    STREAMS,
    StreamRequest,
    TicketError,
    decode_request,
    encode_request,
)
from stellar_arrow.query import TransferFilter

ISSUER = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
CONTRACT = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
ledgers = st.integers(min_value=1, max_value=2**32 - 1)


@st.composite
def requests(draw: st.DrawFn) -> StreamRequest:
    start = draw(st.none() | ledgers)
    live = draw(st.booleans())
    end = None if live else draw(st.none() | ledgers)
    if start is not None and end is not None and end < start:
        start, end = end, start
    amounts = st.none() | st.integers(min_value=0, max_value=(1 << 127) - 1)
    low, high = sorted([draw(amounts) or 0, draw(amounts) or 0])
    stream = draw(st.sampled_from(STREAMS))
    filters = TransferFilter()
    if stream == FILTERED_STREAM:
        filters = TransferFilter(
            event_types=tuple(
                draw(st.lists(st.sampled_from(["transfer", "mint", "burn", "clawback", "fee"])))
            ),
            assets=tuple(
                draw(st.lists(st.sampled_from(["native", CONTRACT, f"credit_alphanum4:USDC:{ISSUER}"])))
            ),
            accounts=tuple(draw(st.lists(st.sampled_from([ISSUER, CONTRACT]), max_size=2))),
            min_amount=low or None,
            max_amount=high or None,
        )
    return StreamRequest(
        stream=stream,
        start_ledger=start,
        end_ledger=end,
        live=live,
        filters=filters,
        resume_after=draw(st.none() | ledgers),
    )


@given(requests())
def test_round_trip(request: StreamRequest) -> None:
    raw = encode_request(request)
    assert decode_request(raw) == request
    assert json.loads(raw)["v"] == 1


def test_encoding_is_canonical() -> None:
    a = encode_request(StreamRequest("ledgers", 5, 9))
    assert a == b'{"end_ledger":9,"live":false,"resume_after":null,"start_ledger":5,"stream":"ledgers","v":1}'


def test_resume_cursor_moves_the_first_ledger() -> None:
    req = StreamRequest("token_transfers", start_ledger=100, end_ledger=200)
    assert req.first_ledger == 100
    assert req.resumed(150).first_ledger == 151
    assert req.resumed(50).first_ledger == 100
    assert StreamRequest("ledgers", resume_after=7).first_ledger == 8
    assert not req.resumed(150).contains(150)
    assert req.resumed(150).contains(151)
    assert not req.contains(201)


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (b"not json", "ticket", "not JSON"),
        (b"[1, 2]", "ticket", "JSON object"),
        (b'{"stream": "ledgers"}', "v", "version"),
        (b'{"v": 2, "stream": "ledgers"}', "v", "version 2"),
        (b'{"v": 1, "stream": "stellar_ledgers"}', "stream", "stellar_ledgers"),
        (b'{"v": 1, "stream": "ledgers", "start": 5}', "start", "unknown ticket field"),
        (b'{"v": 1, "stream": "ledgers", "start_ledger": 0}', "start_ledger", "between 1"),
        (b'{"v": 1, "stream": "ledgers", "start_ledger": "5"}', "start_ledger", "'5'"),
        (b'{"v": 1, "stream": "ledgers", "start_ledger": true}', "start_ledger", "True"),
        (b'{"v": 1, "stream": "ledgers", "end_ledger": 4294967296}', "end_ledger", "between"),
        (b'{"v": 1, "stream": "ledgers", "start_ledger": 9, "end_ledger": 5}', "end_ledger", "before"),
        (b'{"v": 1, "stream": "ledgers", "live": true, "end_ledger": 5}', "live", "no end_ledger"),
        (b'{"v": 1, "stream": "ledgers", "live": "yes"}', "live", "true or false"),
        (b'{"v": 1, "stream": "ledgers", "resume_after": -1}', "resume_after", "between"),
        (b'{"v":1,"stream":"token_transfers","filters":[]}', "filters", "object"),
        (
            b'{"v":1,"stream":"token_transfers","filters":{"asset":[]}}',
            "filters.asset",
            "unknown filter",
        ),
        (
            b'{"v":1,"stream":"token_transfers","filters":{"event_types":["pay"]}}',
            "filters.event_types",
            "pay",
        ),
        (b'{"v":1,"stream":"token_transfers","filters":{"accounts":"G"}}', "filters.accounts", "JSON array"),
        (
            b'{"v":1,"stream":"token_transfers","filters":{"assets":[""]}}',
            "filters.assets",
            "not an asset",
        ),
        (
            b'{"v":1,"stream":"ledgers","filters":{"event_types":["mint"]}}',
            "filters",
            "token_transfers stream only",
        ),
        (b"[" * 100_000 + b"]" * 100_000, "ticket", "not JSON"),
    ],
)
def test_bad_tickets_name_the_field(raw: bytes, field: str, words: str) -> None:
    with pytest.raises(TicketError) as info:
        decode_request(raw)
    assert info.value.field == field
    assert words in str(info.value)


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        ({"assets": ["USDC:G:X"]}, "filters.assets"),
        ({"assets": ["USDC"]}, "filters.assets"),
        ({"assets": ["USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVA"]}, "filters.assets"),
        ({"accounts": ["GBAD"]}, "filters.accounts"),
        ({"min_amount": 5.5}, "filters.min_amount"),
        ({"min_amount": "1e999999"}, "filters.min_amount"),
        ({"max_amount": "lots"}, "filters.max_amount"),
        ({"max_amount": "NaN"}, "filters.max_amount"),
        ({"max_amount": "-1"}, "filters.max_amount"),
        ({"start_time": "10000-01-01"}, "filters.start_time"),
    ],
)
def test_bad_filter_values_name_the_filter(filters: dict[str, object], field: str) -> None:
    raw = json.dumps({"v": 1, "stream": "token_transfers", "filters": filters}).encode()
    with pytest.raises(TicketError) as info:
        decode_request(raw)
    assert info.value.field == field
    assert isinstance(info.value, RequestError)  # one error tree: a ticket error is a request error


def test_amount_bounds_become_exact_raw_bounds() -> None:
    raw = b'{"v":1,"stream":"token_transfers","filters":{"min_amount":"0.0000001","max_amount":"12.5"}}'
    rules = decode_request(raw).filters
    assert (rules.min_amount, rules.max_amount) == (1, 125_000_000)


def test_where_round_trips_for_the_ticket_table() -> None:
    """``where`` is checked against the ticket's table; for token_transfers it becomes ``filters.where``."""
    ledgers_request = decode_request(b'{"v":1,"stream":"ledgers","where":"successful_transaction_count > 3"}')
    assert ledgers_request.where is not None and ledgers_request.where.table == "ledgers"
    assert decode_request(encode_request(ledgers_request)) == ledgers_request
    raw = b'{"v":1,"stream":"token_transfers","where":"amount > 1","filters":{"named":"large_amounts"}}'
    transfers = decode_request(raw)
    assert transfers.where is None and transfers.filters.where is not None
    assert transfers.filters.named == ("large_amounts",)
    assert json.loads(encode_request(transfers))["filters"]["where"] == "amount > 1"
    assert decode_request(encode_request(transfers)) == transfers


@pytest.mark.parametrize(
    ("raw", "field", "words"),
    [
        (b'{"v":1,"stream":"ledger_close_meta","where":"ledger_sequence > 1"}', "where", "table streams"),
        (b'{"v":1,"stream":"ledgers","where":"amount > 1"}', "where", "unknown column 'amount'"),
        (b'{"v":1,"stream":"operations","where":"type_string = 1"}', "where", "does not compare"),
        (b'{"v":1,"stream":"transactions","where":["x"]}', "where", "must be a string"),
        (
            b'{"v":1,"stream":"token_transfers","where":"amount > 1","filters":{"where":"amount > 2"}}',
            "where",
            "once",
        ),
        (
            b'{"v":1,"stream":"token_transfers","filters":{"where":"len(asset) > 1"}}',
            "filters.where",
            "function calls",
        ),
    ],
)
def test_misplaced_or_bad_where_names_the_field(raw: bytes, field: str, words: str) -> None:
    with pytest.raises(TicketError) as info:
        decode_request(raw)
    assert info.value.field == field and words in str(info.value)
