"""The compiled decoder: emits ``_compiled.pyx`` (Cython) from the same schema as ``_decoders.py``.

One ``cdef object c_<Type>(R* r)`` per struct and union, reading with typed big-endian C reads,
each bounds-checked (``cython_prelude``), and building the same ``stellar_arrow.xdr.model`` values
as the pure-Python decoder: structs as their class's tuple of fields (plus ``.xdr`` bytes for
``RAW_TYPES``), unions as ``(discriminant, value)``, void arms as shared singletons, enums as ints
(checked against their members), arrays as lists, opaques and strings as bytes. Recursive types
count their nesting (``MAX_DEPTH``). Python sees ``decode(type_name, data, offset)`` and
``d_LedgerCloseMeta`` / ``d_LedgerCloseMetaBatch`` with the generated ``d_<Type>`` signature
``(bytes, offset) -> (value, end)`` (plus ``lazy``: the fields of ``LAZY_FIELDS`` are validated by
walkers and built on first read, ``cython_lazy``).
"""

from __future__ import annotations

from stellar_arrow.xdr.definitions import Arm, Definition, Schema, TypeExpr
from tools.xdrgen.cython_lazy import LAZY_RUNTIME, LazyWalkers, lazy_field_ids
from tools.xdrgen.cython_prelude import MAX_DEPTH, PRELUDE
from tools.xdrgen.policy import COMPILED_SHARED_STRUCTS, INTERN_MAX_BYTES, INTERNED_UNIONS, RAW_TYPES
from tools.xdrgen.sizes import Sizes, pad

__all__ = ["ENTRY_TYPES", "cython_source"]

ENTRY_TYPES = ("LedgerCloseMeta", "LedgerCloseMetaBatch")
"""Types with their own Python-level ``d_<Type>(data, offset)`` entry point (the rest go through
``decode(type_name, data, offset)``)."""

_U32_MAX = 0xFFFFFFFF
_SCALAR_READ = {"int": "o_i32", "unsigned_int": "o_u32", "hyper": "o_i64", "unsigned_hyper": "o_u64"}


def _const(name: str, case: int) -> str:
    return f"{name}_{case}".replace("-", "m")


