"""The typed events keep their dataclass behaviour with the hand-written ``__init__``, and the ledger batch
``TableSet`` builds from unplaced events equals the batch of the placed events."""

from __future__ import annotations

import dataclasses
import gzip

import pytest

from stellar_arrow.ledger import resolve_network
from stellar_arrow.ttp import (
    NATIVE,
    Burn,
    Clawback,
    EventMeta,
    Fee,
    Mint,
    MuxedInfo,
    Transfer,
    events_from_ledger,
    events_to_batch,
    token_transfers_batch,
)
from stellar_arrow.xdr import decode_ledger_close_meta, gc_paused
from tests.conftest import CORPUS

G = "GAHK7EEG2WWHVKDNT4CEQFZGKF2LGDSW2IVM4S5DP42RBW3K6BTODB4A"
C = "CAS3J7GYLGXMF6TDJBBYYSE3HQ6BBSMLNUQ34T6TZMYMW2EVH34XOWMA"


def _events() -> list:
    meta = EventMeta(7, 8, "ab" * 32, 1, 2, C, MuxedInfo("id", 5), 3, "payment")
    return [
        Transfer(meta, G, C, NATIVE, 1),
        Mint(meta, G, None, 2),
        Burn(meta, G, NATIVE, 3),
        Clawback(meta, G, NATIVE, 4),
        Fee(meta, G, -5),
    ]


def test_events_are_frozen_comparable_hashable_and_replaceable() -> None:
    for ev in _events():
        with pytest.raises(dataclasses.FrozenInstanceError):
            ev.amount = 9  # type: ignore[misc]
        with pytest.raises(dataclasses.FrozenInstanceError):
            ev.meta.event_index = 9  # type: ignore[misc]
        twin = type(ev)(*(getattr(ev, f.name) for f in dataclasses.fields(ev)))
        assert twin == ev and hash(twin) == hash(ev) and repr(twin) == repr(ev)
        changed = dataclasses.replace(ev, amount=ev.amount + 1)
        assert changed.amount == ev.amount + 1 and changed.meta is ev.meta and changed != ev
        placed = ev.at(11)
        assert placed.meta.event_index == 11 and dataclasses.replace(placed.meta, event_index=3) == ev.meta


def test_event_meta_keywords_and_defaults() -> None:
    meta = EventMeta(
        ledger_sequence=1,
        closed_at=2,
        tx_hash="h",
        transaction_index=3,
        operation_index=None,
        contract_address=C,
    )
    assert (meta.to_muxed_info, meta.event_index, meta.operation_type) == (None, 0, None)
    assert meta == EventMeta(1, 2, "h", 3, None, C, None, 0, None)
    with pytest.raises(TypeError):
        EventMeta(1, 2, "h", 3, None)  # type: ignore[call-arg]


@pytest.mark.parametrize("mode", ["derived", "unified"])
@pytest.mark.parametrize("name", ["pubnet-0063092982.xdr.gz", "pubnet-0057500008.xdr.gz"])
def test_ledger_batch_equals_the_batch_of_the_placed_events(name: str, mode: str) -> None:
    lcm_bytes = gzip.decompress((CORPUS / name).read_bytes())
    pubnet = resolve_network("pubnet")
    with gc_paused():
        lcm = decode_ledger_close_meta(lcm_bytes)
        placed = events_from_ledger(lcm, pubnet, mode)  # type: ignore[arg-type]
        assert [ev.meta.event_index for ev in placed] == list(range(len(placed)))
        batch = token_transfers_batch(lcm, pubnet, mode)  # type: ignore[arg-type]
    assert len(placed) > 400
    assert batch.equals(events_to_batch(placed)) and batch.schema.equals(events_to_batch(placed).schema)
