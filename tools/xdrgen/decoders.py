"""The pure-Python decoder module: emits ``_decoders.py`` from the schema.

For every struct and union it writes a decoder ``d_<Type>(b, o) -> (value, new_o)`` and a skipper
``s_<Type>(b, o) -> new_o``. The speed comes from a few rules, each a documented method or constant
of the mixins put together here (docs/decode.md, "How it is fast", gives their measured gains):

* folding (``fold``, ``struct_body``): runs of fixed-size fields are one ``unpack_from``, with the
  4-byte prefix (length, count, optional flag, discriminant) of the next field (prefix folding);
* discriminant re-read (``read_arm``): a union leaves ``o`` at its discriminant and reads it again
  with a fixed arm, so the offset moves once;
* in place instead of calls (``inlines``, ``grouped_arms``): small unions, types used by a single
  field, and a struct shared by several arms of a union are decoded in their parent;
* ``HOT_ARMS`` first, then a balanced if-tree over the case values;
* values built by calling their class; ``INTERNED_UNIONS`` values shared (``arm_value``); void arms
  are singletons; empty arrays skip the loop; temporaries are numbered per function.
"""

from __future__ import annotations

from stellar_arrow.xdr.definitions import Schema
from tools.xdrgen.policy import INTERN_MAX
from tools.xdrgen.reads import Reads
from tools.xdrgen.skips import Skips
from tools.xdrgen.structs import Structs
from tools.xdrgen.unions import Unions

__all__ = ["Emitter", "decoders_source"]


class Emitter(Structs, Unions, Reads, Skips):
    """The whole pure-Python decoder emitter (its rules live in the mixins)."""


def decoders_source(schema: Schema, header: str) -> str:
    """The source of ``_decoders.py``, starting with ``header``."""
    em = Emitter(schema)
    defs = [d for d in schema.definitions.values() if d.kind in ("struct", "union")]
    for d in defs:
        if d.kind == "struct":
            em.struct(d)
        else:
            em.union(d)
    enums = [d for d in schema.definitions.values() if d.kind == "enum"]
    head = [
        header,
        "# ruff: noqa",
        "# mypy: ignore-errors",
        "import struct as _struct",
        "",
        "from stellar_arrow.xdr.model import (",
        *[f"    {d.name}," for d in defs],
        ")",
        "",
        "_new = tuple.__new__",
        "_BOOL = (False, True)",
        "_ZPAD = (b'', b'\\0', b'\\0\\0', b'\\0\\0\\0')",
        "_I32 = _struct.Struct('>i').unpack_from",
        "_U32 = _struct.Struct('>I').unpack_from",
        "",
        "",
        "from stellar_arrow.xdr.failure import BadValue as _Bad",
        "",
        "",
        "class _Interned(dict):",
        '    """Shared values of one union arm, keyed by the arm value or its wire bytes; bounded."""',
        "",
        '    __slots__ = ("cls", "case")',
        "",
        "    def __init__(self, cls, case):",
        "        super().__init__()",
        "        self.cls = cls",
        "        self.case = case",
        "",
        "    def __missing__(self, key):",
        "        return self.remember(key, self.cls((self.case, key)))",
        "",
        "    def remember(self, key, value):",
        f"        if len(self) >= {INTERN_MAX}:",
        "            self.clear()",
        "        self[key] = value",
        "        return value",
        "",
        "",
    ]
    for d in enums:
        head.append(f"_E_{d.name} = frozenset({sorted({v for _, v in d.members})!r})")
    head += [f"{name} = _struct.Struct({fmt!r}).unpack_from" for fmt, name in em.structs.items()]
    head += [f"_K_{n}_{c} = _new({n}, ({c}, None))".replace("_-", "_m", 1) for n, c in sorted(em.singletons)]
    head += [f"_I_{n}_{c} = _Interned({n}, {c})".replace("_-", "_m", 1) for n, c in sorted(em.intern_tables)]
    folded = {d.name for d in defs if em.fold({"kind": "ref", "name": d.name}, d.name) is not None}
    in_place = em.inlined | folded
    head.append(f"_INLINED = frozenset({sorted(in_place)!r})")
    head.append('"""Types decoded in place (folded or inlined) somewhere: a profile cannot skip them."""')
    head += ["", ""]
    return "\n".join(head + em.lines + em.tail).rstrip() + "\n"
