"""Contract (Soroban) token events: SEP-41 ``transfer/mint/burn/clawback`` of SACs and custom tokens.

Meta v3 (protocol 20-22) keeps a tx's contract events in ``sorobanMeta.events``; meta v4 (CAP-67) keeps them
per operation. Topic layouts (all addresses; extra trailing topics allowed):

==========  ==========================  ====================
fn          meta v3                     meta v4
==========  ==========================  ====================
transfer    from=t1, to=t2              same
mint        admin=t1, to=t2             to=t1
clawback    admin=t1, from=t2           from=t1
burn        from=t1                     same
==========  ==========================  ====================

Data is an ``i128`` (v3), or in v4 an ``i128`` or a map of symbols with ``amount: i128`` and an optional
``to_muxed_id`` (u64 id, bytes hash, string text). An event is a SAC event (``asset`` set) when its topic
count is exact for the format, its last topic is a SEP-11 asset string and the asset's SAC id is the emitting
contract; otherwise the asset is absent (custom token). Anything malformed is skipped silently, as in the
reference.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Final

from stellar_arrow.ttp.events import Asset, Burn, Clawback, Event, Mint, MuxedInfo, Transfer
from stellar_arrow.ttp.operation import OperationContext, classify
from stellar_arrow.ttp.sac import parse_sep11_asset, sac_contract_id
from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.strkey import (
    contract_strkey,
    sc_address_strkey,
)

__all__ = ["contract_event", "i128_value", "invoke_host_function_events"]

_CONTRACT: Final = X.ContractEventType.CONTRACT
_SYM: Final = X.SCValType.SCV_SYMBOL
_STR: Final = X.SCValType.SCV_STRING
_ADDR: Final = X.SCValType.SCV_ADDRESS
_I128: Final = X.SCValType.SCV_I128
_MAP: Final = X.SCValType.SCV_MAP
_U64: Final = X.SCValType.SCV_U64
_BYTES: Final = X.SCValType.SCV_BYTES
_SAC_TOPICS: Final = {
    3: {b"transfer": 4, b"mint": 4, b"clawback": 4, b"burn": 3},
    4: {b"transfer": 4, b"mint": 3, b"clawback": 3, b"burn": 3},
}
_MIN_TOPICS: Final = {
    3: {b"transfer": 3, b"mint": 3, b"clawback": 3, b"burn": 2},
    4: {b"transfer": 3, b"mint": 2, b"clawback": 2, b"burn": 2},
}


def i128_value(parts: Any) -> int:
    """Signed 128-bit integer of ``Int128Parts(hi, lo)`` (hi signed, lo unsigned)."""
    return (int(parts.hi) << 64) | int(parts.lo)


def _amount_and_mux(data: Any, version: int) -> tuple[int, MuxedInfo | None] | None:
    kind = data.type
    if kind == _I128:
        return i128_value(data.i128), None
    if version < 4 or kind != _MAP or data.map is None:
        return None
    amount: int | None = None
    mux: MuxedInfo | None = None
    for entry in data.map:
        if entry.key.type != _SYM:
            return None
        name = entry.key.sym
        val = entry.val
        if name == b"amount":
            if val.type != _I128:
                return None
            amount = i128_value(val.i128)
        elif name == b"to_muxed_id":
            if val.type == _U64:
                mux = MuxedInfo("id", val.u64)
            elif val.type == _BYTES:
                mux = MuxedInfo("hash", bytes(val.bytes).ljust(32, b"\x00")[:32])
            elif val.type == _STR:
                mux = MuxedInfo("text", val.str)
            else:
                return None
    return None if amount is None else (amount, mux)


def _sac_asset(
    topics: Sequence[Any], fn: bytes, version: int, contract_id: bytes, network: bytes
) -> Asset | None:
    if len(topics) != _SAC_TOPICS[version][fn]:
        return None
    last = topics[-1]
    if last.type != _STR or not last.str:
        return None
    asset = parse_sep11_asset(last.str)
    if asset is None or sac_contract_id(asset, network) != contract_id:
        return None
    return asset


def contract_event(ctx: OperationContext, event: Any, version: int) -> Event | None:
    """The token event of one ``ContractEvent`` (``version``: meta version 3 or 4), or ``None``."""
    if event.type != _CONTRACT or event.contract_id is None or event.body.v != 0:
        return None
    body = event.body.v0
    topics = body.topics
    if len(topics) < 2 or topics[0].type != _SYM:
        return None
    fn = topics[0].sym
    minimum = _MIN_TOPICS[version].get(fn)
    if minimum is None or len(topics) < minimum:
        return None
    parsed = _amount_and_mux(body.data, version)
    if parsed is None:
        return None
    amount, mux = parsed
    addresses = []
    for topic in topics[1:minimum]:
        if topic.type != _ADDR:
            return None
        addresses.append(sc_address_strkey(topic.address))
    contract_id = event.contract_id
    asset = _sac_asset(topics, fn, version, contract_id, ctx.tx.network.network_id)
    meta = ctx.contract_meta(contract_strkey(contract_id), mux if fn in (b"transfer", b"mint") else None)
    if fn == b"transfer":
        if version == 3 and asset is not None:
            return classify(ctx, asset, addresses[0], addresses[1], amount)  # pre-23 SACs only said transfer
        return Transfer(meta, addresses[0], addresses[1], asset, amount)
    if fn == b"mint":
        return Mint(meta, addresses[-1], asset, amount)
    if fn == b"clawback":
        return Clawback(meta, addresses[-1], asset, amount)
    return Burn(meta, addresses[0], asset, amount)


def invoke_host_function_events(ctx: OperationContext) -> list[Event]:
    """Token events of an INVOKE_HOST_FUNCTION operation, read from the tx's meta (v3 or v4)."""
    meta = ctx.tx.meta
    if meta.v == 3:
        soroban = meta.value.soroban_meta
        events = soroban.events if soroban is not None else ()
    elif meta.v == 4:
        ops = meta.value.operations
        events = ops[ctx.index0].events if ctx.index0 < len(ops) else ()
    else:
        return []
    out = []
    for event in events:
        parsed = contract_event(ctx, event, meta.v)
        if parsed is not None:
            out.append(parsed)
    return out
