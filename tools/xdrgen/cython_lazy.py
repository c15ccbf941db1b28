"""Lazy parts of the compiled decoder: validating walkers and the deferred fields of ``LAZY_FIELDS``.

A lazy field is validated at decode time by a generated walker ``w_<Type>(R*)`` that performs every
check the full decoder performs, in the same order and with the same errors (bounds before each
read, lengths, counts, flags, bools, enum values, discriminants, padding, nesting depth), but builds
nothing; the field's slot holds a ``Lazy`` (the buffer, the byte span, the decoding function). The
model class's attribute for that field is replaced (when the extension is imported) by a
``LazyField`` descriptor that decodes the span with the normal compiled decoder on first read and
stores the value in the tuple's slot, so every reader gets the same value as from a full decode.
Iteration, indexing, equality and pickling of the holding classes first build their lazy fields.
"""

from __future__ import annotations

from stellar_arrow.xdr.definitions import Definition, Schema, TypeExpr, snake_case
from tools.xdrgen.policy import LAZY_FIELDS
from tools.xdrgen.sizes import Sizes, pad

__all__ = ["BUILD_ALL", "LAZY_RUNTIME", "LazyWalkers", "lazy_field_ids"]

_U32_MAX = 0xFFFFFFFF
_SKIP = {"int": 4, "unsigned_int": 4, "hyper": 8, "unsigned_hyper": 8}


def lazy_field_ids(schema: Schema) -> list[tuple[str, int, str]]:
    """``(struct, field index, field name)`` of every lazy field, in a fixed order (their ids)."""
    out: list[tuple[str, int, str]] = []
    for name, fields in LAZY_FIELDS.items():
        d = schema.definitions[name]
        names = [snake_case(f.name) for f in d.fields]
        for fname in fields:
            out.append((name, names.index(fname), fname))
    return out