class CythonEmitter(LazyWalkers):
    """Emits one function per struct/union; ``decls`` holds the C locals of the current one."""

    def __init__(self, schema: Schema) -> None:
        self.schema = schema
        self.sizes = Sizes(schema)
        self.lines: list[str] = []
        self.decls: dict[str, str] = {}
        self.n = 0
        self.singletons: dict[tuple[str, int], None] = {}
        self.enums_used: dict[str, None] = {}
        self.tables: list[str] = []
        self.recursive = self._recursive_types()
        self.lazy_ids = {(c, i): n for n, (c, i, _) in enumerate(lazy_field_ids(schema))}
        self.init_walkers()

    # -- analysis ------------------------------------------------------------------------------
    def _refs(self, t: TypeExpr | None) -> list[str]:
        if t is None:
            return []
        rt = self.schema.resolve(t)
        if rt["kind"] in ("optional", "array", "var_array"):
            return self._refs(rt["element"])
        if rt["kind"] == "ref" and self.schema.definitions[rt["name"]].kind in ("struct", "union"):
            return [rt["name"]]
        return []

    def _recursive_types(self) -> frozenset[str]:
        """Types that can contain themselves (their functions count nesting depth)."""
        edges: dict[str, set[str]] = {}
        for d in self.schema.definitions.values():
            if d.kind == "struct":
                edges[d.name] = {n for f in d.fields for n in self._refs(f.type)}
            elif d.kind == "union":
                edges[d.name] = {n for a in d.arms for n in self._refs(a.type)}
        found: set[str] = set()
        for start in edges:
            seen: set[str] = set()
            todo = list(edges[start])
            while todo:
                name = todo.pop()
                if name == start:
                    found.add(start)
                    break
                if name not in seen:
                    seen.add(name)
                    todo.extend(edges.get(name, ()))
        return frozenset(found)

    # -- helpers -------------------------------------------------------------------------------
    def local(self, prefix: str, ctype: str) -> str:
        self.n += 1
        name = f"_{prefix}{self.n}"
        self.decls[name] = ctype
        return name

    def enum_check(self, name: str) -> str:
        self.enums_used[name] = None
        return f"ok_{name}"

    # -- reads ---------------------------------------------------------------------------------
    def read(self, t: TypeExpr, v: str, ind: str, where: str) -> list[str]:
        """Lines that decode one value of ``t`` into the object variable ``v``."""
        rt = self.schema.resolve(t)
        k = rt["kind"]
        w = repr(where)
        if k in _SCALAR_READ:
            return [f"{ind}{v} = {_SCALAR_READ[k]}(r)"]
        if k == "bool":
            return [f"{ind}{v} = o_bool(r)"]
        if k == "opaque_fixed":
            n = int(rt["size"])
            return [f"{ind}{v} = o_fixed(r, {n}, {pad(n)})"]
        if k in ("opaque_var", "string"):
            return [f"{ind}{v} = o_var(r, {int(rt.get('max_size', _U32_MAX))}, {w})"]
        if k == "optional":
            f = self.local("f", "uint32_t")
            return [
                f"{ind}ru32(r, &{f})",
                f"{ind}if {f} == 1:",
                *self.read(rt["element"], v, ind + "    ", where),
                f"{ind}elif {f} == 0:",
                f"{ind}    {v} = None",
                f"{ind}else:",
                f"{ind}    bad({w}, r.o)",
            ]
        if k in ("array", "var_array"):
            return self.read_array(rt, v, ind, where)
        d = self.schema.definitions[rt["name"]]
        if d.kind == "enum":
            e = self.local("d", "int32_t")
            return [
                f"{ind}ri32(r, &{e})",
                f"{ind}if not {self.enum_check(d.name)}({e}):",
                f"{ind}    bad({w}, r.o - 4)",
                f"{ind}{v} = PyLong_FromLong({e})",
            ]
        return [f"{ind}{v} = c_{d.name}(r)"]

    def read_array(self, rt: TypeExpr, v: str, ind: str, where: str) -> list[str]:
        c = self.local("c", "uint32_t")
        i = self.local("i", "Py_ssize_t")
        lst = self.local("l", "list")
        e = self.local("e", "object")
        elem = rt["element"]
        if rt["kind"] == "array":
            head = [f"{ind}{c} = {int(rt['count'])}"]
        else:
            most = int(rt.get("max_count", _U32_MAX))
            least = self.sizes.minimum(elem)
            head = [f"{ind}count(r, &{c}, {most}, {least}, {where!r})"]
        return [
            *head,
            f"{ind}{lst} = PyList_New({c})",
            f"{ind}for {i} in range({c}):",
            *self.read(elem, e, ind + "    ", where),
            f"{ind}    put({lst}, {i}, {e})",
            f"{ind}{v} = {lst}",
        ]

    # -- definitions -----------------------------------------------------------------------------
    def listless(self, t: TypeExpr) -> bool:
        """True if values of ``t`` never contain a list (immutable all the way down: shareable)."""
        rt = self.schema.resolve(t)
        if rt["kind"] in ("array", "var_array"):
            return False
        if rt["kind"] == "optional":
            return self.listless(rt["element"])
        if rt["kind"] != "ref":
            return True
        d = self.schema.definitions[rt["name"]]
        if d.kind == "struct":
            return all(self.listless(f.type) for f in d.fields)
        if d.kind == "union":
            return all(a.type is None or self.listless(a.type) for a in d.arms)
        return True

    def spans(self, d: Definition) -> list[str]:
        """Rule (interning, as ``INTERNED_UNIONS`` in the pure-Python decoder): lines setting ``span``
        to the wire size of a value whose arm holds no list and is fixed-size or a short opaque or
        string, so that it is looked up by those bytes before anything is built; else -1."""
        out: list[str] = []
        for arm in d.arms:
            if arm.type is None or not self.listless(arm.type):
                continue
            rt = self.schema.resolve(arm.type)
            size = self.sizes.fixed(rt)
            if size is not None and 4 + size <= 80:
                expr = str(4 + size)
            elif (
                rt["kind"] in ("opaque_var", "string")
                and int(rt.get("max_size", 1 << 32)) <= INTERN_MAX_BYTES
            ):
                expr = f"var_span(r, 4, {int(rt['max_size'])})"
            else:
                continue
            cond = " or ".join(f"d == {c}" for c in arm.cases)
            out += [f"        {'elif' if out else 'if'} {cond}:", f"            span = {expr}"]
        if not out:
            return []
        self.tables.append(d.name)
        return ["    if r.n - r.o >= 4:", "        d = <int32_t>be32(r.b + r.o)", *out]

    def function(self, d: Definition, body: list[str]) -> None:
        """``c_<Type>``: the body with its locals, wrapped in a depth count for recursive types and
        an intern-table lookup for interned unions."""
        spans: list[str] = []
        if d.kind == "union" and d.name in INTERNED_UNIONS and d.name not in RAW_TYPES:
            spans = self.spans(d)
        elif d.name in COMPILED_SHARED_STRUCTS:
            self.tables.append(d.name)
            spans = [f"    span = {self.sizes.fixed({'kind': 'ref', 'name': d.name})}"]
        wrapped = d.name in self.recursive or bool(spans)
        out = [f"cdef object {'b' if wrapped else 'c'}_{d.name}(R* r):"]
        out += [f"    cdef {ctype} {var}" for var, ctype in self.decls.items()]
        out += body
        if wrapped:
            out += ["", "", f"cdef object c_{d.name}(R* r):"]
            if d.name in self.recursive:
                out += ["    r.depth += 1", "    if r.depth > MAX_DEPTH:", "        deep(r)"]
            if spans:
                out += ["    cdef Py_ssize_t span = -1", "    cdef int32_t d = 0", *spans]
                out.append(f"    v = interned(&T_{d.name}, b_{d.name}, r, span)")
            else:
                out.append(f"    v = b_{d.name}(r)")
            if d.name in self.recursive:
                out.append("    r.depth -= 1")
            out.append("    return v")
        self.lines += [*out, "", ""]

    def struct(self, d: Definition) -> None:
        self.decls, self.n = {}, 0
        raw = d.name in RAW_TYPES
        names = [f"f{i}" for i in range(len(d.fields))]
        for v in names:
            self.decls[v] = "object"
        body: list[str] = []
        if raw:
            self.decls["s"] = "Py_ssize_t"
            body.append("    s = r.o")
        lazy: list[int] = []
        for i, (f, v) in enumerate(zip(d.fields, names, strict=True)):
            ident = self.lazy_ids.get((d.name, i))
            if ident is None:
                body += self.read(f.type, v, "    ", d.name)
                continue
            lazy.append(i)
            body += [
                "    if r.lazy:",
                f"        {v} = lazy_part(r, w_{d.name}_{i}, z_{d.name}_{i}, {ident})",
                "    else:",
                f"        {v} = z_{d.name}_{i}(r)",
            ]
        if raw:
            names.append("raw(r, s)")
        self.decls["t"] = "object"
        body.append(f"    t = sa_alloc(C_{d.name}, {len(names)})")
        body += [f"    sa_set(t, {i}, {v})" for i, v in enumerate(names)]
        body.append(f"    return sa_done(C_{d.name}, t)")
        self.function(d, body)
        for i in lazy:
            self.decls, self.n = {"v": "object"}, 0
            read = self.read(d.fields[i].type, "v", "    ", d.name)
            head = [f"cdef object z_{d.name}_{i}(R* r):"]
            head += [f"    cdef {ctype} {var}" for var, ctype in self.decls.items()]
            self.lines += [*head, *read, "    return v", "", ""]
            self.lazy_functions(d, i)

    def union(self, d: Definition) -> None:
        self.decls, self.n = {"d": "int32_t", "v": "object"}, 0
        raw = d.name in RAW_TYPES
        body: list[str] = []
        if raw:
            self.decls["s"] = "Py_ssize_t"
            body.append("    s = r.o")
        body.append("    ri32(r, &d)")
        first = True
        for arm in d.arms:
            groups = [[c] for c in arm.cases] if arm.type is None and not raw else [list(arm.cases)]
            for cases in groups:
                cond = " or ".join(f"d == {c}" for c in cases)
                body.append(f"    {'if' if first else 'elif'} {cond}:")
                first = False
                body += self.arm(d, arm, cases, raw)
        body.append(f"    bad({d.name!r}, r.o - 4)")
        self.function(d, body)

    def arm(self, d: Definition, arm: Arm, cases: list[int], raw: bool) -> list[str]:
        if arm.type is None:
            if raw:
                return [f"        return mk3(C_{d.name}, PyLong_FromLong(d), None, raw(r, s))"]
            self.singletons[(d.name, cases[0])] = None
            return [f"        return K_{_const(d.name, cases[0])}"]
        out = self.read(arm.type, "v", "        ", d.name)
        if raw:
            return [*out, f"        return mk3(C_{d.name}, PyLong_FromLong(d), v, raw(r, s))"]
        return [*out, f"        return mk2(C_{d.name}, PyLong_FromLong(d), v)"]

    # -- module ----------------------------------------------------------------------------------
    def enum_function(self, d: Definition) -> list[str]:
        """``ok_<Enum>(v)``: whether ``v`` is a member, as a few range tests."""
        values = sorted({v for _, v in d.members})
        ranges: list[tuple[int, int]] = []
        for v in values:
            if ranges and ranges[-1][1] == v - 1:
                ranges[-1] = (ranges[-1][0], v)
            else:
                ranges.append((v, v))
        tests = [f"v == {lo}" if lo == hi else f"({lo} <= v <= {hi})" for lo, hi in ranges]
        return [
            f"cdef inline bint ok_{d.name}(int32_t v) noexcept:",
            f"    return {' or '.join(tests)}",
            "",
            "",
        ]


