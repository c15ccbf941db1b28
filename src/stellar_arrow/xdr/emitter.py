"""The decoder half of the generator: emits ``_decoders.py`` from the schema.

For every struct and union it writes a decoder ``d_<Type>(b, o) -> (value, new_o)`` and a skipper
``s_<Type>(b, o) -> new_o``. The speed comes from a few rules, each a documented method or constant
below (docs/decode.md, "How it is fast", gives their measured gains):

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

import struct as _struct
from collections.abc import Callable

from stellar_arrow.xdr.definitions import Arm, Definition, Schema, TypeExpr

__all__ = ["CALLED_TYPES", "HOT_ARMS", "INTERNED_UNIONS", "INTERN_MAX", "RAW_TYPES", "decoders_source"]

RAW_TYPES = frozenset(
    {
        "LedgerHeader",
        "LedgerHeaderHistoryEntry",
        "GeneralizedTransactionSet",
        "TransactionEnvelope",
        "Transaction",
        "TransactionV0",
        "FeeBumpTransaction",
        "TransactionResult",
        "TransactionResultPair",
        "TransactionMeta",
    }
)
"""Types whose decoded values also carry their exact XDR bytes as the attribute ``xdr``."""

INTERNED_UNIONS = frozenset(
    {
        "PublicKey",
        "MuxedAccount",
        "SignerKey",
        "Asset",
        "TrustLineAsset",
        "ChangeTrustAsset",
        "SCAddress",
        "SCVal",
        "AccountEntryExtensionV2Ext",
    }
)
"""Unions whose values repeat within a ledger (measured on the 20 protocol-26 pubnet ledgers: 80–96% of
the ``PublicKey``, ``Asset``, ``SignerKey`` values and of ``SCVal`` symbols are repeats). Their arms
whose value is a scalar or bytes, or has a fixed size and holds no list, return a shared value from
a bounded per-arm table instead of building a new one (see ``_Interned`` in the generated module)."""

CALLED_TYPES = frozenset(
    {"LedgerEntryChange", "ContractEvent", "DiagnosticEvent", "TransactionEvent", "SCPHistoryEntry"}
)
"""Types always decoded by calling ``d_<Type>``, never in place, so that a decoding profile
(``xdr/profile.py``) can swap that function for a skipper."""

HOT_ARMS = {"SCVal": ("SCV_SYMBOL", "SCV_ADDRESS", "SCV_I128")}
"""Arms tested first, before the balanced if-tree, in big unions where a few arms dominate (measured
on the 20 protocol-26 pubnet ledgers: of 6,000 ``SCVal`` values per ledger, 35% are symbols, 22%
addresses, 14% i128)."""

INTERN_MAX = 4096
_INTERN_MAX_BYTES = 64
_DISPATCH_MIN_ARMS = 5
_INLINE_MAX_ARMS = 4
_SCALAR_FMT = {"int": "i", "unsigned_int": "I", "hyper": "q", "unsigned_hyper": "Q", "bool": "I"}
_SCALAR_SIZE = {"i": 4, "I": 4, "q": 8, "Q": 8}


def _pad(n: int) -> int:
    return (n + 3) & ~3


class _Sizes:
    """Fixed wire sizes and minimum sizes of type expressions."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self._fixed: dict[str, int | None] = {}
        self._min: dict[str, int] = {}

    def fixed(self, t: TypeExpr) -> int | None:
        t = self.schema.resolve(t)
        k = t["kind"]
        if k in ("int", "unsigned_int", "bool"):
            return 4
        if k in ("hyper", "unsigned_hyper"):
            return 8
        if k == "opaque_fixed":
            return _pad(int(t["size"]))
        if k in ("opaque_var", "string", "var_array", "optional"):
            return None
        if k == "array":
            e = self.fixed(t["element"])
            return None if e is None else e * int(t["count"])
        name = t["name"]
        if name in self._fixed:
            return self._fixed[name]
        self._fixed[name] = None  # recursion guard
        d = self.schema.definitions[name]
        size: int | None
        if d.kind == "enum":
            size = 4
        elif d.kind == "struct":
            parts = [self.fixed(f.type) for f in d.fields]
            size = None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
        else:
            arm_sizes = {0 if a.type is None else self.fixed(a.type) for a in d.arms}
            size = None if None in arm_sizes or len(arm_sizes) != 1 else 4 + next(iter(arm_sizes))  # type: ignore[operator]
        self._fixed[name] = size
        return size

    def minimum(self, t: TypeExpr) -> int:
        t = self.schema.resolve(t)
        k = t["kind"]
        f = self.fixed(t)
        if f is not None:
            return f
        if k in ("opaque_var", "string", "var_array", "optional"):
            return 4
        if k == "array":
            return self.minimum(t["element"]) * int(t["count"])
        name = t["name"]
        if name in self._min:
            return self._min[name]
        self._min[name] = 4
        d = self.schema.definitions[name]
        if d.kind == "struct":
            m = sum(self.minimum(fd.type) for fd in d.fields)
        else:
            m = 4 + min(0 if a.type is None else self.minimum(a.type) for a in d.arms)
        self._min[name] = m
        return m


