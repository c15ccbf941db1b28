"""The emitter's state and the folding rule: runs of fixed-size fields read by one ``unpack_from``.

``fold`` says how a type is read inside one folded read; the mixins in :mod:`.reads`,
:mod:`.skips`, :mod:`.structs` and :mod:`.unions` build on it (:mod:`.decoders` puts them together).
"""

from __future__ import annotations

import struct as _struct
from collections.abc import Callable

from stellar_arrow.xdr.definitions import Arm, Definition, Schema, TypeExpr
from tools.xdrgen.policy import INTERNED_UNIONS, RAW_TYPES, SCALAR_FMT
from tools.xdrgen.sizes import Sizes, pad, uses

__all__ = ["EmitterBase", "Fold"]

Fold = tuple[str, int, Callable[[list[str]], tuple[list[str], str]]]
"""How a type is read inside one folded read: (struct format, number of values, post-processing)."""


class EmitterBase:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.sizes = Sizes(schema)
        self.structs: dict[str, str] = {}  # format -> global name of its unpack_from
        self.lines: list[str] = []
        self.tail: list[str] = []
        self.singletons: dict[tuple[str, int], None] = {}
        self.intern_tables: dict[tuple[str, int], None] = {}
        self.depth = 0
        self.tmp = 0
        self.arm_tmp = 0
        self.inlining: list[str] = []  # the types being decoded in place (recursion guard)
        self.inlined: set[str] = set()  # every type decoded in place somewhere
        self.uses = uses(schema)

    # -- helpers -------------------------------------------------------------------------------
    def var(self) -> str:
        self.tmp += 1
        return f"_v{self.tmp}"

    def unpacker(self, fmt: str) -> str:
        if fmt not in self.structs:
            self.structs[fmt] = f"_u{len(self.structs)}"
        return self.structs[fmt]

    def scalar_fmt(self, t: TypeExpr) -> str | None:
        """struct format of a scalar that can be folded, or None."""
        t = self.schema.resolve(t)
        k = t["kind"]
        if k in SCALAR_FMT:
            return SCALAR_FMT[k]
        if k == "opaque_fixed":
            n = int(t["size"])
            return f"{n}s" + "x" * (pad(n) - n)
        if k == "ref" and self.schema.definitions[t["name"]].kind == "enum":
            return "i"
        return None

    def fold(self, t: TypeExpr, where: str) -> Fold | None:
        """How to read ``t`` inside one folded ``unpack_from``: (format, number of values, post-processing).

        Scalars, enums, fixed opaques, single-arm unions of foldable types (``PublicKey``,
        ``ExtensionPoint``) and structs made only of foldable fields qualify; post-processing turns
        the raw values into ``(validation lines, value expression)``.
        """
        rt = self.schema.resolve(t)
        k = rt["kind"]
        if k in ("int", "unsigned_int", "hyper", "unsigned_hyper"):
            return SCALAR_FMT[k], 1, lambda vs: ([], vs[0])
        if k == "bool":
            return "I", 1, lambda vs: ([], f"_BOOL[{vs[0]}]")
        if k == "opaque_fixed":
            n = int(rt["size"])
            return f"{n}s" + "x" * (pad(n) - n), 1, lambda vs: ([], vs[0])
        if k != "ref":
            return None
        d = self.schema.definitions[rt["name"]]
        if d.kind == "enum":
            name = d.name
            return "i", 1, lambda vs: ([f"if {vs[0]} not in _E_{name}: raise _Bad({where!r}, o)"], vs[0])
        if d.name in RAW_TYPES:
            return None
        if d.kind == "union" and len(d.arms) == 1 and len(d.arms[0].cases) == 1:
            arm0 = d.arms[0]
            case = arm0.cases[0]
            if arm0.type is None:
                uname = d.name
                kname = self.void_value(uname, case)
                return "i", 1, lambda vs: ([f"if {vs[0]} != {case}: raise _Bad({uname!r}, o)"], kname)
            inner = self.fold(arm0.type, d.name)
            if inner is None:
                return None
            ifmt, inum, ipost = inner
            uname = d.name

            atomic = uname in INTERNED_UNIONS and self.atomic(arm0.type)
            table = self.interned(uname, case) if atomic else ""

            def post_union(vs: list[str]) -> tuple[list[str], str]:
                lines, expr = ipost(vs[1:])
                check = [f"if {vs[0]} != {case}: raise _Bad({uname!r}, o)", *lines]
                return check, f"{table}[{expr}]" if atomic else f"{uname}(({vs[0]}, {expr}))"

            return "i" + ifmt, 1 + inum, post_union
        if d.kind == "struct" and d.fields:
            parts = [self.fold(f.type, d.name) for f in d.fields]
            if any(p is None for p in parts):
                return None
            folded = [p for p in parts if p is not None]
            sname = d.name

            def post_struct(vs: list[str]) -> tuple[list[str], str]:
                lines: list[str] = []
                exprs: list[str] = []
                i = 0
                for _fmt, num, post in folded:
                    sub_lines, expr = post(vs[i : i + num])
                    lines += sub_lines
                    exprs.append(expr)
                    i += num
                tup = ", ".join(exprs) + ("," if len(exprs) == 1 else "")
                return lines, f"{sname}(({tup}))"

            return "".join(p[0] for p in folded), sum(p[1] for p in folded), post_struct
        return None

    def fmt_size(self, fmt: str) -> int:
        return _struct.calcsize(">" + fmt)

    def read_folded(self, t: TypeExpr, v: str, ind: str, where: str) -> list[str] | None:
        folded = self.fold(t, where)
        if folded is None:
            return None
        fmt, num, post = folded
        u = self.unpacker(">" + fmt)
        raw = [self.var() for _ in range(num)]
        lines, expr = post(raw)
        target = ", ".join(raw) + ("," if num == 1 else "")
        out = [f"{ind}{target} = {u}(b, o)", f"{ind}o += {self.fmt_size(fmt)}"]
        out += [f"{ind}{line}" for line in lines]
        if expr != v:
            out.append(f"{ind}{v} = {expr}")
        return out

    def post_scalar(self, t: TypeExpr, v: str, ind: str, where: str) -> list[str]:
        """Validation/conversion after a folded scalar read."""
        t = self.schema.resolve(t)
        if t["kind"] == "bool":
            return [f"{ind}{v} = _BOOL[{v}]"]
        if t["kind"] == "ref":
            return [f"{ind}if {v} not in _E_{t['name']}: raise _Bad({where!r}, o)"]
        return []

    # -- implemented by the mixins ---------------------------------------------------------------
    def read(self, t: TypeExpr, v: str, ind: str, where: str, prefix: str | None = None) -> list[str]:
        raise NotImplementedError

    def read_arm(self, t: TypeExpr, v: str, ind: str, where: str, at: int) -> list[str]:
        raise NotImplementedError

    def arm_value(self, d: Definition, dv: str, arm: Arm, v: str, ind: str, at: int) -> list[str]:
        raise NotImplementedError

    def inline_struct(self, d: Definition, v: str, ind: str, at: int = 0) -> list[str]:
        raise NotImplementedError

    def void_value(self, union: str, case: int) -> str:
        raise NotImplementedError

    def interned(self, union: str, case: int) -> str:
        raise NotImplementedError

    def atomic(self, t: TypeExpr) -> bool:
        raise NotImplementedError

    def skip(self, t: TypeExpr, ind: str, where: str) -> list[str]:
        raise NotImplementedError

    def skip_size(self, t: TypeExpr | None) -> int | None:
        raise NotImplementedError

    def union_skipper(self, d: Definition) -> None:
        raise NotImplementedError
