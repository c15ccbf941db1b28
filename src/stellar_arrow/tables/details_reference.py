"""Operation ``details`` by closures composed from the XDR schema: the reference renderer.

Every operation type is covered the same way: struct fields by their snake_case names, unions as
``{"type": <discriminant name>, <arm>: value}`` (a void arm is just the discriminant name),
enums by member name, and domain values the way explorers show them:

* accounts (``AccountID``, ``MuxedAccount``) and ``SCAddress`` as strkeys (G/M/C/B/L);
* assets as ``"native"``, ``"CODE:ISSUER"`` (SEP-11) or ``"pool:<hex id>"``;
* amounts and other integers as exact JSON integers; 128/256-bit integers as decimal strings;
* strings (``string<>``, ``SCSymbol``...) as text, asset codes without padding, other opaque bytes as hex.

:class:`SchemaRenderers` builds one closure per type; the generated renderers
(:mod:`stellar_arrow.tables.details_codegen`) must give the same JSON text. Pure: decoded values in, JSON out.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache
from typing import Any

import orjson

from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.definitions import Definition, Schema, TypeExpr, load_schema, snake_case
from stellar_arrow.xdr.strkey import (
    account_strkey,
    claimable_balance_strkey,
    muxed_strkey,
    sc_address_strkey,
)

__all__ = [
    "BY_NAME",
    "INT_KINDS",
    "Render",
    "SchemaRenderers",
    "asset_string",
    "muxed_account_columns",
    "muxed_account_strkey",
    "operation_details_json_reference",
    "operation_details_reference",
    "schema_renderers",
    "union_arms",
    "union_labels",
]

Render = Callable[[Any], Any]

INT_KINDS = frozenset({"int", "unsigned_int", "hyper", "unsigned_hyper"})


def muxed_account_strkey(account: X.MuxedAccount) -> str:
    """G-address of an ed25519 account, or M-address of a muxed one."""
    if account.type == X.CryptoKeyType.KEY_TYPE_ED25519:
        return account_strkey(account.ed25519)
    med = account.value
    return muxed_strkey(med.ed25519, med.id)


def muxed_account_columns(account: X.MuxedAccount) -> tuple[str, str | None]:
    """``(G-address, M-address or None)`` of a ``MuxedAccount``: the account and, if muxed, its M form."""
    if account.type == X.CryptoKeyType.KEY_TYPE_ED25519:
        return account_strkey(account.ed25519), None
    med = account.value
    return account_strkey(med.ed25519), muxed_strkey(med.ed25519, med.id)


def _asset_code(code: bytes) -> str:
    return code.rstrip(b"\x00").decode("ascii", errors="replace")


def asset_string(asset: Any) -> str:
    """``native``, ``CODE:ISSUER`` or ``pool:...`` of an ``Asset``/``ChangeTrustAsset``/``TrustLineAsset``."""
    kind = asset[0]
    if kind == X.AssetType.ASSET_TYPE_NATIVE:
        return "native"
    if kind in (X.AssetType.ASSET_TYPE_CREDIT_ALPHANUM4, X.AssetType.ASSET_TYPE_CREDIT_ALPHANUM12):
        value = asset[1]
        return f"{_asset_code(value.asset_code)}:{account_strkey(value.issuer.ed25519)}"
    pool = asset[1]
    if isinstance(pool, bytes):  # TrustLineAsset: the pool id
        return f"pool:{pool.hex()}"
    return f"pool:{_liquidity_pool_params(pool)}"  # ChangeTrustAsset: the pool parameters


def _liquidity_pool_params(params: Any) -> str:
    cp = params.value
    return f"{asset_string(cp.asset_a)}/{asset_string(cp.asset_b)}/{cp.fee}"


def _int128(parts: Any) -> str:
    return str((parts.hi << 64) | parts.lo)


def _int256(parts: Any) -> str:
    return str((parts.hi_hi << 192) | (parts.hi_lo << 128) | (parts.lo_hi << 64) | parts.lo_lo)


BY_NAME: dict[str, Render] = {
    "AccountID": lambda v: account_strkey(v.ed25519),
    "PublicKey": lambda v: account_strkey(v.ed25519),
    "NodeID": lambda v: account_strkey(v.ed25519),
    "MuxedAccount": muxed_account_strkey,
    "SCAddress": sc_address_strkey,
    "Asset": asset_string,
    "ChangeTrustAsset": asset_string,
    "TrustLineAsset": asset_string,
    "AssetCode4": _asset_code,
    "AssetCode12": _asset_code,
    "AssetCode": lambda v: _asset_code(v[1]),
    "ClaimableBalanceID": lambda v: claimable_balance_strkey(v.value),
    "Int128Parts": _int128,
    "UInt128Parts": _int128,
    "Int256Parts": _int256,
    "UInt256Parts": _int256,
}


def union_labels(schema: Schema, d: Definition) -> dict[int, str]:
    """Case value -> member name of union ``d``'s discriminant enum (empty if it is not an enum)."""
    disc = schema.resolve(d.discriminant_type)
    if disc["kind"] != "ref" or disc["name"] not in schema.definitions:
        return {}
    return {value: member for member, value in schema.definitions[disc["name"]].members}


