"""Union decoders: hot arms first, a balanced if-tree, shared arms, every arm returning at once."""

from __future__ import annotations

from stellar_arrow.xdr.definitions import Arm, Definition
from tools.xdrgen.folding import EmitterBase
from tools.xdrgen.policy import DISPATCH_MIN_ARMS, HOT_ARMS, RAW_TYPES

__all__ = ["Unions"]


class Unions(EmitterBase):
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
        elif len(d.arms) >= DISPATCH_MIN_ARMS:
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
        self.union_skipper(d)
