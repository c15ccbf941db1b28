"""Paging parameters and WebSocket subscriptions; subscription filters over real token transfers."""

from __future__ import annotations

import pyarrow.compute as pc
import pytest

from stellar_arrow.api.filters import event_id, parse_paging, split_event_id
from stellar_arrow.api.subscription import parse_subscription
from stellar_arrow.errors import RequestError
from stellar_arrow.query import filter_rows
from tests.unit.sink.realdata import FIRST, whole


def test_paging() -> None:
    assert parse_paging({"cursor": str(event_id(FIRST, 7)), "limit": "200", "order": "desc"}).limit == 200
    assert split_event_id(event_id(FIRST, 7)) == (FIRST, 7)
    for params, field in [
        ({"cursor": "²"}, "cursor"),
        ({"cursor": str(1 << 63)}, "cursor"),
        ({"limit": "٣"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"order": "sideways"}, "order"),
    ]:
        with pytest.raises(RequestError) as info:
            parse_paging(params)
        assert info.value.field == field


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
    assert sub.filter.min_amount == 15_000_000 and sub.filter.assets == ("native",)
    assert parse_subscription({"type": "subscribe", "cursor": 0}).cursor == 0  # replay from the start
    for message, field in [
        ({"type": "subscribe", "extra": 1}, "extra"),
        ({"type": "subscribe", "filters": []}, "filters"),
        ({"type": "subscribe", "filters": {"assets": "native"}}, "filters.assets"),
        ({"type": "subscribe", "filters": {"assets": []}}, "filters.assets"),
        ({"type": "subscribe", "cursor": True}, "cursor"),
        ({"type": "subscribe", "cursor": "²"}, "cursor"),
        ({"type": "subscribe", "cursor": "9223372036854775808"}, "cursor"),
        ({"type": "subscribe", "cursor": -1}, "cursor"),
        ({"type": "subscribe", "filters": {"min_amount": "1e999999"}}, "filters.min_amount"),
        ({"type": "subscribe", "filters": {"accounts": ["GBAD"]}}, "filters.accounts"),
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
    got = filter_rows(rows, sub.filter).to_pylist()
    want = [r for r in records if busy in (r["from"], r["to"]) and int(r["amount_raw"]) >= threshold]
    assert got == want and got
    native = parse_subscription(
        {"type": "subscribe", "filters": {"assets": ["native"], "event_types": ["fee"]}}
    )
    assert filter_rows(rows, native.filter).num_rows == sum(
        r["asset"] == "native" and r["event_type"] == "fee" for r in records
    )
    contract = records[0]["contract_id"]
    by_contract = parse_subscription({"type": "subscribe", "filters": {"assets": [contract]}})
    assert filter_rows(rows, by_contract.filter).num_rows == sum(
        r["contract_id"] == contract for r in records
    )