def cython_source(schema: Schema, header: str) -> str:
    """The source of ``_compiled.pyx``, starting with ``header``."""
    em = CythonEmitter(schema)
    defs = [d for d in schema.definitions.values() if d.kind in ("struct", "union")]
    for d in defs:
        if d.kind == "struct":
            em.struct(d)
        else:
            em.union(d)
    directives, helpers = PRELUDE.split("\nfrom ", 1)
    out = [directives, header.rstrip("\n"), "from " + helpers.replace("@MAX_DEPTH@", str(MAX_DEPTH)), ""]
    out += [f"cdef object C_{d.name} = _m.{d.name}" for d in defs]
    out += [f"cdef object K_{_const(n, c)} = _m.{n}(({c}, None))" for n, c in sorted(em.singletons)]
    out += [f"cdef sa_table T_{name}" for name in em.tables]
    out += ["", ""]
    for d in schema.definitions.values():
        if d.kind == "enum" and d.name in em.enums_used:
            out += em.enum_function(d)
    out.append("LAZY_FIELD_IDS = " + repr(tuple(lazy_field_ids(schema))))
    out += LAZY_RUNTIME.replace("@N_LAZY@", str(max(1, len(em.lazy_ids)))).splitlines()
    out += ["", ""]
    out += em.lines
    out += em.emit_walkers()
    out += em.emit_plans()
    out += [
        "def intern_table_sizes():",
        '    """Entries held by each intern table (each is bounded)."""',
        "    return {" + ", ".join(f"{n!r}: sa_count(&T_{n})" for n in em.tables) + "}",
        "",
        "",
    ]
    out.append(f"cdef Dec TABLE[{len(defs)}]")
    out += [f"TABLE[{i}] = c_{d.name}" for i, d in enumerate(defs)]
    index = ", ".join(f"{d.name!r}: {i}" for i, d in enumerate(defs))
    out += [
        f"INDEX = {{{index}}}",
        "",
        "",
        "def decode(str type_name, bytes data, Py_ssize_t offset=0, bint lazy=True):",
        '    """``(value, end offset)`` of one ``type_name`` value starting at ``offset`` of ``data``;',
        '    ``lazy``: defer the fields of ``LAZY_FIELDS`` (validated now, built on first read)."""',
        "    return run(TABLE[<Py_ssize_t>INDEX[type_name]], data, offset, lazy)",
    ]
    for name in ENTRY_TYPES:
        out += [
            "",
            "",
            f"def d_{name}(bytes data, Py_ssize_t offset=0, bint lazy=True):",
            f'    """``(value, end offset)`` of one ``{name}`` starting at ``offset`` of ``data``."""',
            f"    return run(c_{name}, data, offset, lazy)",
        ]
    return "\n".join(out).rstrip() + "\n"
