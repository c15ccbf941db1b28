"""Convert stellar-sdk XDR objects into the project's model values (the test oracle, ``--decoder sdk``).

Driven by the same schema as the generated decoder, but written independently of it: stellar-sdk
parses the bytes, and this walks its objects by the attribute names stellar-sdk uses. Equality of the
two results, field by field, is the differential proof of the fast decoder. Converters are built
once per type and cached.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from stellar_arrow.xdr import model
from stellar_arrow.xdr.definitions import TypeExpr, load_schema, snake_case

__all__ = ["from_sdk", "sdk_decode"]

Converter = Callable[[Any], Any]
_INT_KINDS = frozenset({"int", "unsigned_int", "hyper", "unsigned_hyper"})
_CACHE: dict[str, Converter] = {}


def from_sdk(obj: Any, type_name: str) -> Any:
    """Convert a stellar-sdk object of XDR type ``type_name`` into the model value."""
    return _ref_converter(type_name)(obj)


def sdk_decode(type_name: str, data: bytes) -> Any:
    """Decode ``data`` with stellar-sdk and convert the result (slow; the oracle)."""
    from stellar_sdk import xdr as sdk_xdr

    cls = getattr(sdk_xdr, type_name)
    return from_sdk(cls.from_xdr_bytes(data), type_name)


def _ref_converter(name: str) -> Converter:
    conv = _CACHE.get(name)
    if conv is None:
        # a forwarding stub resolves recursion (SCVal -> SCVec -> SCVal) lazily
        _CACHE[name] = lambda obj: _CACHE[name](obj)
        conv = _build(name)
        _CACHE[name] = conv
    return conv


def _converter(t: TypeExpr) -> Converter:
    kind = t["kind"]
    if kind in _INT_KINDS:
        return int
    if kind == "bool":
        return bool
    if kind in ("opaque_fixed", "opaque_var", "string"):
        return bytes
    if kind in ("array", "var_array"):
        elem = _converter(t["element"])
        return lambda obj: [elem(e) for e in obj]
    if kind == "optional":
        inner = _converter(t["element"])
        return lambda obj: None if obj is None else inner(obj)
    if kind == "ref":
        return _ref_converter(t["name"])
    msg = f"unsupported type expression {json.dumps(t)}"
    raise ValueError(msg)


def _build(name: str) -> Converter:
    d = load_schema().definitions[name]
    if d.kind == "typedef":
        attr = snake_case(d.name)
        inner = _converter(d.type)
        return lambda obj: inner(getattr(obj, attr))
    if d.kind == "enum":
        return int
    cls = getattr(model, d.name)
    raw = "xdr" in vars(cls)  # the value also carries its exact bytes
    new = tuple.__new__
    if d.kind == "struct":
        fields = [(snake_case(f.name), _converter(f.type)) for f in d.fields]

        def convert_struct(obj: Any) -> Any:
            values = [conv(getattr(obj, attr)) for attr, conv in fields]
            if raw:
                values.append(obj.to_xdr_bytes())
            return new(cls, values)

        return convert_struct
    disc_attr = snake_case(d.discriminant_name)
    arms: dict[int, tuple[str, Converter] | None] = {}
    for arm in d.arms:
        for case in arm.cases:
            arms[case] = (
                None if arm.type is None or arm.name is None else (snake_case(arm.name), _converter(arm.type))
            )

    def convert_union(obj: Any) -> Any:
        disc = int(getattr(obj, disc_attr))
        if disc not in arms:
            msg = f"{d.name}: discriminant {disc} has no arm"
            raise ValueError(msg)
        arm = arms[disc]
        value = None if arm is None else arm[1](getattr(obj, arm[0]))
        items = [disc, value, obj.to_xdr_bytes()] if raw else [disc, value]
        return new(cls, items)

    return convert_union
