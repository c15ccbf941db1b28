"""The filter model and its one parser: JSON and query parameters give the same model; errors name fields."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stellar_arrow.errors import RequestError
from stellar_arrow.query import (
    JSON_FIELDS,
    MAX_VALUES,
    QUERY_FIELDS,
    TransferFilter,
    compile_where,
    filter_from_json,
    filter_from_query,
)
from stellar_arrow.tables import LEDGERS_SCHEMA
from stellar_arrow.ttp import TOKEN_TRANSFERS_SCHEMA
from stellar_arrow.vocabulary import EVENT_TYPES

ISSUER = "GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
CONTRACT = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"
USDC = f"credit_alphanum4:USDC:{ISSUER}"


def test_json_and_query_parameters_parse_into_the_same_model() -> None:
    from_json = filter_from_json(
        {
            "event_types": ["transfer", "mint"],
            "assets": ["native", f"USDC:{ISSUER}", CONTRACT],
            "accounts": [ISSUER],
            "asset_codes": ["USDC"],
            "transaction_hash": "ab" * 32,
            "min_amount": "0.5",
            "max_amount": 100,
            "from_ledger": 63092982,
            "to_ledger": 63093001,
            "start_time": "2026-06-19T00:00:00Z",
            "end_time": 1781913600,
            "operation_types": ["payment", "path_payment_strict_send"],
            "named": "successful_payments",
            "where": "amount >= 0.5 AND asset LIKE 'credit%'",
        },
        schema=TOKEN_TRANSFERS_SCHEMA,
    )
    from_query = filter_from_query(
        {
            "event_type": "mint,transfer",
            "asset": f"native,{CONTRACT},USDC:{ISSUER}",
            "account": ISSUER,
            "asset_code": "USDC",
            "transaction_hash": "ab" * 32,
            "min_amount": "0.5000000",
            "max_amount": "100",
            "from_ledger": "63092982",
            "to_ledger": "63093001",
            "start_time": "1781827200",
            "end_time": "2026-06-20T02:00:00+02:00",
            "operation_type": "path_payment_strict_send,payment",
            "filter": "successful_payments",
            "where": "amount >= 0.5 AND asset LIKE 'credit%'",
        },
        schema=TOKEN_TRANSFERS_SCHEMA,
    )
    assert from_json == from_query
    assert from_json.event_types == ("mint", "transfer")  # sorted, deduplicated
    assert from_json.assets == (CONTRACT, USDC, "native")
    assert (from_json.classic_assets, from_json.contract_ids) == ((USDC, "native"), (CONTRACT,))
    assert (from_json.min_amount, from_json.max_amount) == (5_000_000, 1_000_000_000)
    assert from_json.start_time == datetime(2026, 6, 19, tzinfo=UTC)
    assert filter_from_json(from_json.to_json(), schema=TOKEN_TRANSFERS_SCHEMA) == from_json
    assert set(from_json.to_json()) == set(JSON_FIELDS)
    assert from_json.named == ("successful_payments",)
    assert from_json.where is not None and from_json.where.table == "token_transfers"


def test_empty_filters() -> None:
    assert filter_from_json(None).is_empty and filter_from_json({}).is_empty
    assert filter_from_query({"limit": "5"}).is_empty  # non-filter names are the caller's business
    assert TransferFilter().to_json() == {}
    assert not TransferFilter(event_types=("fee",)).is_empty


@pytest.mark.parametrize(
    ("doc", "field"),
    [
        ([], "filters"),
        ("event_types=mint", "filters"),
        ({"colour": "red"}, "filters.colour"),
        ({"asset": ["native"]}, "filters.asset"),
        ({"event_types": "mint"}, "filters.event_types"),
        ({"event_types": []}, "filters.event_types"),
        ({"event_types": ["mint"] * (MAX_VALUES + 1)}, "filters.event_types"),
        ({"event_types": [["mint"]]}, "filters.event_types"),
        ({"assets": ["USDC"]}, "filters.assets"),
        ({"assets": [f"USDC:{ISSUER[:-1]}A"]}, "filters.assets"),
        ({"accounts": ["SBFGFF27Y64ZUGFAIG5AMJGQODZZKV2YQKAVUUN4HNE24XZXD2OEUVUP"]}, "filters.accounts"),
        ({"min_amount": "1e999999"}, "filters.min_amount"),
        ({"min_amount": 1.5}, "filters.min_amount"),
        ({"max_amount": {"$gt": 1}}, "filters.max_amount"),
        ({"min_amount": "2", "max_amount": "1"}, "filters.min_amount"),
        ({"from_ledger": 9, "to_ledger": 3}, "filters.from_ledger"),
        ({"from_ledger": "²"}, "filters.from_ledger"),
        ({"start_time": 253402300800}, "filters.start_time"),
        ({"start_time": "9223372036854775808"}, "filters.start_time"),
        ({"start_time": 5, "end_time": 5}, "filters.end_time"),
        ({"transaction_hash": "AB" * 32}, "filters.transaction_hash"),
        ({"operation_types": ["pay"]}, "filters.operation_types"),
        ({"operation_types": "payment"}, "filters.operation_types"),
        ({"named": "big"}, "filters.named"),
        ({"named": ["successful_payments", 7]}, "filters.named"),
        ({"where": "amount > 1"}, "filters.where"),  # no schema given: not accepted here
    ],
)
def test_bad_json_filters_name_the_field(doc: Any, field: str) -> None:
    with pytest.raises(RequestError) as info:
        filter_from_json(doc)
    assert info.value.field == field
    assert field.split(".")[-1] in str(info.value)


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"event_type": "swap"}, "event_type"),
        ({"event_type": "mint,"}, "event_type"),
        ({"event_type": ""}, "event_type"),
        ({"asset": "USDC"}, "asset"),
        ({"account": "GAAAAAAAAAAAAAAAAAAA"}, "account"),
        ({"asset_code": "TOO-LONG-CODE"}, "asset_code"),
        ({"min_amount": "1.00000001"}, "min_amount"),
        ({"max_amount": "-3"}, "max_amount"),
        ({"min_amount": "9", "max_amount": "1"}, "min_amount"),
        ({"from_ledger": "0"}, "from_ledger"),
        ({"from_ledger": "9", "to_ledger": "3"}, "from_ledger"),
        ({"to_ledger": "٣"}, "to_ledger"),
        ({"start_time": "253402300800"}, "start_time"),
        ({"start_time": "9223372036854775808"}, "start_time"),
        ({"start_time": "²"}, "start_time"),
        ({"end_time": "10000-01-01T00:00:00Z"}, "end_time"),
        ({"start_time": "2026-01-02", "end_time": "2026-01-01"}, "end_time"),
        ({"transaction_hash": "XYZ"}, "transaction_hash"),
        ({"account": ",".join([ISSUER] * (MAX_VALUES + 1))}, "account"),
        ({"asset": "n" * 100_000}, "asset"),
        ({"operation_type": "payment,teleport"}, "operation_type"),
        ({"filter": "successful_payments,"}, "filter"),
        ({"filter": "everything"}, "filter"),
        ({"where": "amount >"}, "where"),
        ({"where": "sum(amount) > 1"}, "where"),
        ({"where": "x" * 100_000}, "where"),
    ],
)
def test_bad_query_parameters_name_the_parameter(params: dict[str, str], field: str) -> None:
    with pytest.raises(RequestError) as info:
        filter_from_query(params, schema=TOKEN_TRANSFERS_SCHEMA)
    assert info.value.field == field
    assert field in str(info.value)


def test_query_fields_are_the_rest_names() -> None:
    assert QUERY_FIELDS == (
        "event_type",
        "asset",
        "account",
        "asset_code",
        "transaction_hash",
        "min_amount",
        "max_amount",
        "from_ledger",
        "to_ledger",
        "start_time",
        "end_time",
        "operation_type",
        "filter",
        "where",
    )


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"event_types": ("swap",)}, "event_types"),
        ({"event_types": ["mint"]}, "event_types"),  # tuples only: the model is immutable
        ({"assets": (f"USDC:{ISSUER}",)}, "assets"),  # not the canonical table form
        ({"accounts": ("G",)}, "accounts"),
        ({"min_amount": -1}, "min_amount"),
        ({"max_amount": 1 << 127}, "max_amount"),
        ({"min_amount": True}, "min_amount"),
        ({"from_ledger": 0}, "from_ledger"),
        ({"to_ledger": 1 << 32}, "to_ledger"),
        ({"start_time": datetime(2026, 1, 1)}, "start_time"),  # naive
        ({"operation_types": ("teleport",)}, "operation_types"),
        ({"transaction_hash": "x"}, "transaction_hash"),
        ({"named": ("everything",)}, "named"),
        ({"where": "amount > 1"}, "where"),  # a compiled expression, not text
        ({"where": compile_where("sequence > 1", LEDGERS_SCHEMA)}, "where"),  # another table's
    ],
)
def test_the_model_validates_direct_construction(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(RequestError) as info:
        TransferFilter(**kwargs)
    assert info.value.field == field


def test_the_model_is_hashable_and_normalised() -> None:
    a = TransferFilter(event_types=("mint", "fee", "mint"), operation_types=("payment",))
    b = TransferFilter(event_types=("fee", "mint"), operation_types=("payment",))
    assert a == b and hash(a) == hash(b) and a.event_types == ("fee", "mint")


filters = st.builds(
    TransferFilter,
    event_types=st.lists(st.sampled_from(EVENT_TYPES), max_size=3).map(tuple),
    assets=st.lists(st.sampled_from(["native", USDC, CONTRACT]), max_size=3).map(tuple),
    accounts=st.lists(st.sampled_from([ISSUER, CONTRACT]), max_size=2).map(tuple),
    min_amount=st.none() | st.integers(0, 10**20),
    from_ledger=st.none() | st.integers(1, 2**31),
    start_time=st.none()
    | st.datetimes(min_value=datetime(1970, 1, 1), max_value=datetime(9000, 1, 1), timezones=st.just(UTC)),
)


@given(filters)
def test_json_round_trip(f: TransferFilter) -> None:
    assert filter_from_json(f.to_json()) == f
