"""Parsing of REST filters and WebSocket subscriptions; stream filters over real token transfers."""

from __future__ import annotations

from datetime import UTC, datetime

import pyarrow.compute as pc
import pytest

from stellar_arrow.api.filters import (
    event_id,
    parse_amount_raw,
    parse_paging,
    parse_transfer_filter,
    split_event_id,
)
from stellar_arrow.api.subscription import parse_subscription
from stellar_arrow.errors import RequestError
from tests.unit.sink.realdata import FIRST, whole


def test_amounts_parse_exactly() -> None:
    assert parse_amount_raw("12.5", "min_amount") == 125_000_000
    assert parse_amount_raw("0.0000001", "min_amount") == 1
    assert parse_amount_raw("17014118346046923173168730371588.4105727", "x") == (1 << 127) - 1
    assert parse_amount_raw("-17014118346046923173168730371588.4105728", "x") == -(1 << 127)
    assert parse_amount_raw("1.50000000000", "x") == 15_000_000  # trailing zeros are not extra precision
    with pytest.raises(RequestError, match="i128"):
        parse_amount_raw("17014118346046923173168730371588.4105728", "x")
    with pytest.raises(RequestError, match="more than 7 fraction digits") as info:
        parse_amount_raw("1.00000001", "max_amount")
    assert info.value.field == "max_amount"
    for bad in ("abc", "NaN", "Infinity", "1e400", "1e999999999"):
        with pytest.raises(RequestError):
            parse_amount_raw(bad, "min_amount")


def test_transfer_filter_and_paging() -> None:
    f = parse_transfer_filter(
        {
            "asset": "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN",
            "start_time": "2026-06-19T00:21:00Z",
        }
    )
    assert f.asset == "credit_alphanum4:USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"
    assert f.start_time == datetime(2026, 6, 19, 0, 21, tzinfo=UTC)
    assert parse_transfer_filter(
        {"asset": "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"}
    ).contract_id
    assert parse_paging({"cursor": str(event_id(FIRST, 7)), "limit": "200", "order": "desc"}).limit == 200
    assert split_event_id(event_id(FIRST, 7)) == (FIRST, 7)
    with pytest.raises(RequestError) as info:
        parse_transfer_filter({"asset": "USDC:GNOTANISSUER"})
    assert info.value.field == "asset"


def test_subscription_messages() -> None:
    sub = parse_subscription(
        {
            "type": "subscribe",
            "format": "arrow",
            "compression": "zstd",
            "cursor": "63092990",
            "filters": {"event_types": ["mint"], "assets": ["native"], "min_amount": "1.5"},
        }
    )
    assert (sub.format, sub.compression, sub.cursor) == ("arrow", "zstd", 63092990)
    assert sub.filter.min_amount_raw == 15_000_000 and sub.filter.assets == frozenset({"native"})
    for message, field in [
        ({"type": "subscribe", "extra": 1}, "extra"),
        ({"type": "subscribe", "filters": []}, "filters"),
        ({"type": "subscribe", "filters": {"assets": "native"}}, "filters.assets"),
        ({"type": "subscribe", "filters": {"assets": []}}, "filters.assets"),
        ({"type": "subscribe", "cursor": True}, "cursor"),
        ({"type": "subscribe", "status": "yes"}, "status"),
        ({"type": "subscribe", "compression": "gzip"}, "compression"),
    ]:
        with pytest.raises(RequestError) as info:
            parse_subscription(message)
        assert info.value.field == field


def test_stream_filters_on_real_rows() -> None:
    rows = whole("token_transfers", FIRST, FIRST + 3)
    records = rows.to_pylist()
    counts = pc.value_counts(rows["to"].drop_null()).to_pylist()
    busy = max(counts, key=lambda c: c["counts"])["values"]
    threshold = sorted(int(r["amount_raw"]) for r in records)[len(records) // 2]
    text = f"{threshold // 10**7}.{threshold % 10**7:07d}"
    sub = parse_subscription({"type": "subscribe", "filters": {"accounts": [busy], "min_amount": text}})
    got = sub.filter.apply(rows).to_pylist()
    want = [r for r in records if busy in (r["from"], r["to"]) and int(r["amount_raw"]) >= threshold]
    assert got == want and got
    native = parse_subscription(
        {"type": "subscribe", "filters": {"assets": ["native"], "event_types": ["fee"]}}
    )
    assert native.filter.apply(rows).num_rows == sum(
        r["asset"] == "native" and r["event_type"] == "fee" for r in records
    )
    contract = records[0]["contract_id"]
    by_contract = parse_subscription({"type": "subscribe", "filters": {"assets": [contract]}})
    assert by_contract.filter.apply(rows).num_rows == sum(r["contract_id"] == contract for r in records)