def union_arms(d: Definition) -> dict[int, tuple[str | None, TypeExpr | None]]:
    """Case value -> (snake_case arm name, arm type) of union ``d``; ``None`` parts for a void arm."""
    arms: dict[int, tuple[str | None, TypeExpr | None]] = {}
    for arm in d.arms:
        for case in arm.cases:
            arms[case] = (None if arm.name is None else snake_case(arm.name), arm.type)
    return arms


class SchemaRenderers:
    """Builds one render function per type expression (memoised, recursion-safe)."""

    def __init__(self) -> None:
        self.schema = load_schema()
        self.by_ref: dict[str, Render] = {}

    def type_expr(self, t: TypeExpr) -> Render:
        kind = t["kind"]
        if kind == "ref":
            return self.ref(t["name"])
        if kind in INT_KINDS or kind == "bool":
            return _identity
        if kind == "string":
            return _text
        if kind in ("opaque_fixed", "opaque_var"):
            return _hex
        if kind in ("array", "var_array"):
            element = self.type_expr(t["element"])
            return lambda v: [element(e) for e in v]
        if kind == "optional":
            element = self.type_expr(t["element"])
            return lambda v: None if v is None else element(v)
        msg = f"unsupported type expression {t!r}"
        raise ValueError(msg)

    def ref(self, name: str) -> Render:
        render = self.by_ref.get(name)
        if render is not None:
            return render
        special = BY_NAME.get(name)
        if special is not None:
            self.by_ref[name] = special
            return special
        slot: list[Render] = []
        self.by_ref[name] = lambda v: slot[0](v)  # resolved lazily: the type refers to itself
        d = self.schema.definitions.get(name)
        built = _identity if d is None else self.definition(d)
        slot.append(built)
        self.by_ref[name] = built
        return built

    def definition(self, d: Definition) -> Render:
        if d.kind == "typedef":
            return self.type_expr(d.type)
        if d.kind == "enum":
            names = dict((value, member) for member, value in d.members)
            return lambda v: names.get(v, v)
        if d.kind == "struct":
            fields = [(snake_case(f.name), self.type_expr(f.type)) for f in d.fields]
            return lambda v: {name: render(value) for (name, render), value in zip(fields, v, strict=False)}
        return self.union(d)

    def union(self, d: Definition) -> Render:
        names = union_labels(self.schema, d)
        arms = {
            case: (arm_name, None if t is None else self.type_expr(t))
            for case, (arm_name, t) in union_arms(d).items()
        }

        def render_union(v: Any) -> Any:
            label = names.get(v[0], v[0])
            arm_name, render = arms.get(v[0], (None, None))
            if render is None or arm_name is None:
                return label
            return {"type": label, arm_name: render(v[1])}

        return render_union


def _identity(v: Any) -> Any:
    return v


def _text(v: bytes) -> str:
    return v.decode("utf-8", errors="replace")


def _hex(v: bytes) -> str:
    return v.hex()


@cache
def schema_renderers() -> SchemaRenderers:
    """The one memoised set of closures."""
    return SchemaRenderers()


@cache
def _body_arms() -> dict[int, tuple[str | None, Render | None]]:
    compiler = schema_renderers()
    arms = union_arms(compiler.schema.definitions["OperationBody"])
    return {case: (name, None if t is None else compiler.type_expr(t)) for case, (name, t) in arms.items()}


def operation_details_reference(body: X.OperationBody) -> dict[str, Any]:
    """:func:`operation_details` by the schema's closures: the reference of the generated code."""
    arm_name, render = _body_arms().get(body.type, (None, None))
    if render is None or arm_name is None:
        return {}
    value = render(body.value)
    if isinstance(value, dict):
        return value
    return {arm_name: value}


def operation_details_json_reference(body: X.OperationBody) -> str:
    """:func:`operation_details_reference` serialised as compact JSON text."""
    return orjson.dumps(operation_details_reference(body)).decode("utf-8")
