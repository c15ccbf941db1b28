"""The token_transfers schema and the events <-> RecordBatch conversion."""

from __future__ import annotations

from decimal import Decimal

import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from stellar_arrow.ttp import (
    NATIVE,
    SCHEMA_VERSION,
    TOKEN_TRANSFERS_SCHEMA,
    Asset,
    Burn,
    Clawback,
    EventMeta,
    Fee,
    Mint,
    MuxedInfo,
    Transfer,
    events_from_batch,
    events_to_batch,
)
from stellar_arrow.xdr.strkey import account_strkey

G = "GAHK7EEG2WWHVKDNT4CEQFZGKF2LGDSW2IVM4S5DP42RBW3K6BTODB4A"
M = "MAHK7EEG2WWHVKDNT4CEQFZGKF2LGDSW2IVM4S5DP42RBW3K6BTOCAAAAAADZU6VFBOJ2"
C = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"


def test_schema_is_versioned_and_has_the_issue_columns() -> None:
    assert TOKEN_TRANSFERS_SCHEMA.metadata[b"stellar_arrow.schema_version"] == str(SCHEMA_VERSION).encode()
    types = {f.name: f.type for f in TOKEN_TRANSFERS_SCHEMA}
    assert types["ledger_sequence"] == pa.uint32()
    assert types["closed_at"] == pa.timestamp("us", tz="UTC")
    assert types["operation_index"] == pa.uint32() and types["event_index"] == pa.uint32()
    assert types["amount"] == pa.decimal128(38, 7)
    assert types["transaction_id"] == pa.int64() and types["operation_id"] == pa.int64()
    for name in (
        "transaction_hash",
        "event_type",
        "from",
        "to",
        "asset",
        "asset_type",
        "asset_code",
        "asset_issuer",
        "amount_raw",
        "contract_id",
        "to_muxed",
    ):
        assert types[name] == pa.string(), name
    assert types["to_muxed_id"] == pa.uint64()


def _meta(op: int | None = 1, mux: MuxedInfo | None = None) -> EventMeta:
    return EventMeta(63092982, 1781827200, "ab" * 32, 3, op, C, mux, 7)


def test_row_values_toid_and_muxed_address() -> None:
    usd = Asset("USD", G)
    batch = events_to_batch(
        [
            Fee(_meta(None), G, -50),
            Transfer(_meta(2, MuxedInfo("id", 1020515624)), G, G, usd, 12345678),
        ]
    )
    fee, transfer = batch.to_pylist()
    assert fee["operation_index"] is None and fee["operation_id"] is None
    assert fee["transaction_id"] == (63092982 << 32) | (3 << 12)
    assert fee["amount_raw"] == "-50" and fee["amount"] == Decimal("-0.0000050")
    assert fee["asset"] == "native" and fee["asset_type"] == "native" and fee["to"] is None
    assert transfer["operation_id"] == ((63092982 << 32) | (3 << 12) | 2)
    assert transfer["asset"] == f"credit_alphanum4:USD:{G}"
    assert transfer["asset_code"] == "USD" and transfer["asset_issuer"] == G
    assert transfer["amount"] == Decimal("1.2345678")
    assert transfer["to_muxed"] == M and transfer["to_muxed_id"] == 1020515624
    assert transfer["closed_at"].timestamp() == 1781827200


def test_amount_is_null_only_when_it_does_not_fit_decimal128() -> None:
    big = 10**38
    batch = events_to_batch(
        [Mint(_meta(), C, None, big - 1), Mint(_meta(), C, None, big), Burn(_meta(), C, None, -(2**127))]
    )
    assert batch.column("amount").to_pylist() == [Decimal("9" * 31 + "." + "9" * 7), None, None]
    assert batch.column("amount_raw").to_pylist() == [str(big - 1), str(big), str(-(2**127))]
    assert batch.column("asset").null_count == 3


def test_text_and_hash_memos_keep_raw_bytes_and_no_id() -> None:
    batch = events_to_batch(
        [
            Transfer(_meta(1, MuxedInfo("text", b"\xff\xfenot utf8")), G, G, NATIVE, 1),
            Transfer(_meta(1, MuxedInfo("hash", bytes(range(32)))), G, G, NATIVE, 1),
        ]
    )
    rows = batch.to_pylist()
    assert [r["to_muxed_memo_type"] for r in rows] == ["text", "hash"]
    assert rows[0]["to_muxed_memo"] == b"\xff\xfenot utf8" and rows[1]["to_muxed_memo"] == bytes(range(32))
    assert rows[0]["to_muxed_id"] is None and rows[0]["to_muxed"] is None


def test_empty_batch_has_the_schema() -> None:
    batch = events_to_batch([])
    assert batch.num_rows == 0 and batch.schema.equals(TOKEN_TRANSFERS_SCHEMA, check_metadata=True)


