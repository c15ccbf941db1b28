"""Filters on token_transfers batches: exact amounts, assets, accounts, event types."""

from __future__ import annotations

from decimal import Decimal

import pytest

from stellar_arrow.ttp import (
    NATIVE,
    Asset,
    Burn,
    EventFilter,
    EventMeta,
    Fee,
    Mint,
    MuxedInfo,
    Transfer,
    events_to_batch,
    filter_batch,
)
from stellar_arrow.xdr.strkey import account_strkey, contract_strkey, muxed_strkey

G1, G2, G3 = (account_strkey(bytes([i]) * 32) for i in (1, 2, 3))
CT = contract_strkey(bytes(32))
USD = Asset("USD", G3)
USD2 = Asset("USD", G1)


def meta(i: int, mux: MuxedInfo | None = None) -> EventMeta:
    return EventMeta(10, 0, "aa", 1, 1, CT, mux, i)


EVENTS = [
    Fee(meta(0), G1, 100),
    Transfer(meta(1, MuxedInfo("id", 7)), G1, G2, NATIVE, 10_000_000),  # 1 XLM
    Transfer(meta(2), G2, G1, USD, 10_000_001),
    Mint(meta(3), G2, USD2, 2**100),
    Burn(meta(4), G1, None, 5),
    Transfer(meta(5), G1, G2, None, -3),
]
BATCH = events_to_batch(EVENTS)


def kept(f: EventFilter) -> list[int]:
    return filter_batch(BATCH, f).column("event_index").to_pylist()


@pytest.mark.parametrize(
    ("f", "expected"),
    [
        (EventFilter.build(), [0, 1, 2, 3, 4, 5]),
        (EventFilter.build(event_types=["transfer", "mint"]), [1, 2, 3, 5]),
        (EventFilter.build(assets=["native"]), [0, 1]),
        (EventFilter.build(assets=["USD"]), [2, 3]),
        (EventFilter.build(assets=[f"USD:{G3}"]), [2]),
        (EventFilter.build(assets=[f"USD:{G3}", "native"]), [0, 1, 2]),
        (EventFilter.build(accounts=[G2]), [1, 2, 3, 5]),
        (EventFilter.build(accounts=[muxed_strkey(bytes([2]) * 32, 7)]), [1]),
        (EventFilter.build(min_amount=1), [1, 2, 3]),
        (EventFilter.build(min_amount="1.0000001"), [2, 3]),
        (EventFilter.build(max_amount=Decimal("1")), [0, 1, 4, 5]),
        (EventFilter.build(max_amount="0.0000005"), [4, 5]),
        (EventFilter(min_amount_raw=2**100), [3]),
        (EventFilter(min_amount_raw=-3, max_amount_raw=-3), [5]),
        (EventFilter.build(event_types=["transfer"], accounts=[G1], min_amount=1), [1, 2]),
    ],
)
def test_filters(f: EventFilter, expected: list[int]) -> None:
    assert kept(f) == expected


def test_whole_unit_bounds_round_inwards() -> None:
    assert EventFilter.build(min_amount="0.00000001").min_amount_raw == 1
    assert EventFilter.build(max_amount="0.00000019").max_amount_raw == 1


def test_bad_filters_are_rejected() -> None:
    with pytest.raises(ValueError, match="unknown event type"):
        EventFilter.build(event_types=["swap"])
    with pytest.raises(ValueError, match="CODE:ISSUER"):
        EventFilter.build(assets=["a:b:c"])


def test_none_filter_keeps_the_batch() -> None:
    assert filter_batch(BATCH, None) is BATCH


def test_filter_from_mapping() -> None:
    f = EventFilter.from_mapping(
        {"event_types": "transfer, mint", "assets": ["USD"], "min_amount": "1.0000001"}
    )
    assert kept(f) == [2, 3]
    assert EventFilter.from_mapping({"accounts": [G2], "max_amount": 1}) == EventFilter.build(
        accounts=[G2], max_amount=1
    )
    bad_specs: list[dict[str, object]] = [
        {"colour": "red"},
        {"assets": 5},
        {"min_amount": "lots"},
        {"max_amount": True},
        {"min_amount": "NaN"},
    ]
    for bad in bad_specs:
        with pytest.raises(ValueError, match="filter"):
            EventFilter.from_mapping(bad)
