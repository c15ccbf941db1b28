"""Typed events <-> ``token_transfers`` Arrow record batches (columnar build, exact amounts)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from operator import attrgetter
from typing import Any, Final

import pyarrow as pa

from stellar_arrow.ledger.toid import toid
from stellar_arrow.schema import closed_at_micros
from stellar_arrow.ttp.events import (
    NATIVE,
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

__all__ = ["events_from_batch", "events_to_batch", "ledger_events_batch"]

_DECIMAL_LIMIT: Final = 10**38  # unscaled decimal128(38, 7) values must stay below this in magnitude
_INT64: Final = pa.int64()
_UNSCALED: Final = pa.decimal128(38, 0)  # same 16-byte storage as AMOUNT_TYPE, scale 0: the raw amount

# Per event: (ledger_sequence, closed_at, tx_hash, transaction_index, operation_index, contract_address,
# to_muxed_info, operation_type) of the meta; (event_type, from, to, asset, amount) of the event itself.
_META_FIELDS: Final = attrgetter(
    "ledger_sequence",
    "closed_at",
    "tx_hash",
    "transaction_index",
    "operation_index",
    "contract_address",
    "to_muxed_info",
    "operation_type",
)
_META: Final = attrgetter("meta")
_EVENT_INDEX: Final = attrgetter("event_index")


def _native_fee(ev: Fee) -> tuple[str, str, None, Asset, int]:
    return ("fee", ev.from_, None, NATIVE, ev.amount)


def _mint(ev: Mint) -> tuple[str, None, str, Asset | None, int]:
    return ("mint", None, ev.to, ev.asset, ev.amount)


def _debit(ev: Burn | Clawback) -> tuple[str, str, None, Asset | None, int]:
    return (ev.event_type, ev.from_, None, ev.asset, ev.amount)


_PARTIES: Final[dict[type, Callable[[Any], tuple[str, str | None, str | None, Asset | None, int]]]] = {
    Transfer: attrgetter("event_type", "from_", "to", "asset", "amount"),
    Mint: _mint,
    Burn: _debit,
    Clawback: _debit,
    Fee: _native_fee,
}
_NO_ASSET: Final = (None, None, None, None)


def _amount_array(amounts: Sequence[int]) -> pa.Array:
    """decimal128(38, 7) whose unscaled value is the raw amount; null where |amount| >= 10^38."""
    n = len(amounts)
    try:  # classic amounts are int64: Arrow writes their 16-byte two's complement itself
        unscaled = pa.array(amounts, _INT64).cast(_UNSCALED)
    except (OverflowError, pa.ArrowInvalid):
        pass
    else:
        return pa.Array.from_buffers(AMOUNT_TYPE, n, [None, unscaled.buffers()[1]])
    valid = [abs(a) < _DECIMAL_LIMIT for a in amounts]
    pairs = zip(amounts, valid, strict=True)
    data = b"".join(a.to_bytes(16, "little", signed=True) if ok else bytes(16) for a, ok in pairs)
    if all(valid):
        return pa.Array.from_buffers(AMOUNT_TYPE, n, [None, pa.py_buffer(data)])
    mask = pa.array(valid, pa.bool_())
    validity = mask.buffers()[1]
    return pa.Array.from_buffers(AMOUNT_TYPE, n, [validity, pa.py_buffer(data)], null_count=-1)


def _asset_columns(assets: Sequence[Asset | None]) -> Iterable[Sequence[str | None]]:
    """``asset``, ``asset_type``, ``asset_code``, ``asset_issuer``; each distinct asset formatted once."""
    formatted: dict[int, tuple[str | None, str | None, str | None, str | None]] = {id(None): _NO_ASSET}
    for asset in assets:
        if asset is not None and id(asset) not in formatted:
            formatted[id(asset)] = (asset.qualified, asset.asset_type, asset.code, asset.issuer)
    return zip(*[formatted[id(asset)] for asset in assets], strict=True)


def _muxed_columns(tos: Sequence[str | None], muxes: Sequence[MuxedInfo | None]) -> list[list[object]]:
    """``to_muxed``, ``to_muxed_id``, ``to_muxed_memo_type``, ``to_muxed_memo`` (most rows have no mux)."""
    n = len(muxes)
    columns: list[list[object]] = [[None] * n for _ in range(4)]
    to_muxed, ids, kinds, memos = columns
    for i, mux in enumerate(muxes):
        if mux is None:
            continue
        kinds[i] = mux.kind
        if isinstance(mux.value, int):
            ids[i] = mux.value
            to = tos[i]
            if isinstance(to, str) and to.startswith("G"):
                to_muxed[i] = muxed_strkey(decode_strkey(to)[1], mux.value)
        else:
            memos[i] = mux.value
    return columns


def _toids(
    keys: Sequence[tuple[int, int, int | None]],
) -> tuple[dict[tuple[int, int, int | None], int], dict[tuple[int, int, int | None], int | None]]:
    """Transaction and operation TOIDs per distinct ``(ledger, tx index, op index)``, computed in row order
    of first appearance (so an out-of-range part raises the same ``ValueError`` as a row-by-row build)."""
    tx_ids: dict[tuple[int, int, int | None], int] = {}
    op_ids: dict[tuple[int, int, int | None], int | None] = {}
    for key in dict.fromkeys(keys):
        seq, tx_index, op_index = key
        tx_ids[key] = toid(seq, tx_index)
        op_ids[key] = None if op_index is None else toid(seq, tx_index, op_index)
    return tx_ids, op_ids


def _batch(events: Sequence[Event], event_indexes: Sequence[int]) -> pa.RecordBatch:
    if not events:
        return _empty()
    metas = list(map(_META, events))
    seqs, closed, hashes, tx_indexes, op_indexes, contracts, muxes, op_types = zip(
        *map(_META_FIELDS, metas), strict=True
    )
    types, froms, tos, assets, amounts = zip(*[_PARTIES[type(ev)](ev) for ev in events], strict=True)
    micros = {c: closed_at_micros(c) for c in set(closed)}
    op_keys = list(zip(seqs, tx_indexes, op_indexes, strict=True))
    tx_ids, op_ids = _toids(op_keys)
    asset_text, asset_type, asset_code, asset_issuer = _asset_columns(assets)
    to_muxed, to_muxed_id, to_muxed_memo_type, to_muxed_memo = _muxed_columns(tos, muxes)
    columns: dict[str, object] = {
        "ledger_sequence": seqs,
        "closed_at": [micros[c] for c in closed],
        "transaction_hash": hashes,
        "transaction_index": tx_indexes,
        "operation_index": op_indexes,
        "event_index": event_indexes,
        "event_type": types,
        "from": froms,
        "to": tos,
        "asset": asset_text,
        "asset_type": asset_type,
        "asset_code": asset_code,
        "asset_issuer": asset_issuer,
        "amount_raw": list(map(str, amounts)),
        "contract_id": contracts,
        "to_muxed": to_muxed,
        "to_muxed_id": to_muxed_id,
        "to_muxed_memo_type": to_muxed_memo_type,
        "to_muxed_memo": to_muxed_memo,
        "transaction_id": [tx_ids[key] for key in op_keys],
        "operation_id": [op_ids[key] for key in op_keys],
        "operation_type": op_types,
    }
    arrays = [
        _amount_array(amounts) if field.name == "amount" else pa.array(columns[field.name], field.type)
        for field in TOKEN_TRANSFERS_SCHEMA
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=TOKEN_TRANSFERS_SCHEMA)


def _empty() -> pa.RecordBatch:
    arrays = [
        _amount_array([]) if field.name == "amount" else pa.array([], field.type)
        for field in TOKEN_TRANSFERS_SCHEMA
    ]
    return pa.RecordBatch.from_arrays(arrays, schema=TOKEN_TRANSFERS_SCHEMA)


def events_to_batch(events: Sequence[Event]) -> pa.RecordBatch:
    """One row per event, in the given order, with :data:`TOKEN_TRANSFERS_SCHEMA`."""
    return _batch(events, [m.event_index for m in map(_META, events)])


def ledger_events_batch(events: Sequence[Event]) -> pa.RecordBatch:
    """The rows of a whole ledger's events in ledger order: ``event_index`` is each row's position
    (the events' own ``event_index`` is not read, so they need not be placed with ``Event.at``)."""
    return _batch(events, range(len(events)))


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