def test_asset_parse_and_forms() -> None:
    long = Asset("LONGCODE", G)
    assert long.asset_type == "credit_alphanum12" and Asset.parse(long.qualified) == long
    assert Asset.parse(long.canonical) == long and Asset.parse("native") is NATIVE
    with pytest.raises(ValueError, match="not an asset"):
        Asset.parse("USD")


keys = st.binary(min_size=32, max_size=32).map(account_strkey)
assets = st.one_of(
    st.none(), st.just(NATIVE), st.builds(Asset, st.text("ABCXYZ019", min_size=1, max_size=12), keys)
)
muxes = st.one_of(
    st.none(),
    st.builds(MuxedInfo, st.just("id"), st.integers(0, 2**64 - 1)),
    st.builds(MuxedInfo, st.just("text"), st.binary(max_size=28)),
    st.builds(MuxedInfo, st.just("hash"), st.binary(min_size=32, max_size=32)),
)
metas = st.builds(
    EventMeta,
    st.integers(1, 2**31 - 1),
    st.integers(0, 2**40),
    st.text("0123456789abcdef", min_size=64, max_size=64),
    st.integers(1, 2**20 - 1),
    st.one_of(st.none(), st.integers(1, 4095)),
    keys,
    muxes,
    st.integers(0, 2**32 - 1),
)
amounts = st.integers(-(2**127), 2**127 - 1)
events = st.one_of(
    st.builds(Transfer, metas, keys, keys, assets, amounts),
    st.builds(Mint, metas, keys, assets, amounts),
    st.builds(Burn, metas, keys, assets, amounts),
    st.builds(Clawback, metas, keys, assets, amounts),
    st.builds(Fee, metas, keys, amounts),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(events, max_size=12))
def test_events_round_trip_through_record_batch(evs: list) -> None:
    batch = events_to_batch(evs)
    assert batch.schema.equals(TOKEN_TRANSFERS_SCHEMA)
    assert events_from_batch(batch) == evs
    assert events_from_batch(pa.Table.from_batches([batch])) == evs


def test_operation_type_column_round_trips_and_is_null_for_fees() -> None:
    assert TOKEN_TRANSFERS_SCHEMA.field("operation_type").type == pa.string()
    pay = EventMeta(63092982, 1781827200, "ab" * 32, 3, 2, C, None, 1, "payment")
    events = [Fee(_meta(None), G, 100), Transfer(pay, G, G, NATIVE, 5)]
    batch = events_to_batch(events)
    assert batch.column("operation_type").to_pylist() == [None, "payment"]
    assert events_from_batch(batch) == events
    older = batch.drop_columns(["operation_type"])  # rows of schema version 2 read back without it
    assert [e.meta.operation_type for e in events_from_batch(older)] == [None, None]


@settings(max_examples=60, deadline=None)
@given(
    st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1), amounts, st.integers(10**38, 2**130)), max_size=12)
)
def test_amount_column_is_the_exact_decimal_on_both_paths(values: list[int]) -> None:
    """int64 amounts take Arrow's own cast, wider ones the byte path; both give amount_raw / 10^7 or null."""
    batch = events_to_batch([Mint(_meta(), C, None, v) for v in values])
    expected = [Decimal(f"{v}e-7") if abs(v) < 10**38 else None for v in values]  # exact: no context
    assert batch.column("amount").to_pylist() == expected
    assert batch.column("amount").null_count == expected.count(None)


def test_rows_repeat_distinct_values_without_sharing_mistakes() -> None:
    """Per-distinct-value formatting (assets, TOIDs, close times) still gives every row its own values."""
    usd, eur = Asset("USD", G), Asset("EURLONGCODE", G)
    metas = [
        EventMeta(100 + i % 2, 1781827200 + i % 3, "ab" * 32, 1 + i % 4, i % 3 or None, C) for i in range(12)
    ]
    evs = [Transfer(m, G, G, (usd, eur, NATIVE, None)[i % 4], i) for i, m in enumerate(metas)]
    rows = events_to_batch(evs).to_pylist()
    for ev, row in zip(evs, rows, strict=True):
        m = ev.meta
        assert row["transaction_id"] == m.transaction_id and row["operation_id"] == m.operation_id
        assert row["closed_at"].timestamp() == m.closed_at
        assert row["asset"] == (None if ev.asset is None else ev.asset.qualified)
        assert row["asset_type"] == (None if ev.asset is None else ev.asset.asset_type)
        assert row["asset_code"] == (None if ev.asset is None else ev.asset.code)


def test_an_operation_index_beyond_the_toid_bits_is_a_value_error() -> None:
    good = Transfer(_meta(2), G, G, NATIVE, 1)
    bad = Transfer(_meta(4096), G, G, NATIVE, 1)
    with pytest.raises(ValueError, match="operation index 4096"):
        events_to_batch([good, bad])
