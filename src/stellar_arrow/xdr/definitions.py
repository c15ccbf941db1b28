"""The machine-readable Stellar XDR schema (``schema/xdr.json``) as typed Python values.

Read by the code generator (:mod:`stellar_arrow.xdr.codegen`) and by the stellar-sdk converter
(:mod:`stellar_arrow.xdr.sdk`). Two feature-gated protocol-28 candidates that ``xdr.json`` leaves
unresolved (``CAP_0083`` and ``CAP_0085_EXECUTABLE_REF``, see ``schema/PROVENANCE.md``) are added
here from their ``#ifdef`` source text, so protocol-28 empty-tx-set ledgers decode, as they do with
stellar-sdk 16.1.1, Galexie and RPC v28.
"""

from __future__ import annotations

import json
import keyword
import re
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

__all__ = [
    "Arm",
    "Definition",
    "Field",
    "Schema",
    "TypeExpr",
    "load_schema",
    "snake_case",
]

TypeExpr = dict[str, Any]
"""A schema type expression: ``{"kind": "ref", "name": ...}``, ``{"kind": "var_array", "element": ...}``..."""


@dataclass(frozen=True, slots=True)
class Field:
    name: str
    type: TypeExpr


@dataclass(frozen=True, slots=True)
class Arm:
    cases: tuple[int, ...]
    name: str | None
    type: TypeExpr | None


@dataclass(frozen=True, slots=True)
class Definition:
    kind: str  # struct | union | enum | typedef | const
    name: str
    fields: tuple[Field, ...] = ()
    arms: tuple[Arm, ...] = ()
    discriminant_name: str = ""
    discriminant_type: TypeExpr = field(default_factory=dict)
    members: tuple[tuple[str, int], ...] = ()
    type: TypeExpr = field(default_factory=dict)
    value: int = 0


@dataclass(frozen=True, slots=True)
class Schema:
    definitions: dict[str, Definition]
    source_sha256: str

    def resolve(self, t: TypeExpr) -> TypeExpr:
        """Follow typedefs until a non-typedef expression is reached (typedefs are transparent)."""
        while t["kind"] == "ref":
            d = self.definitions[t["name"]]
            if d.kind != "typedef":
                return t
            t = d.type
        return t


def snake_case(name: str) -> str:
    """XDR name -> stellar-sdk's attribute name (``ledgerSeq`` -> ``ledger_seq``, ``from`` -> ``from_``)."""
    s = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name)
    s = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", s).lower()
    return s + "_" if keyword.iskeyword(s) else s


_REF = "ref"

# Feature-gated definitions resolved on purpose (text in the `source` fields of xdr.json).
_GATED_ENUM_MEMBERS = {
    "StellarValueType": [("STELLAR_VALUE_EMPTY_TX_SET", 2)],  # CAP_0083
    "SCValType": [("SCV_EXECUTABLE_TAG", 22)],  # CAP_0085_EXECUTABLE_REF
    "ContractExecutableType": [("CONTRACT_EXECUTABLE_EXTERNAL_REF", 2)],  # CAP_0085_EXECUTABLE_REF
}
_GATED_ARMS = {
    "StellarValueExt": Arm((2,), "proposedValue", {"kind": _REF, "name": "StellarValueProposedValue"}),
    "SCVal": Arm((22,), "executable_tag", {"kind": _REF, "name": "SCString"}),
    "ContractExecutable": Arm((2,), "external_ref", {"kind": _REF, "name": "ContractExecutableExternalRef"}),
}
_GATED_STRUCTS = [
    Definition(
        kind="struct",
        name="StellarValueProposedValue",
        fields=(
            Field("txSetHash", {"kind": _REF, "name": "Hash"}),
            Field("previousLedgerHash", {"kind": _REF, "name": "Hash"}),
            Field("previousLedgerVersion", {"kind": _REF, "name": "uint32"}),
            Field("lcValueSignature", {"kind": _REF, "name": "LedgerCloseValueSignature"}),
        ),
    ),
    Definition(
        kind="struct",
        name="ContractExecutableExternalRef",
        fields=(
            Field("executableOwner", {"kind": _REF, "name": "SCAddress"}),
            Field("tag", {"kind": _REF, "name": "SCString"}),
        ),
    ),
]


def _definition(raw: dict[str, Any]) -> Definition:
    kind = raw["kind"]
    name = raw["name"]
    if kind == "struct":
        return Definition(kind, name, fields=tuple(Field(f["name"], f["type"]) for f in raw["fields"]))
    if kind == "union":
        arms = [Arm(tuple(c["value"] for c in a["cases"]), a.get("name"), a.get("type")) for a in raw["arms"]]
        if name in _GATED_ARMS:
            arms.append(_GATED_ARMS[name])
        return Definition(
            kind,
            name,
            arms=tuple(arms),
            discriminant_name=raw["discriminant"]["name"],
            discriminant_type=raw["discriminant"]["type"],
        )
    if kind == "enum":
        members = [(m["name"], m["value"]) for m in raw["members"]]
        members += _GATED_ENUM_MEMBERS.get(name, [])
        return Definition(kind, name, members=tuple(members))
    if kind == "typedef":
        return Definition(kind, name, type=raw["type"])
    return Definition(kind, name, value=int(raw["value"]))


@cache
def load_schema() -> Schema:
    """Load ``schema/xdr.json`` shipped in this package (cached)."""
    import hashlib

    text = resources.files("stellar_arrow.xdr").joinpath("schema/xdr.json").read_bytes()
    raw = json.loads(text)
    defs: dict[str, Definition] = {}
    for item in raw["definitions"]:
        d = _definition(item)
        defs[d.name] = d
    for d in _GATED_STRUCTS:
        defs[d.name] = d
    return Schema(defs, hashlib.sha256(text).hexdigest())
