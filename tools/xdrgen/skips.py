"""Skip-walkers: ``s_<Type>(b, o) -> new_o`` walks past a value without building anything.

Fixed-size parts are stepped over in one offset increment; unions still check their discriminant.
(The skip-walker does not check padding.)
"""

from __future__ import annotations

from stellar_arrow.xdr.definitions import Definition, TypeExpr
from tools.xdrgen.folding import EmitterBase

__all__ = ["Skips"]


class Skips(EmitterBase):
    def skip_size(self, t: TypeExpr | None) -> int | None:
        """The size a skipper steps over without looking (fixed, and not a union: its
        discriminant is checked), or None."""
        if t is None:
            return 0
        rt = self.schema.resolve(t)
        if rt["kind"] == "ref" and self.schema.definitions[rt["name"]].kind == "union":
            return None
        return self.sizes.fixed(rt)

    def skip(self, t: TypeExpr, ind: str, where: str) -> list[str]:
        rt = self.schema.resolve(t)
        k = rt["kind"]
        fixed = self.skip_size(rt)
        if fixed is not None:
            return [f"{ind}o += {fixed}"]
        if k in ("opaque_var", "string"):
            return [f"{ind}o += 4 + ((_U32(b, o)[0] + 3) & -4)"]
        if k == "optional":
            f = self.var()
            return [
                f"{ind}{f}, = _U32(b, o)",
                f"{ind}o += 4",
                f"{ind}if {f}:",
                f"{ind}    if {f} != 1: raise _Bad({where!r}, o)",
                *self.skip(rt["element"], ind + "    ", where),
            ]
        if k in ("array", "var_array"):
            elem = rt["element"]
            lines: list[str] = []
            if k == "array":
                count = str(int(rt["count"]))
            else:
                count = "_c"
                lines += [f"{ind}_c, = _U32(b, o)", f"{ind}o += 4"]
                guard = f"_c * {self.sizes.minimum(elem)} > len(b) - o"
                if "max_count" in rt:
                    guard = f"_c > {int(rt['max_count'])} or " + guard
                lines.append(f"{ind}if {guard}: raise _Bad({where!r}, o)")
            efixed = self.sizes.fixed(elem)
            relem = self.schema.resolve(elem)
            is_union = relem["kind"] == "ref" and self.schema.definitions[relem["name"]].kind == "union"
            if efixed is not None and not is_union:
                lines.append(f"{ind}o += {efixed} * {count}")
                return lines
            lines.append(f"{ind}for _ in range({count}):")
            lines += self.skip(elem, ind + "    ", where)
            return lines
        return [f"{ind}o = s_{rt['name']}(b, o)"]

    def struct_skipper(self, d: Definition) -> None:
        sk = [f"def s_{d.name}(b, o):"]
        fixed = self.sizes.fixed({"kind": "ref", "name": d.name})
        if fixed is not None:
            sk.append(f"    return o + {fixed}")
        else:
            acc = 0
            for fd in d.fields:
                fz = self.sizes.fixed(fd.type)
                rt = self.schema.resolve(fd.type)
                is_union = rt["kind"] == "ref" and self.schema.definitions[rt["name"]].kind == "union"
                if fz is not None and not is_union:
                    acc += fz
                    continue
                if acc:
                    sk.append(f"    o += {acc}")
                    acc = 0
                sk += self.skip(fd.type, "    ", d.name)
            if acc:
                sk.append(f"    o += {acc}")
            sk.append("    return o")
        self.lines += sk
        self.lines.append("")
        self.lines.append("")

    def union_skipper(self, d: Definition) -> None:
        """A union's skipper: a void or fixed-size arm is one offset step."""
        sk = [f"def s_{d.name}(b, o):", "    _d, = _I32(b, o)"]
        for n, arm in enumerate(d.arms):
            cond = " or ".join(f"_d == {c}" for c in arm.cases)
            sk.append(f"    {'if' if n == 0 else 'elif'} {cond}:")
            size = 0 if arm.type is None else self.skip_size(arm.type)
            if size is not None or arm.type is None:  # a void or fixed-size arm: one offset step
                sk.append(f"        return o + {4 + (size or 0)}")
            else:
                sk += ["        o += 4", *self.skip(arm.type, "        ", d.name), "        return o"]
        sk += ["    else:", f"        raise _Bad({d.name!r}, o)", "", ""]
        self.lines += sk