def _uses(schema: Schema) -> dict[str, int]:
    """How many fields and arms of the schema refer to each struct or union."""
    uses: dict[str, int] = dict.fromkeys(schema.definitions, 0)

    def visit(t: TypeExpr) -> None:
        rt = schema.resolve(t)
        if rt["kind"] in ("optional", "array", "var_array"):
            visit(rt["element"])
        elif rt["kind"] == "ref":
            uses[rt["name"]] += 1

    for d in schema.definitions.values():
        if d.kind == "struct":
            for f in d.fields:
                visit(f.type)
        elif d.kind == "union":
            for a in d.arms:
                if a.type is not None:
                    visit(a.type)
    return uses


class _Emitter:
    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.sizes = _Sizes(schema)
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
        self.uses = _uses(schema)

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
        if k in _SCALAR_FMT:
            return _SCALAR_FMT[k]
        if k == "opaque_fixed":
            n = int(t["size"])
            return f"{n}s" + "x" * (_pad(n) - n)
        if k == "ref" and self.schema.definitions[t["name"]].kind == "enum":
            return "i"
        return None

    def fold(
        self, t: TypeExpr, where: str
    ) -> tuple[str, int, Callable[[list[str]], tuple[list[str], str]]] | None:
        """How to read ``t`` inside one folded ``unpack_from``: (format, number of values, post-processing).

        Scalars, enums, fixed opaques, single-arm unions of foldable types (``PublicKey``,
        ``ExtensionPoint``) and structs made only of foldable fields qualify; post-processing turns
        the raw values into ``(validation lines, value expression)``.
        """
        rt = self.schema.resolve(t)
        k = rt["kind"]
        if k in ("int", "unsigned_int", "hyper", "unsigned_hyper"):
            return _SCALAR_FMT[k], 1, lambda vs: ([], vs[0])
        if k == "bool":
            return "I", 1, lambda vs: ([], f"_BOOL[{vs[0]}]")
        if k == "opaque_fixed":
            n = int(rt["size"])
            return f"{n}s" + "x" * (_pad(n) - n), 1, lambda vs: ([], vs[0])
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

    # -- reads -----------------------------------------------------------------------------------
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
        return d.kind == "union" and len(d.arms) <= _INLINE_MAX_ARMS and self.depth < 2

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
            return [f"{ind}{v} = b[o:o + {n}]", f"{ind}o += {_pad(n)}"]
        fmt = self.scalar_fmt(rt)
        if fmt is not None:
            u = self.unpacker(">" + fmt)
            size = _SCALAR_SIZE[fmt]
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
            return int(rt.get("max_size", 1 << 32)) <= _INTERN_MAX_BYTES
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
            size = _SCALAR_SIZE[fmt]
            lines.append(f"{ind}{v} = list(_struct.unpack_from('>%d{fmt}' % {count}, b, o))")
            lines.append(f"{ind}o += {size} * {count}")
            return lines
        if fmt is not None and relem["kind"] == "opaque_fixed":
            n = int(relem["size"])
            p = _pad(n)
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

    # -- skips -----------------------------------------------------------------------------------
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

    # -- definitions -----------------------------------------------------------------------------
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
            run: list[tuple[str, int, Callable[[list[str]], tuple[list[str], str]]]] = []
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

    def arm_return(self, d: Definition, case: int | None, arm: Arm, ind: str) -> list[str]:
        """Lines that decode one arm and return the union value (rule: every arm returns at once;
        a void arm of a union without raw bytes returns its shared singleton)."""
        self.tmp = self.arm_tmp  # arms are exclusive: each reuses the same temporaries
        raw = d.name in RAW_TYPES
        if arm.type is None:
            if not raw and case is not None:
                return [f"{ind}return {self.void_value(d.name, case)}, o + 4"]
            tup = "(_d, None, b[_s:o])" if raw else "(_d, None)"
            return [f"{ind}o += 4", f"{ind}return {d.name}({tup}), o"]
        if raw:
            read = self.read_arm(arm.type, "_val", ind, d.name, 4)
            return [*read, f"{ind}return {d.name}((_d, _val, b[_s:o])), o"]
        out = self.arm_value(d, "_d", arm, "_r", ind, 4)
        if out[-1].startswith(f"{ind}_r = "):  # a plain assignment: return the expression
            return [*out[:-1], f"{ind}return {out[-1][len(ind) + 5 :]}, o"]
        return [*out, f"{ind}return _r, o"]

    def if_tree(self, d: Definition, leaves: list[tuple[int, Arm]], ind: str) -> list[str]:
        if len(leaves) <= 3:
            out: list[str] = []
            for n, (case, arm_) in enumerate(leaves):
                out.append(f"{ind}{'if' if n == 0 else 'elif'} _d == {case}:")
                out += self.arm_return(d, case, arm_, ind + "    ")
            out += [f"{ind}else:", f"{ind}    raise _Bad({d.name!r}, o)"]
            return out
        mid = len(leaves) // 2
        return [
            f"{ind}if _d < {leaves[mid][0]}:",
            *self.if_tree(d, leaves[:mid], ind + "    "),
            f"{ind}else:",
            *self.if_tree(d, leaves[mid:], ind + "    "),
        ]

    def hot_cases(self, d: Definition) -> list[int]:
        """The case values of ``HOT_ARMS[d]``, in that order."""
        if d.name not in HOT_ARMS:
            return []
        members = dict(self.schema.definitions[d.discriminant_type["name"]].members)
        return [members[m] for m in HOT_ARMS[d.name]]

    def shared_struct_arms(self, d: Definition) -> dict[str, list[int]]:
        """Struct types that two or more arms of ``d`` carry, with their cases."""
        cases: dict[str, list[int]] = {}
        for arm in d.arms:
            if arm.type is None:
                continue
            rt = self.schema.resolve(arm.type)
            if rt["kind"] == "ref" and self.schema.definitions[rt["name"]].kind == "struct":
                cases.setdefault(rt["name"], []).extend(arm.cases)
        return {name: cs for name, cs in cases.items() if len(cs) > 1}

    def grouped_arms(self, d: Definition, shared: dict[str, list[int]]) -> list[str]:
        """Rule (shared arms): arms carrying the same struct (``LedgerEntryChange``: created,
        updated, state and restored all carry a ``LedgerEntry``) share one branch, first, in which
        that struct is decoded in place (it is emitted once in this function)."""
        out: list[str] = []
        for n, (name, cases) in enumerate(shared.items()):
            self.tmp = self.arm_tmp
            cond = f"_d in {{{', '.join(map(str, sorted(cases)))}}}"
            out.append(f"    {'if' if n == 0 else 'elif'} {cond}:")
            self.inlined.add(name)
            v = self.var()
            out += self.inline_struct(self.schema.definitions[name], v, "        ", at=4)
            out.append(f"        return {d.name}((_d, {v})), o")
        for arm in d.arms:
            rt = self.schema.resolve(arm.type) if arm.type is not None else None
            if rt is not None and rt["kind"] == "ref" and rt["name"] in shared:
                continue
            groups = [[c] for c in arm.cases] if arm.type is None else [list(arm.cases)]
            for cs in groups:
                out.append(f"    elif {' or '.join(f'_d == {c}' for c in cs)}:")
                out += self.arm_return(d, cs[0] if len(cs) == 1 else None, arm, "        ")
        out += ["    else:", f"        raise _Bad({d.name!r}, o)"]
        return out

    def union(self, d: Definition) -> None:
        self.tmp = 0
        self.inlining = [d.name]
        raw = d.name in RAW_TYPES
        out = [f"def d_{d.name}(b, o):"]
        if raw:
            out.append("    _s = o")
        out += ["    _d, = _I32(b, o)"]  # o stays at the discriminant (see read_arm)
        self.arm_tmp = self.tmp
        shared = self.shared_struct_arms(d)
        if shared and not raw:
            out += self.grouped_arms(d, shared)
        elif len(d.arms) >= _DISPATCH_MIN_ARMS:
            # a balanced if-tree over the sorted case values: log2(arms) comparisons, arms inline
            leaves = sorted((c, arm) for arm in d.arms for c in arm.cases)
            hot = self.hot_cases(d)
            arm_of = dict(leaves)
            for n, (case, arm) in enumerate((c, arm_of[c]) for c in hot):
                out.append(f"    {'if' if n == 0 else 'elif'} _d == {case}:")
                out += self.arm_return(d, case, arm, "        ")
            if hot:
                out.append("    else:")
                out += self.if_tree(d, [(c, a) for c, a in leaves if c not in hot], "        ")
            else:
                out += self.if_tree(d, leaves, "    ")
        else:
            n = 0
            for arm in d.arms:
                # a void arm gets one branch per case (each returns its own singleton)
                groups = [[c] for c in arm.cases] if arm.type is None else [list(arm.cases)]
                for cases in groups:
                    cond = " or ".join(f"_d == {c}" for c in cases)
                    out.append(f"    {'if' if n == 0 else 'elif'} {cond}:")
                    out += self.arm_return(d, cases[0] if len(cases) == 1 else None, arm, "        ")
                    n += 1
            out += ["    else:", f"        raise _Bad({d.name!r}, o)"]
        self.lines += out
        self.lines += ["", ""]
        # skipper
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


def decoders_source(schema: Schema, header: str) -> str:
    """The source of ``_decoders.py``, starting with ``header``."""
    em = _Emitter(schema)
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
        "class _Bad(Exception):",
        '    """Raised by generated code on an invalid discriminant, enum value, flag or length."""',
        "",
        "    def __init__(self, type_name, offset):",
        "        super().__init__(type_name, offset)",
        "        self.type_name = type_name",
        "        self.offset = offset",
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
