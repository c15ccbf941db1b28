"""Struct decoders: ``d_<Type>`` for each struct, and structs decoded in place by their parents.

Rule (folding with prefix folding, ``struct_body``): a run of fixed-size fields and the 4-byte prefix
of the field after it are one ``unpack_from``.
"""

from __future__ import annotations

from stellar_arrow.xdr.definitions import Definition
from tools.xdrgen.folding import EmitterBase, Fold
from tools.xdrgen.policy import RAW_TYPES

__all__ = ["Structs"]


class Structs(EmitterBase):
    def struct(self, d: Definition) -> None:
        self.tmp = 0  # temporaries are numbered per function
        raw = d.name in RAW_TYPES
        out = [f"def d_{d.name}(b, o):"]
        if raw:
            out.append("    _s = o")
        self.inlining = [d.name]
        body, exprs = self.struct_body(d, [f"_f{i}" for i in range(len(d.fields))], "    ")
        out += body
        vals = [*exprs, "b[_s:o]"] if raw else exprs
        tup = "(" + ", ".join(vals) + ("," if len(vals) == 1 else "") + ")"
        out.append(f"    return {d.name}({tup}), o")
        self.lines += out
        self.lines.append("")
        self.lines.append("")
        self.struct_skipper(d)

    def inline_struct(self, d: Definition, v: str, ind: str, at: int = 0) -> list[str]:
        """A struct used by one field only, decoded in place (no call); ``o`` is ``at`` bytes before it."""
        self.inlining.append(d.name)
        body, exprs = self.struct_body(d, [self.var() for _ in d.fields], ind, at)
        self.inlining.pop()
        tup = "(" + ", ".join(exprs) + ("," if len(exprs) == 1 else "") + ")"
        return [*body, f"{ind}{v} = {d.name}({tup})"]

    def struct_body(
        self, d: Definition, names: list[str], ind: str, at: int = 0
    ) -> tuple[list[str], list[str]]:
        """Lines decoding a struct's fields, and the expression of each field's value.

        ``at`` bytes before the struct (a union's discriminant) are read again by its first run
        and dropped, as in ``read_arm``."""
        out: list[str] = []
        i = 0
        exprs = list(names)
        if at and (not d.fields or self.fold(d.fields[0].type, d.name) is None):
            out.append(f"{ind}o += {at}")
            at = 0
        while i < len(d.fields):
            # fold a run of fixed-size fields into one read
            j = i
            run: list[Fold] = []
            while j < len(d.fields):
                f = self.fold(d.fields[j].type, d.name)
                if f is None:
                    break
                run.append(f)
                j += 1
            if run:
                fmt = "".join(r[0] for r in run)
                raw_vars = [self.var() for _ in range(sum(r[1] for r in run))]
                # rule (prefix folding): the next field's length/count/flag/discriminant joins the read
                pfx = self.prefix_fmt(d.fields[j].type) if j < len(d.fields) else None
                pv = self.var() if pfx else None
                lead = "i" if at else ""
                u = self.unpacker(">" + lead + fmt + (pfx or ""))
                targets = (["_"] if at else []) + raw_vars + ([pv] if pv else [])
                out.append(f"{ind}{', '.join(targets)}{',' if len(targets) == 1 else ''} = {u}(b, o)")
                out.append(f"{ind}o += {self.fmt_size(lead + fmt + (pfx or ''))}")
                at = 0
                pos = 0
                for n, (_fmt, num, post) in enumerate(run):
                    lines, expr = post(raw_vars[pos : pos + num])
                    out += [f"{ind}{line}" for line in lines]
                    exprs[i + n] = expr
                    pos += num
                if pv is not None:
                    out += self.read(d.fields[j].type, names[j], ind, d.name, prefix=pv)
                    j += 1
                i = j
                continue
            out += self.read(d.fields[i].type, names[i], ind, d.name)
            i += 1
        return out, exprs