class LazyWalkers:
    """Emits ``w_<Type>`` walkers on demand; mixed into the Cython emitter (shares its helpers)."""

    schema: Schema
    sizes: Sizes
    decls: dict[str, str]
    n: int
    recursive: frozenset[str]

    def local(self, prefix: str, ctype: str) -> str:
        raise NotImplementedError

    def enum_check(self, name: str) -> str:
        raise NotImplementedError

    def init_walkers(self) -> None:
        self.walk_wanted: dict[str, None] = {}
        self.walk_lines: list[str] = []

    def plain(self, t: TypeExpr) -> bool:
        """Values of ``t`` are fixed-size bytes with nothing to check (scalars, fixed opaques)."""
        rt = self.schema.resolve(t)
        if rt["kind"] in _SKIP or rt["kind"] == "opaque_fixed":
            return True
        if rt["kind"] == "ref":
            d = self.schema.definitions[rt["name"]]
            return d.kind == "struct" and all(self.plain(f.type) for f in d.fields)
        return False

    def walk(self, t: TypeExpr, ind: str, where: str) -> list[str]:
        """Lines that check one value of ``t`` at ``r.o`` exactly as ``read`` would, building nothing."""
        rt = self.schema.resolve(t)
        k = rt["kind"]
        w = repr(where)
        if k in _SKIP:
            return [f"{ind}skip(r, {_SKIP[k]})"]
        if k == "bool":
            return [f"{ind}w_bool(r)"]
        if k == "opaque_fixed":
            return [f"{ind}skip(r, {pad(int(rt['size']))})"]
        if k in ("opaque_var", "string"):
            return [f"{ind}w_var(r, {int(rt.get('max_size', _U32_MAX))}, {w})"]
        if k == "optional":
            f = self.local("f", "uint32_t")
            return [
                f"{ind}ru32(r, &{f})",
                f"{ind}if {f} == 1:",
                *self.walk(rt["element"], ind + "    ", where),
                f"{ind}elif {f} != 0:",
                f"{ind}    bad({w}, r.o)",
            ]
        if k in ("array", "var_array"):
            return self.walk_array(rt, ind, where)
        d = self.schema.definitions[rt["name"]]
        if d.kind == "enum":
            e = self.local("d", "int32_t")
            check = f"{ind}if not {self.enum_check(d.name)}({e}):"
            return [f"{ind}ri32(r, &{e})", check, f"{ind}    bad({w}, r.o - 4)"]
        self.walk_wanted[d.name] = None
        return [f"{ind}w_{d.name}(r)"]

    def walk_array(self, rt: TypeExpr, ind: str, where: str) -> list[str]:
        c = self.local("c", "uint32_t")
        i = self.local("i", "Py_ssize_t")
        elem = rt["element"]
        if rt["kind"] == "array":
            head = [f"{ind}{c} = {int(rt['count'])}"]
        else:
            most = int(rt.get("max_count", _U32_MAX))
            head = [f"{ind}count(r, &{c}, {most}, {self.sizes.minimum(elem)}, {where!r})"]
            size = self.sizes.fixed(elem)
            if size is not None and self.plain(elem):
                # ``count`` has checked that the bytes left hold them all: nothing can fail inside
                return [*head, f"{ind}r.o += <Py_ssize_t>{c} * {size}"]
        return [*head, f"{ind}for {i} in range({c}):", *self.walk(elem, ind + "    ", where)]

    def walker(self, d: Definition) -> None:
        """``w_<Type>``: the walker of one struct or union (depth-counted when recursive)."""
        self.decls, self.n = {}, 0
        body: list[str] = []
        if d.kind == "struct":
            for f in d.fields:
                body += self.walk(f.type, "    ", d.name)
        else:
            self.decls["d"] = "int32_t"
            body.append("    ri32(r, &d)")
            first = True
            for arm in d.arms:
                cond = " or ".join(f"d == {c}" for c in arm.cases)
                body.append(f"    {'if' if first else 'elif'} {cond}:")
                first = False
                inner = self.walk(arm.type, "        ", d.name) if arm.type is not None else []
                body += [*inner, "        return 0"]
            body.append(f"    bad({d.name!r}, r.o - 4)")
        body.append("    return 0")
        rec = d.name in self.recursive
        out = [f"cdef int {'wb' if rec else 'w'}_{d.name}(R* r) except -1:"]
        out += [f"    cdef {ctype} {var}" for var, ctype in self.decls.items()]
        out += body
        if rec:
            out += [
                "",
                "",
                f"cdef int w_{d.name}(R* r) except -1:",
                "    r.depth += 1",
                "    if r.depth > MAX_DEPTH:",
                "        deep(r)",
                f"    wb_{d.name}(r)",
                "    r.depth -= 1",
                "    return 0",
            ]
        self.walk_lines += [*out, "", ""]

    def lazy_functions(self, d: Definition, index: int) -> None:
        """``w_<Struct>_<i>``: the walker of one lazy field."""
        f = d.fields[index]
        self.decls, self.n = {}, 0
        walk = self.walk(f.type, "    ", d.name)
        out = [f"cdef int w_{d.name}_{index}(R* r) except -1:"]
        out += [f"    cdef {ctype} {var}" for var, ctype in self.decls.items()]
        out += [*walk, "    return 0", "", ""]
        self.walk_lines += out

    # -- build_all plans ---------------------------------------------------------------------
    def reaches_lazy(self, t: TypeExpr | None) -> bool:
        """Values of ``t`` can hold a lazy part (a lazy field of theirs or of a value inside)."""
        if t is None:
            return False
        rt = self.schema.resolve(t)
        if rt["kind"] in ("optional", "array", "var_array"):
            return self.reaches_lazy(rt["element"])
        if rt["kind"] != "ref":
            return False
        return rt["name"] in self.lazy_reach()

    def lazy_reach(self) -> frozenset[str]:
        """Structs and unions whose values can hold a lazy part (a fixed point over the schema)."""
        if getattr(self, "_reach", None) is None:
            defs = [d for d in self.schema.definitions.values() if d.kind in ("struct", "union")]
            found = {c for c, _, _ in lazy_field_ids(self.schema)}
            self._reach: frozenset[str] | None = frozenset(found)
            grew = True
            while grew:
                grew = False
                for d in defs:
                    if d.name in found:
                        continue
                    types = [f.type for f in d.fields] if d.kind == "struct" else [a.type for a in d.arms]
                    if any(self.reaches_lazy(t) for t in types):
                        found.add(d.name)
                        self._reach = frozenset(found)
                        grew = True
        assert self._reach is not None
        return self._reach

    def plan_value(self, t: TypeExpr, v: str, ind: str) -> list[str]:
        """Lines building every lazy part inside the value ``v`` of ``t`` (which reaches one)."""
        rt = self.schema.resolve(t)
        if rt["kind"] == "optional":
            return [f"{ind}if {v} is not None:", *self.plan_value(rt["element"], v, ind + "    ")]
        if rt["kind"] in ("array", "var_array"):
            e = self.local("e", "object")
            return [f"{ind}for {e} in <list>{v}:", *self.plan_value(rt["element"], e, ind + "    ")]
        return [f"{ind}p_{rt['name']}({v})"]

    def plan(self, d: Definition) -> list[str]:
        """``p_<Type>(v)``: builds the lazy parts of a value of ``d``, visiting only what can hold one."""
        self.decls, self.n = {}, 0
        body: list[str] = []
        if d.kind == "struct":
            for i, f in enumerate(d.fields):
                lazy = (d.name, i) in self.lazy_ids
                if not lazy and not self.reaches_lazy(f.type):
                    continue
                x = self.local("x", "object")
                body.append(f"    {x} = take(v, {i})" if lazy else f"    {x} = <object>sa_slot(v, {i})")
                if self.reaches_lazy(f.type):
                    body += self.plan_value(f.type, x, "    ")
        else:
            self.decls["d"] = "long"
            self.decls["x"] = "object"
            body += ["    d = <object>sa_slot(v, 0)", "    x = <object>sa_slot(v, 1)"]
            first = True
            for arm in d.arms:
                if not self.reaches_lazy(arm.type):
                    continue
                assert arm.type is not None
                cond = " or ".join(f"d == {c}" for c in arm.cases)
                body.append(f"    {'if' if first else 'elif'} {cond}:")
                first = False
                body += self.plan_value(arm.type, "x", "        ")
        head = [f"cdef int p_{d.name}(object v) except -1:"]
        head += [f"    cdef {ctype} {var}" for var, ctype in self.decls.items()]
        return [*head, *body, "    return 0", "", ""]

    def emit_plans(self) -> list[str]:
        """A plan per type that can hold lazy parts, and ``build_all`` dispatching on the class."""
        names = sorted(self.lazy_reach())
        out: list[str] = []
        for name in names:
            out += self.plan(self.schema.definitions[name])
        every = [d.name for d in self.schema.definitions.values() if d.kind in ("struct", "union")]
        out.append("ctypedef int (*Plan)(object) except -1")
        out.append(f"cdef Plan PLANS[{max(1, len(names))}]")
        out += [f"PLANS[{i}] = p_{name}" for i, name in enumerate(names)]
        out.append("cdef dict PLAN_INDEX = {" + ", ".join(f"C_{n}: {i}" for i, n in enumerate(names)) + "}")
        out.append(
            "cdef frozenset LAZY_FREE = frozenset({"
            + ", ".join(f"C_{n}" for n in every if n not in self.lazy_reach())
            + "})"
        )
        out += BUILD_ALL.splitlines()
        return [*out, "", ""]

    def emit_walkers(self) -> list[str]:
        """Walkers of every type a lazy field reaches (each emitted once)."""
        done: set[str] = set()
        while len(done) < len(self.walk_wanted):
            for name in list(self.walk_wanted):
                if name not in done:
                    done.add(name)
                    self.walker(self.schema.definitions[name])
        return self.walk_lines


