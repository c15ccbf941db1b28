"""Hypothesis strategies: random *valid* XDR encodings of any schema type, drawn from the schema."""

from __future__ import annotations

import struct
from typing import Any

from hypothesis import strategies as st

from stellar_arrow.xdr.definitions import TypeExpr, load_schema

MAX_DEPTH = 6


def _pad(data: bytes) -> bytes:
    return data + b"\0" * (-len(data) % 4)


def _draw(draw: Any, t: TypeExpr, depth: int) -> bytes:
    schema = load_schema()
    k = t["kind"]
    if k == "int":
        return struct.pack(">i", draw(st.integers(-(2**31), 2**31 - 1)))
    if k == "unsigned_int":
        return struct.pack(">I", draw(st.integers(0, 2**32 - 1)))
    if k == "hyper":
        return struct.pack(">q", draw(st.integers(-(2**63), 2**63 - 1)))
    if k == "unsigned_hyper":
        return struct.pack(">Q", draw(st.integers(0, 2**64 - 1)))
    if k == "bool":
        return struct.pack(">I", draw(st.integers(0, 1)))
    if k == "opaque_fixed":
        n = int(t["size"])
        return _pad(draw(st.binary(min_size=n, max_size=n)))
    if k in ("opaque_var", "string"):
        cap = min(int(t.get("max_size", 12)), 12)
        if k == "string":
            data = draw(st.text(alphabet="abcXYZ019_", max_size=cap)).encode()
        else:
            data = draw(st.binary(max_size=cap))
        return struct.pack(">I", len(data)) + _pad(data)
    if k == "optional":
        if depth >= MAX_DEPTH or not draw(st.booleans()):
            return struct.pack(">I", 0)
        return struct.pack(">I", 1) + _draw(draw, t["element"], depth + 1)
    if k == "array":
        return b"".join(_draw(draw, t["element"], depth + 1) for _ in range(int(t["count"])))
    if k == "var_array":
        cap = min(int(t.get("max_count", 3)), 3)
        n = 0 if depth >= MAX_DEPTH else draw(st.integers(0, cap))
        return struct.pack(">I", n) + b"".join(_draw(draw, t["element"], depth + 1) for _ in range(n))
    d = schema.definitions[t["name"]]
    if d.kind == "typedef":
        return _draw(draw, d.type, depth)
    if d.kind == "enum":
        return struct.pack(">i", draw(st.sampled_from([v for _, v in d.members])))
    if d.kind == "struct":
        return b"".join(_draw(draw, f.type, depth + 1) for f in d.fields)
    arms = list(d.arms)
    if depth >= MAX_DEPTH:
        simple = [a for a in arms if a.type is None or schema.resolve(a.type)["kind"] != "ref"]
        arms = simple or arms[:1]
    arm = draw(st.sampled_from(arms))
    case = draw(st.sampled_from(arm.cases))
    body = b"" if arm.type is None else _draw(draw, arm.type, depth + 1)
    return struct.pack(">i", case) + body


@st.composite
def xdr_values(draw: Any, type_name: str) -> bytes:
    """A random valid XDR encoding of ``type_name``."""
    return _draw(draw, {"kind": "ref", "name": type_name}, 0)
