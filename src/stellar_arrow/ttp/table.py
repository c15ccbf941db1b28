"""Typed events <-> ``token_transfers`` Arrow record batches (columnar build, exact amounts)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

import pyarrow as pa

from stellar_arrow.ledger.toid import toid
from stellar_arrow.schema import closed_at_micros
from stellar_arrow.ttp.events import (
    Asset,
    Burn,
    Clawback,
    Event,
    EventMeta,
    Fee,
    Mint,
    MuxedInfo,
    Transfer,
)
from stellar_arrow.ttp.schema import AMOUNT_TYPE, TOKEN_TRANSFERS_SCHEMA
from stellar_arrow.xdr.strkey import decode_strkey, muxed_strkey

__all__ = ["events_from_batch", "events_to_batch"]

_DECIMAL_LIMIT: Final = 10**38  # unscaled decimal128(38, 7) values must stay below this in magnitude


def _amount_array(amounts: Sequence[int]) -> pa.Array:
    """decimal128(38, 7) whose unscaled value is the raw amount; null where |amount| >= 10^38."""
    valid = [abs(a) < _DECIMAL_LIMIT for a in amounts]
    pairs = zip(amounts, valid, strict=True)
    data = b"".join(a.to_bytes(16, "little", signed=True) if ok else bytes(16) for a, ok in pairs)
    if all(valid):
        return pa.Array.from_buffers(AMOUNT_TYPE, len(amounts), [None, pa.py_buffer(data)])
    mask = pa.array(valid, pa.bool_())
    validity = mask.buffers()[1]
    return pa.Array.from_buffers(AMOUNT_TYPE, len(amounts), [validity, pa.py_buffer(data)], null_count=-1)


def events_to_batch(events: Sequence[Event]) -> pa.RecordBatch:
    """One row per event, in the given order, with :data:`TOKEN_TRANSFERS_SCHEMA`."""
    n = len(events)
    cols: dict[str, list[object]] = {name: [None] * n for name in TOKEN_TRANSFERS_SCHEMA.names}
    amounts: list[int] = [0] * n
    for i, ev in enumerate(events):
        m = ev.meta
        cols["ledger_sequence"][i] = m.ledger_sequence
        cols["closed_at"][i] = closed_at_micros(m.closed_at)
        cols["transaction_hash"][i] = m.tx_hash
        cols["transaction_index"][i] = m.transaction_index
        cols["operation_index"][i] = m.operation_index
        cols["event_index"][i] = m.event_index
        cols["event_type"][i] = ev.event_type
        cols["transaction_id"][i] = toid(m.ledger_sequence, m.transaction_index)
        if m.operation_index is not None:
            cols["operation_id"][i] = toid(m.ledger_sequence, m.transaction_index, m.operation_index)
        cols["operation_type"][i] = m.operation_type
        if not isinstance(ev, Mint):
            cols["from"][i] = ev.from_
        if isinstance(ev, Transfer | Mint):
            cols["to"][i] = ev.to
        asset = ev.asset
        if asset is not None:
            cols["asset"][i] = asset.qualified
            cols["asset_type"][i] = asset.asset_type
            cols["asset_code"][i] = asset.code
            cols["asset_issuer"][i] = asset.issuer
        amounts[i] = ev.amount
        cols["amount_raw"][i] = str(ev.amount)
        cols["contract_id"][i] = m.contract_address
        mux = m.to_muxed_info
        if mux is not None:
            cols["to_muxed_memo_type"][i] = mux.kind
            if isinstance(mux.value, int):
                cols["to_muxed_id"][i] = mux.value
                to = cols["to"][i]
                if isinstance(to, str) and to.startswith("G"):
                    cols["to_muxed"][i] = muxed_strkey(decode_strkey(to)[1], mux.value)
            else:
                cols["to_muxed_memo"][i] = mux.value
    arrays = [
        _amount_array(amounts) if field.name == "amount" else pa.array(cols[field.name], field.type)
        for field in TOKEN_TRANSFERS_SCHEMA
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=TOKEN_TRANSFERS_SCHEMA)


def events_from_batch(batch: pa.RecordBatch | pa.Table) -> list[Event]:
    """Inverse of :func:`events_to_batch` (``amount`` is ignored: ``amount_raw`` is the exact value)."""
    names = (
        "ledger_sequence",
        "transaction_hash",
        "transaction_index",
        "operation_index",
        "event_index",
        "event_type",
        "from",
        "to",
        "asset",
        "amount_raw",
        "contract_id",
        "to_muxed_id",
        "to_muxed_memo_type",
        "to_muxed_memo",
    )
    operation_types = (
        batch.column("operation_type").to_pylist()
        if "operation_type" in batch.schema.names
        else [None] * batch.num_rows
    )
    c = {name: batch.column(name).to_pylist() for name in names}
    closed = [micros // 1_000_000 for micros in batch.column("closed_at").cast(pa.int64()).to_pylist()]
    out: list[Event] = []
    for i in range(batch.num_rows):
        kind = c["to_muxed_memo_type"][i]
        mux = None
        if kind is not None:
            value = c["to_muxed_id"][i] if kind == "id" else c["to_muxed_memo"][i]
            mux = MuxedInfo(kind, value)
        meta = EventMeta(
            ledger_sequence=c["ledger_sequence"][i],
            closed_at=closed[i],
            tx_hash=c["transaction_hash"][i],
            transaction_index=c["transaction_index"][i],
            operation_index=c["operation_index"][i],
            contract_address=c["contract_id"][i],
            to_muxed_info=mux,
            event_index=c["event_index"][i],
            operation_type=operation_types[i],
        )
        asset_text = c["asset"][i]
        asset = None if asset_text is None else Asset.parse(asset_text)
        amount = int(c["amount_raw"][i])
        etype = c["event_type"][i]
        ev: Event
        if etype == "transfer":
            ev = Transfer(meta, c["from"][i], c["to"][i], asset, amount)
        elif etype == "mint":
            ev = Mint(meta, c["to"][i], asset, amount)
        elif etype == "burn":
            ev = Burn(meta, c["from"][i], asset, amount)
        elif etype == "clawback":
            ev = Clawback(meta, c["from"][i], asset, amount)
        elif etype == "fee":
            ev = Fee(meta, c["from"][i], amount)
        else:
            msg = f"row {i}: unknown event_type {etype!r}"
            raise ValueError(msg)
        out.append(ev)
    return out
