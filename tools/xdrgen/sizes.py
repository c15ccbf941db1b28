"""Wire sizes of schema types: fixed sizes, minimum sizes, and how often each type is used."""

from __future__ import annotations

from stellar_arrow.xdr.definitions import Schema, TypeExpr

__all__ = ["Sizes", "pad", "uses"]


def pad(n: int) -> int:
    return (n + 3) & ~3


class Sizes:
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
            return pad(int(t["size"]))
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


def uses(schema: Schema) -> dict[str, int]:
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