LAZY_RUNTIME = '''
cdef extern from "Python.h":
    int PyGC_Disable()
    int PyGC_Enable()

cdef extern from *:
    """
    static PyObject* sa_slot(PyObject* t, Py_ssize_t i) { return PyTuple_GET_ITEM(t, i); }
    static void sa_replace(PyObject* t, Py_ssize_t i, PyObject* v) {
        PyObject* old = PyTuple_GET_ITEM(t, i);
        Py_INCREF(v);
        PyTuple_SET_ITEM(t, i, v);
        Py_DECREF(old);
    }
    """
    PyObject* sa_slot(object t, Py_ssize_t i)
    void sa_replace(object t, Py_ssize_t i, object v)


ctypedef int (*Walk)(R*) except -1


cdef inline int skip(R* r, Py_ssize_t k) except -1:
    if r.n - r.o < k:
        return short(r, k)
    r.o += k
    return 0


cdef inline int w_bool(R* r) except -1:
    cdef uint32_t v
    ru32(r, &v)
    if v > 1:
        raise IndexError("bool other than 0 or 1")
    return 0


cdef Py_ssize_t LAZY_MADE[@N_LAZY@]
cdef Py_ssize_t LAZY_BUILT[@N_LAZY@]


@cython.final
@cython.freelist(64)
@cython.no_gc
cdef class Lazy:
    """A validated, not yet built field: its buffer, byte span and decoding function."""
    cdef bytes data
    cdef Py_ssize_t start
    cdef Py_ssize_t end
    cdef int depth
    cdef int ident
    cdef Dec fn

    def __hash__(self):
        raise TypeError("unhashable type: 'list'")

    @property
    def span(self):
        """``(start, end)`` byte offsets of the part in its buffer."""
        return (self.start, self.end)

    def __reduce__(self):
        return (_same, (self.build(),))

    cdef object build(self):
        cdef R r
        r.b = <const unsigned char*>PyBytes_AS_STRING(self.data)
        r.n = PyBytes_GET_SIZE(self.data)
        r.o = self.start
        r.depth = self.depth
        r.lazy = 1
        r.data = <PyObject*>self.data
        cdef int was = PyGC_Disable()
        try:
            value = self.fn(&r)
        finally:
            if was:
                PyGC_Enable()
        if r.o != self.end:
            raise AssertionError(f"lazy part decoded to byte {r.o}, validated to {self.end}")
        LAZY_BUILT[self.ident] += 1
        return value


def _same(value):
    return value


cdef object lazy_part(R* r, Walk walk, Dec fn, int ident):
    """Validate the field at ``r.o``; a ``Lazy`` for it (or its value, when it is 4 bytes or less)."""
    cdef Py_ssize_t start = r.o
    cdef int depth = r.depth
    walk(r)
    if r.o - start <= 4:  # an empty array or an absent optional: cheaper built than deferred
        r.o = start
        return fn(r)
    cdef Lazy z = Lazy.__new__(Lazy)
    z.data = <bytes><object>r.data
    z.start = start
    z.end = r.o
    z.depth = depth
    z.ident = ident
    z.fn = fn
    LAZY_MADE[ident] += 1
    return z


cdef object take(object parent, Py_ssize_t i):
    """Element ``i`` of a model tuple, built first (and stored in place) if it is lazy."""
    cdef object slot = <object>sa_slot(parent, i)
    if type(slot) is not Lazy:
        return slot
    value = (<Lazy>slot).build()
    sa_replace(parent, i, value)
    return value


cdef int force(object t) except -1:
    cdef Py_ssize_t i
    if isinstance(t, tuple):
        for i in range(len(<tuple>t)):
            take(t, i)
    return 0


@cython.final
cdef class LazyField:
    """A field of a class holding lazy fields: its value (built on first read if lazy)."""
    cdef Py_ssize_t index
    cdef object cls

    def __get__(self, obj, owner):
        if obj is None:
            return self
        if not isinstance(obj, self.cls):
            raise TypeError(f"{type(obj).__name__} is not a {self.cls.__name__}")
        return take(obj, self.index)

    def __set__(self, obj, value):
        raise AttributeError("read-only attribute")

    def __delete__(self, obj):
        raise AttributeError("read-only attribute")


@cython.binding(True)
def _lazy_iter(self):
    force(self)
    return tuple.__iter__(self)


@cython.binding(True)
def _lazy_getitem(self, key):
    force(self)
    return tuple.__getitem__(self, key)


@cython.binding(True)
def _lazy_contains(self, item):
    force(self)
    return tuple.__contains__(self, item)


@cython.binding(True)
def _lazy_eq(self, other):
    force(self)
    force(other)
    return tuple.__eq__(self, other)


@cython.binding(True)
def _lazy_ne(self, other):
    force(self)
    force(other)
    return tuple.__ne__(self, other)


@cython.binding(True)
def _lazy_getnewargs(self):
    force(self)
    return tuple.__getnewargs__(self)


def _install_lazy_fields():
    """On each class holding lazy fields: a ``LazyField`` per field (the value of a lazy one built on
    first read), and iteration, indexing, equality and pickling that build the lazy ones first."""
    cdef LazyField fd
    cdef Py_ssize_t index
    for cname in dict.fromkeys(c for c, _, _ in LAZY_FIELD_IDS):
        cls = getattr(_m, cname)
        for index, fname in enumerate(cls.FIELDS):  # every field: ``field``'s itemgetter would build all
            fd = LazyField.__new__(LazyField)
            fd.index = index
            fd.cls = cls
            setattr(cls, fname, fd)
        cls.__iter__ = _lazy_iter
        cls.__getitem__ = _lazy_getitem
        cls.__contains__ = _lazy_contains
        cls.__eq__ = _lazy_eq
        cls.__ne__ = _lazy_ne
        cls.__getnewargs__ = _lazy_getnewargs
    return len(LAZY_FIELD_IDS)


LAZY_FIELDS_INSTALLED = _install_lazy_fields()


def lazy_counts():
    """``{"Struct.field": (deferred, built)}`` since the last reset."""
    return {f"{c}.{f}": (LAZY_MADE[i], LAZY_BUILT[i]) for i, (c, _, f) in enumerate(LAZY_FIELD_IDS)}


def reset_lazy_counts():
    cdef Py_ssize_t i
    for i in range(len(LAZY_FIELD_IDS)):
        LAZY_MADE[i] = 0
        LAZY_BUILT[i] = 0


'''
"""Runtime of the lazy parts, appended to the helpers; ``@N_LAZY@`` stands for their number."""


BUILD_ALL = '''

def build_all(value):
    """Build every lazy part of ``value`` (a decoded tree, or lists and tuples of them) in place;
    ``value``. A model value goes through its class's plan, which visits only the fields that can
    hold a lazy part (a value of a class that cannot hold one is left alone); anything else is
    walked item by item."""
    cdef list todo = [value]
    cdef Py_ssize_t i
    while todo:
        v = todo.pop()
        plan = PLAN_INDEX.get(type(v))
        if plan is not None:
            PLANS[<Py_ssize_t>plan](v)
        elif type(v) in LAZY_FREE:
            continue
        elif isinstance(v, tuple):
            for i in range(len(<tuple>v)):
                item = take(v, i)
                if isinstance(item, (tuple, list)):
                    todo.append(item)
        elif isinstance(v, list):
            for item in <list>v:
                if isinstance(item, (tuple, list)):
                    todo.append(item)
    return value
'''
"""``build_all``, after the plans it dispatches to (``PLANS``, ``PLAN_INDEX``, ``LAZY_FREE``)."""
