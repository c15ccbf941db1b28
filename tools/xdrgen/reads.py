"""Reads: the lines that decode one value of a type expression into a variable and advance ``o``.

Rules here: prefix folding (``read_prefixed``), in place instead of calls (``inlines``,
``inline_union``), discriminant re-read (``read_arm``), interning (``arm_value``), empty arrays
(``read_array``); docs/decode.md gives their measured gains.
"""

from __future__ import annotations

from stellar_arrow.xdr.definitions import Arm, Definition, TypeExpr
from tools.xdrgen.folding import EmitterBase
from tools.xdrgen.policy import (
    CALLED_TYPES,
    INLINE_MAX_ARMS,
    INTERN_MAX_BYTES,
    INTERNED_UNIONS,
    RAW_TYPES,
    SCALAR_SIZE,
)
from tools.xdrgen.sizes import pad

__all__ = ["Reads"]


class Reads(EmitterBase):
    def prefix_fmt(self, t: TypeExpr) -> str | None:
        """The struct format of the 4-byte prefix ``read`` can take pre-read (see ``read``), or None."""
        rt = self.schema.resolve(t)
        k = rt["kind"]
        if k in ("opaque_var", "string", "optional", "var_array"):
            return "I"
        if k == "ref" and self.inlines(rt) and self.fold(rt, "") is None:
            return "i" if self.schema.definitions[rt["name"]].kind == "union" else None
        return None

    def inlines(self, rt: TypeExpr) -> bool:
        """Whether a reference to this type is decoded in place instead of called.

        Rule (inlining): a union of up to three arms (two levels deep at most), and any struct or
        union that only one field of the schema uses, are decoded in their parent, unless they
        carry raw bytes or are in ``CALLED_TYPES``.
        """
        d = self.schema.definitions[rt["name"]]
        if d.kind not in ("struct", "union") or d.name in RAW_TYPES or d.name in CALLED_TYPES:
            return False
        if d.name in self.inlining:  # recursion
            return False
        if self.uses[d.name] == 1:
            return True
        return d.kind == "union" and len(d.arms) <= INLINE_MAX_ARMS and self.depth < 2

    def read(self, t: TypeExpr, v: str, ind: str, where: str, prefix: str | None = None) -> list[str]:
        """Lines that decode one value of type ``t`` into variable ``v`` and advance ``o``.

        ``prefix`` names a variable already holding the value's 4-byte prefix (length, count,
        optional flag or discriminant), with ``o`` already past it (rule: prefix folding).
        """
        rt = self.schema.resolve(t)
        k = rt["kind"]
        if prefix is not None:
            return self.read_prefixed(rt, v, ind, where, prefix)
        if k == "opaque_fixed":
            n = int(rt["size"])
            return [f"{ind}{v} = b[o:o + {n}]", f"{ind}o += {pad(n)}"]
        fmt = self.scalar_fmt(rt)
        if fmt is not None:
            u = self.unpacker(">" + fmt)
            size = SCALAR_SIZE[fmt]
            return [f"{ind}{v}, = {u}(b, o)", f"{ind}o += {size}", *self.post_scalar(rt, v, ind, where)]
        if k in ("opaque_var", "string"):
            lines = [f"{ind}_n, = _U32(b, o)"]
            if "max_size" in rt:
                lines.append(f"{ind}if _n > {int(rt['max_size'])}: raise _Bad({where!r}, o)")
            # XDR padding must be zero (as stellar-core requires): raw bytes stay canonical
            lines += [
                f"{ind}_e = o + 4 + _n",
                f"{ind}{v} = b[o + 4:_e]",
                f"{ind}o += 4 + ((_n + 3) & -4)",
                f"{ind}if _e != o and b[_e:o] != _ZPAD[o - _e]: raise _Bad({where!r}, _e)",
            ]
            return lines
        if k == "optional":
            f = self.var()
            inner = self.read(rt["element"], v, ind + "    ", where)
            return [
                f"{ind}{f}, = _U32(b, o)",
                f"{ind}o += 4",
                f"{ind}if {f}:",
                f"{ind}    if {f} != 1: raise _Bad({where!r}, o)",
                *inner,
                f"{ind}else:",
                f"{ind}    {v} = None",
            ]
        if k in ("array", "var_array"):
            return self.read_array(rt, v, ind, where)
        folded = self.read_folded(rt, v, ind, where)
        if folded is not None:
            return folded
        if self.inlines(rt):
            d = self.schema.definitions[rt["name"]]
            self.inlined.add(d.name)
            return self.inline_union(d, v, ind) if d.kind == "union" else self.inline_struct(d, v, ind)
        return [f"{ind}{v}, o = d_{rt['name']}(b, o)"]

    def read_prefixed(self, rt: TypeExpr, v: str, ind: str, where: str, p: str) -> list[str]:
        """``read`` for a value whose 4-byte prefix is already in variable ``p`` (``o`` past it)."""
        k = rt["kind"]
        if k in ("opaque_var", "string"):
            lines = (
                [f"{ind}if {p} > {int(rt['max_size'])}: raise _Bad({where!r}, o)"] if "max_size" in rt else []
            )
            return [
                *lines,
                f"{ind}_e = o + {p}",
                f"{ind}{v} = b[o:_e]",
                f"{ind}o += ({p} + 3) & -4",
                f"{ind}if _e != o and b[_e:o] != _ZPAD[o - _e]: raise _Bad({where!r}, _e)",
            ]
        if k == "optional":
            return [
                f"{ind}if {p}:",
                f"{ind}    if {p} != 1: raise _Bad({where!r}, o)",
                *self.read(rt["element"], v, ind + "    ", where),
                f"{ind}else:",
                f"{ind}    {v} = None",
            ]
        if k == "var_array":
            return self.read_array(rt, v, ind, where, p)
        d = self.schema.definitions[rt["name"]]
        self.inlined.add(d.name)
        return self.inline_union(d, v, ind, p)

    def atomic(self, t: TypeExpr) -> bool:
        """A type whose decoded value is an int, bool or short bytes (hashable, shared freely)."""
        rt = self.schema.resolve(t)
        k = rt["kind"]
        if k in ("int", "unsigned_int", "hyper", "unsigned_hyper", "bool", "opaque_fixed"):
            return True
        if k in ("opaque_var", "string"):  # short ones only: a table must stay small
            return int(rt.get("max_size", 1 << 32)) <= INTERN_MAX_BYTES
        return k == "ref" and self.schema.definitions[rt["name"]].kind == "enum"

    def listless(self, t: TypeExpr) -> bool:
        """True if values of ``t`` never contain a list (so they are immutable all the way down)."""
        rt = self.schema.resolve(t)
        k = rt["kind"]
        if k in ("array", "var_array"):
            return False
        if k == "optional":
            return self.listless(rt["element"])
        if k != "ref":
            return True
        d = self.schema.definitions[rt["name"]]
        if d.kind == "struct":
            return all(self.listless(f.type) for f in d.fields)
        if d.kind == "union":
            return all(a.type is None or self.listless(a.type) for a in d.arms)
        return True

    def interned(self, union: str, case: int) -> str:
        self.intern_tables[(union, case)] = None
        return f"_I_{union}_{case}".replace("-", "m")

    def arm_value(self, d: Definition, dv: str, arm: Arm, v: str, ind: str, at: int) -> list[str]:
        """Lines that read a non-void arm and set ``v`` to the union value ``(discriminant, arm value)``.

        ``at`` is 4 when ``o`` still points at the discriminant, 0 when it is past it.
        Rule (interning): in an ``INTERNED_UNIONS`` union, a single-case arm whose value is atomic
        is looked up by that value (``_I_<Union>_<case>[value]`` builds it on a miss); a single-case
        arm of fixed size holding no list is looked up by its wire bytes (discriminant included)
        before anything is read.
        """
        assert arm.type is not None
        av = self.var()
        single = len(arm.cases) == 1 and d.name in INTERNED_UNIONS and d.name not in RAW_TYPES
        if single and self.atomic(arm.type):
            table = self.interned(d.name, arm.cases[0])
            return [*self.read_arm(arm.type, av, ind, d.name, at), f"{ind}{v} = {table}[{av}]"]
        size = self.sizes.fixed(arm.type)
        if single and size is not None and self.listless(arm.type):
            table = self.interned(d.name, arm.cases[0])
            k = self.var()
            return [
                f"{ind}{k} = b[o:o + {at + size}]",
                f"{ind}{v} = {table}.get({k})",
                f"{ind}if {v} is None:",
                *self.read_arm(arm.type, av, ind + "    ", d.name, at),
                f"{ind}    {v} = {table}.remember({k}, {d.name}(({dv}, {av})))",
                f"{ind}else:",
                f"{ind}    o += {at + size}",
            ]
        return [*self.read_arm(arm.type, av, ind, d.name, at), f"{ind}{v} = {d.name}(({dv}, {av}))"]

    def read_arm(self, t: TypeExpr, v: str, ind: str, where: str, at: int) -> list[str]:
        """``read`` of an arm with ``o`` ``at`` bytes before it (4: still at the discriminant).

        Rule (discriminant re-read): a foldable arm is read together with its discriminant in one
        ``unpack_from`` at ``o`` (the discriminant is read again and dropped), so ``o`` moves once.
        """
        if at == 0:
            return self.read(t, v, ind, where)
        folded = self.fold(t, where)
        rt = self.schema.resolve(t)
        if folded is None:
            pfx = self.prefix_fmt(rt)
            if pfx is not None:  # the arm's own length/count/flag/discriminant joins the read
                pv = self.var()
                lines = [f"{ind}_, {pv} = {self.unpacker('>i' + pfx)}(b, o)", f"{ind}o += {at + 4}"]
                return lines + self.read(rt, v, ind, where, prefix=pv)
            if (
                rt["kind"] == "ref"
                and self.inlines(rt)
                and self.schema.definitions[rt["name"]].kind == "struct"
            ):
                self.inlined.add(rt["name"])
                return self.inline_struct(self.schema.definitions[rt["name"]], v, ind, at)
            return [f"{ind}o += {at}", *self.read(t, v, ind, where)]
        fmt, num, post = folded
        raw = [self.var() for _ in range(num)]
        lines, expr = post(raw)
        if not lines and expr in raw:  # the value is one of the raw reads: read it into v
            raw[raw.index(expr)] = expr = v
        u = self.unpacker(">i" + fmt)
        out = [f"{ind}_, {', '.join(raw)} = {u}(b, o)", f"{ind}o += {at + self.fmt_size(fmt)}"]
        out += [f"{ind}{line}" for line in lines]
        if expr != v:
            out.append(f"{ind}{v} = {expr}")
        return out

    def void_value(self, union: str, case: int) -> str:
        self.singletons[(union, case)] = None
        return f"_K_{union}_{case}".replace("-", "m")

    def inline_union(self, d: Definition, v: str, ind: str, dv: str | None = None) -> list[str]:
        """A small union read in place (no call): discriminant (unless already in ``dv``), then an
        if-chain over the arms."""
        out: list[str] = []
        at = 0
        if dv is None:  # o stays at the discriminant: each arm moves past it (see read_arm)
            dv = self.var()
            out = [f"{ind}{dv}, = _I32(b, o)"]
            at = 4
        self.depth += 1
        self.inlining.append(d.name)
        start = self.tmp
        end = start
        for n, arm_ in enumerate(d.arms):
            self.tmp = start  # arms are exclusive: each reuses the same temporaries
            end = max(end, self.tmp)
            kw = "if" if n == 0 else "elif"
            if arm_.type is None:
                for m, c in enumerate(arm_.cases):
                    out.append(f"{ind}{kw if m == 0 else 'elif'} {dv} == {c}:")
                    out.append(f"{ind}    {v} = {self.void_value(d.name, c)}")
                    if at:
                        out.append(f"{ind}    o += {at}")
                continue
            cond = " or ".join(f"{dv} == {c}" for c in arm_.cases)
            out.append(f"{ind}{kw} {cond}:")
            out += self.arm_value(d, dv, arm_, v, ind + "    ", at)
            end = max(end, self.tmp)
        self.tmp = end
        self.depth -= 1
        self.inlining.pop()
        out += [f"{ind}else:", f"{ind}    raise _Bad({d.name!r}, {'o' if at else 'o - 4'})"]
        return out

    def read_array(self, rt: TypeExpr, v: str, ind: str, where: str, prefix: str | None = None) -> list[str]:
        elem = rt["element"]
        lines: list[str] = []
        if rt["kind"] == "array":
            count = str(int(rt["count"]))
        else:
            count = prefix or "_c"
            if prefix is None:
                lines.append(f"{ind}_c, = _U32(b, o)")
                lines.append(f"{ind}o += 4")
            guard = f"{count} * {self.sizes.minimum(elem)} > len(b) - o"
            if "max_count" in rt:
                guard = f"{count} > {int(rt['max_count'])} or " + guard
        fmt = self.scalar_fmt(elem)
        relem = self.schema.resolve(elem)
        if rt["kind"] == "var_array" and (fmt is not None or self.fold(relem, where) is not None):
            lines.append(f"{ind}if {guard}: raise _Bad({where!r}, o)")
        if fmt is not None and relem["kind"] in ("int", "unsigned_int", "hyper", "unsigned_hyper"):
            size = SCALAR_SIZE[fmt]
            lines.append(f"{ind}{v} = list(_struct.unpack_from('>%d{fmt}' % {count}, b, o))")
            lines.append(f"{ind}o += {size} * {count}")
            return lines
        if fmt is not None and relem["kind"] == "opaque_fixed":
            n = int(relem["size"])
            p = pad(n)
            lines.append(f"{ind}{v} = [b[o + {p} * _k:o + {p} * _k + {n}] for _k in range({count})]")
            lines.append(f"{ind}o += {p} * {count}")
            return lines
        if (
            relem["kind"] == "ref"
            and self.schema.definitions[relem["name"]].kind in ("struct", "union")
            and self.fold(relem, where) is None
        ):
            fn = f"d_{relem['name']}"
            e = self.var()
            loop = [
                f"{ind}{v} = []",
                f"{ind}_ap = {v}.append",
                f"{ind}for _ in range({count}):",
                f"{ind}    {e}, o = {fn}(b, o)",
                f"{ind}    _ap({e})",
            ]
        else:
            e = self.var()
            loop = [f"{ind}{v} = []", f"{ind}for _ in range({count}):"]
            loop += self.read(elem, e, ind + "    ", where)
            loop.append(f"{ind}    {v}.append({e})")
        if rt["kind"] == "array":
            return lines + loop
        # rule (empty arrays): most variable arrays are empty; they skip the guard and the loop
        if not (fmt is not None or self.fold(relem, where) is not None):
            loop.insert(0, f"{ind}if {guard}: raise _Bad({where!r}, o)")
        return [
            *lines,
            f"{ind}if {count}:",
            *[f"    {line}" for line in loop],
            f"{ind}else:",
            f"{ind}    {v} = []",
        ]
