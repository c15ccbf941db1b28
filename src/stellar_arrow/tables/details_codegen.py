"""Generated operation ``details`` renderers: the reference closures' results, as source code.

:class:`DetailsGenerator` writes, from the XDR schema, one function per struct and union of an operation
body: Python source executed once (what runs when the extension is not built), or the Cython text of
``tables/_details.pyx`` (written by ``tools/gen_details.py``) with JSON writers. Both must give the
reference's JSON text (:mod:`stellar_arrow.tables.details_reference`); the tests hold them to it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

from stellar_arrow.tables.details_reference import (
    BY_NAME,
    INT_KINDS,
    schema_renderers,
    union_arms,
    union_labels,
)
from stellar_arrow.xdr.definitions import Definition, TypeExpr, snake_case

__all__ = ["COMPILED_SPECIAL", "DetailsGenerator", "details_pyx"]


#: The compiled counterparts of ``BY_NAME`` (``tables/_details_special.pxi``; they hand anything but the
#: well-formed common case back to the Python function).
COMPILED_SPECIAL: dict[str, str] = {
    "AccountID": "sp_account",
    "PublicKey": "sp_account",
    "NodeID": "sp_account",
    "MuxedAccount": "sp_muxed",
    "SCAddress": "sp_sc_address",
    "Asset": "sp_asset",
    "ChangeTrustAsset": "sp_asset",
    "TrustLineAsset": "sp_asset",
    "AssetCode4": "sp_code",
    "AssetCode12": "sp_code",
    "AssetCode": "sp_asset_code",
    "Int128Parts": "sp_int128",
    "UInt128Parts": "sp_int128",
    "Int256Parts": "sp_int256",
    "UInt256Parts": "sp_int256",
}


class DetailsGenerator:
    """Source code of the same renderers as the reference closures (``SchemaRenderers``): one
    function per struct and union, fields read by position (``v[0]``, ``v[1]``...) into dict displays,
    integers, strings, opaques, enums, optionals and arrays written inline, and an operation body's arm
    chosen by its discriminant. Every value, key order and fallback (``names.get(d, d)``, a void arm's
    label, the special renderers of ``BY_NAME``) is the closures' one, with fewer Python frames per level.

    Python mode (executed once): a union of more than ``IF_ARMS`` arms is a dict of arm functions
    looked up in the caller's expression. Cython mode (``cython=True``): the text of
    ``tables/_details.pyx``, ``cdef`` functions and ``if`` chains, constants installed at import
    from the namespace the generator builds, plus JSON writers (``w_*``) that write orjson's text of a
    struct-bodied operation's rendering directly and give up (``Fallback``) on anything they cannot vouch
    for, the dict and orjson then deciding.
    """

    IF_ARMS = 3

    def __init__(self, cython: bool = False) -> None:
        self.cython = cython
        self.schema = schema_renderers().schema
        self.namespace: dict[str, Any] = {"__builtins__": {"isinstance": isinstance, "dict": dict}}
        self.consts: list[tuple[str, str]] = []  # (name, Cython type)
        self.functions: dict[str, str] = {}  # type name -> function name
        self.unions: dict[str, tuple[str, str]] = {}  # union name -> (dispatch dict, fallback function)
        self.source: list[str] = []
        self.dispatch: list[str] = []  # dicts of case -> arm function name, resolved after ``exec``
        self.writers: dict[str, str] = {}  # type name -> JSON writer function name (Cython mode)
        self.writer_source: list[str] = []
        self.count = 0

    def name(self, prefix: str) -> str:
        self.count += 1
        return f"{prefix}{self.count}"

    def const(self, value: Any, prefix: str, ctype: str = "object") -> str:
        name = self.name(prefix)
        self.namespace[name] = value
        self.consts.append((name, ctype))
        return name

    def item(self, x: str, i: int) -> str:
        """Source of element ``i`` of the model tuple ``x``."""
        return f"item({x}, {i})" if self.cython else f"{x}[{i}]"

    def define(self, head: str, body: list[str]) -> None:
        kind = "cdef object" if self.cython else "def"
        self.source.append(f"{kind} {head}:\n" + "".join(f"    {line}\n" for line in body))

    def expr(self, t: TypeExpr, x: str) -> str:
        """Source of the rendered value of ``x`` (a local name or a subscript, cheap to repeat)."""
        kind = t["kind"]
        if kind == "ref":
            return self.ref(t["name"], x)
        if kind in INT_KINDS or kind == "bool":
            return x
        if kind == "string":
            return f"text({x})" if self.cython else f"{x}.decode('utf-8', 'replace')"
        if kind in ("opaque_fixed", "opaque_var"):
            return f"hex_text({x})" if self.cython else f"{x}.hex()"
        if kind in ("array", "var_array"):
            e = self.name("e")
            return f"[{self.expr(t['element'], e)} for {e} in {x}]"
        if kind == "optional":
            inner = self.expr(t["element"], x)
            return x if inner == x else f"(None if {x} is None else {inner})"
        msg = f"unsupported type expression {t!r}"
        raise ValueError(msg)

    def ref(self, name: str, x: str) -> str:
        special = BY_NAME.get(name)
        if special is not None:
            fallback = self.const(special, "s")
            compiled = COMPILED_SPECIAL.get(name) if self.cython else None
            return f"{fallback}({x})" if compiled is None else f"{compiled}({x}, {fallback})"
        d = self.schema.definitions.get(name)
        if d is None:
            return x
        if d.kind == "typedef":
            return self.expr(d.type, x)
        if d.kind == "enum":
            names = self.const(dict((value, member) for member, value in d.members), "n", "dict")
            return f"{names}.get({x}, {x})"
        if d.kind == "struct":
            return f"{self.function(d)}({x})"
        if d.kind == "union":
            fn = self.function(d)
            if d.name in self.unions:
                table, fallback = self.unions[d.name]
                return f"{table}.get({x}[0], {fallback})({x})"
            return f"{fn}({x})"
        return f"{self.const(schema_renderers().ref(name), 'c')}({x})"  # anything else: the closure itself

    def function(self, d: Definition) -> str:
        known = self.functions.get(d.name)
        if known is not None:
            return known
        fn = self.functions[d.name] = self.name(f"r_{d.name}_")
        if d.kind == "struct":
            items = (
                f"{snake_case(f.name)!r}: {self.expr(f.type, self.item('v', i))}"
                for i, f in enumerate(d.fields)
            )
            self.define(f"{fn}(v)", ["return {" + ", ".join(items) + "}"])
        else:
            self.union(d, fn)
        return fn

    def union(self, d: Definition, fn: str) -> None:
        names = union_labels(self.schema, d)
        arms = union_arms(d)
        valued = {case: (a, t) for case, (a, t) in arms.items() if a is not None and t is not None}
        n = self.const(names, "n", "dict") if names else ""
        fallback = f"{n}.get(d, d)" if names else "d"

        def arm_value(case: int, arm_name: str, t: TypeExpr) -> str:
            label = repr(names[case]) if case in names else self.item("v", 0)
            return f"{{'type': {label}, {arm_name!r}: {self.expr(t, self.item('v', 1))}}}"

        if self.cython or len(valued) <= self.IF_ARMS:
            body = [f"d = {self.item('v', 0)}"]
            for case, (arm_name, t) in valued.items():
                body += [f"if d == {case!r}:", f"    return {arm_value(case, arm_name, t)}"]
            self.define(f"{fn}(v)", [*body, f"return {fallback}"])
            return
        table = self.const({}, "t")
        other = self.name(f"{fn}_other")
        self.unions[d.name] = (table, other)
        self.dispatch.append(table)
        self.define(f"{other}(v)", ["d = v[0]", f"return {fallback}"])
        self.define(f"{fn}(v)", [f"return {table}.get(v[0], {other})(v)"])
        for case, (arm_name, t) in valued.items():
            arm_fn = self.name(f"{fn}_")
            self.namespace[table][case] = arm_fn
            self.define(f"{arm_fn}(v)", [f"return {arm_value(case, arm_name, t)}"])

    def operation_bodies(self) -> dict[int, str]:
        """One function per operation type with parameters: ``{type: function name}``."""
        body = self.schema.definitions["OperationBody"]
        arms = union_arms(body)
        table: dict[int, str] = {}
        for case, (arm_name, t) in arms.items():
            if arm_name is None or t is None:
                continue
            fn = table[case] = self.name("op_")
            self.define(
                f"{fn}(v)",
                [f"r = {self.expr(t, 'v')}", f"return r if isinstance(r, dict) else {{{arm_name!r}: r}}"],
            )
        return table

    def python(self) -> Callable[[Any], dict[str, Any]]:
        """``operation_details`` as Python functions (``exec`` of the generated source)."""
        table = self.operation_bodies()
        code = "".join(self.source)
        exec(compile(code, "<stellar_arrow.tables.details generated>", "exec"), self.namespace)
        ns = self.namespace
        for name in self.dispatch:  # function names -> the functions (the dicts are updated in place)
            ns[name].update({case: ns[fn] for case, fn in ns[name].items()})
        ops = {case: ns[fn] for case, fn in table.items()}

        def details(body: Any) -> dict[str, Any]:
            render = ops.get(body[0])
            return {} if render is None else render(body[1])

        return details

    # -- Cython mode: JSON writers (the text orjson gives for the rendered value, without the dict) ------

    def wexpr(self, t: TypeExpr, x: str) -> list[str]:
        """Statements writing the JSON of the rendered value of the local ``x``."""
        kind = t["kind"]
        if kind == "ref":
            return self.wref(t["name"], x)
        if kind in INT_KINDS:
            return [f"w_int(b, {x})"]
        if kind == "bool":
            return [f"w_any(b, {x})"]
        if kind == "string":
            return [f"w_text(b, {x})"]
        if kind in ("opaque_fixed", "opaque_var"):
            return [f"w_hex(b, {x})"]
        if kind in ("array", "var_array"):
            e = self.name("e")
            inner = [f"    {line}" for line in self.wexpr(t["element"], e)]
            loop = [f"for {e} in {x}:", *inner, "    w_raw(b, b',', 1)"]
            return ["w_raw(b, b'[', 1)", *loop, "w_close(b, 93)"]
        if kind == "optional":
            inner = [f"    {line}" for line in self.wexpr(t["element"], x)]
            return [f"if {x} is None:", "    w_raw(b, b'null', 4)", "else:", *inner]
        msg = f"unsupported type expression {t!r}"
        raise ValueError(msg)

    def wref(self, name: str, x: str) -> list[str]:
        special = BY_NAME.get(name)
        if special is not None:
            fallback = self.const(special, "s")
            compiled = COMPILED_SPECIAL.get(name)
            call = f"{fallback}({x})" if compiled is None else f"{compiled}({x}, {fallback})"
            return [f"w_any(b, {call})"]
        d = self.schema.definitions.get(name)
        if d is None:
            return [f"w_any(b, {x})"]
        if d.kind == "typedef":
            return self.wexpr(d.type, x)
        if d.kind == "enum":
            names = self.const(dict((value, member) for member, value in d.members), "n", "dict")
            return [f"w_any(b, {names}.get({x}, {x}))"]
        if d.kind in ("struct", "union"):
            return [f"{self.writer(d)}(b, {x}, depth + 1)"]
        return [f"w_any(b, {self.const(schema_renderers().ref(name), 'c')}({x}))"]

    def writer(self, d: Definition) -> str:
        known = self.writers.get(d.name)
        if known is not None:
            return known
        fn = self.writers[d.name] = self.name(f"w_{d.name}_")
        body = ["if depth > MAX_WRITE_DEPTH:", "    raise Fallback()"]
        if d.kind == "struct":
            keys = [snake_case(f.name) for f in d.fields]
            if len(set(keys)) != len(keys):
                msg = f"{d.name}: two fields with one JSON key"
                raise ValueError(msg)
            for i, (key, f) in enumerate(zip(keys, d.fields, strict=True)):
                x = self.name("x")
                body += [_raw(("{" if i == 0 else ",") + _json_key(key) + ":"), f"{x} = {self.item('v', i)}"]
                body += self.wexpr(f.type, x)
            body.append(_raw("}") if d.fields else _raw("{}"))
        else:
            body += self.wunion(d)
        self.writer_source.append(
            f"cdef int {fn}(Buf* b, object v, int depth) except -1:\n"
            + "".join(f"    {line}\n" for line in [*body, "return 0"])
        )
        return fn

    def wunion(self, d: Definition) -> list[str]:
        names = union_labels(self.schema, d)
        arms = union_arms(d)
        body = ["d = item(v, 0)"]
        for case, (arm_name, t) in arms.items():
            if arm_name is None or t is None:
                continue
            x = self.name("x")
            if case in names:
                label = [_raw('{"type":' + _json_key(names[case]) + "," + _json_key(arm_name) + ":")]
            else:
                label = [_raw('{"type":'), "w_any(b, d)", _raw("," + _json_key(arm_name) + ":")]
            inner = [*label, f"{x} = item(v, 1)", *self.wexpr(t, x), _raw("}"), "return 0"]
            body += [f"if d == {case!r}:", *(f"    {line}" for line in inner)]
        fallback = f"{self.const(names, 'n', 'dict')}.get(d, d)" if names else "d"
        return [*body, f"w_any(b, {fallback})"]

    def struct_arm(self, t: TypeExpr) -> Definition | None:
        """The struct an operation body's arm renders as (a dict), if it is one."""
        while t["kind"] == "ref" and t["name"] not in BY_NAME:
            d = self.schema.definitions.get(t["name"])
            if d is None:
                return None
            if d.kind == "struct":
                return d
            if d.kind != "typedef":
                return None
            t = d.type
        return None

    def write_details(self) -> list[str]:
        """``write_details(body)``: the JSON text of a body whose arm is a struct, ``{}`` for a void or
        unknown one, None for any other arm (rendered as a dict instead)."""
        body = self.schema.definitions["OperationBody"]
        arms = union_arms(body)
        lines = ["cdef object write_details(body):", "    cdef Buf b", "    b.p = NULL"]
        lines += ["    b.n = b.cap = 0", "    try:", "        d = item(body, 0)"]
        for case, (arm_name, t) in arms.items():
            if arm_name is None or t is None:
                continue
            struct = self.struct_arm(t)
            lines.append(f"        if d == {case!r}:")
            if struct is None:
                lines.append("            return None")
            else:
                write = f"            {self.writer(struct)}(&b, item(body, 1), 0)"
                lines += [write, "            return buf_text(&b)"]
        lines += ["        return '{}'", "    finally:", "        PyMem_Free(b.p)"]
        return lines

    def pyx(self) -> str:
        """The text of ``tables/_details.pyx`` (Cython mode)."""
        table = self.operation_bodies()
        body = ["d = item(body, 0)"]
        for case, fn in table.items():
            body += [f"if d == {case!r}:", f"    return {fn}(item(body, 1))"]
        details = ["cdef object details(body):", *(f"    {line}" for line in body), "    return {}"]
        write = self.write_details()
        head = [f"cdef {ctype} {name}" for name, ctype in self.consts]
        install = ["def install(dict ns):", "    global " + ", ".join(n for n, _ in self.consts)]
        install += [f"    {name} = ns[{name!r}]" for name, _ in self.consts]
        parts = [*head, "", *install, "", "", *self.source, "", *details, "", "", *self.writer_source, *write]
        code = "\n".join([*parts, _PYX_FOOTER]) + "\n"
        digest = hashlib.sha256(code.encode()).hexdigest()
        return _PYX_HEADER + f"SOURCE_SHA256 = {digest!r}\n\n" + code


_PYX_HEADER = '''# cython: language_level=3, binding=False, embedsignature=False
# Generated by tools/gen_details.py (the Cython mode of tables/details_codegen.py): do not edit.
"""Compiled operation ``details`` renderers: the generated code of ``tables/details_codegen.py`` as C
functions, and JSON writers giving orjson's text of the rendered dict without building it.

``install(namespace)`` binds the constants (enum names, special renderers) the Python side builds;
``SOURCE_SHA256`` is the digest of the code below it, which ``details.py`` checks against the
generator before using this module.
"""

import orjson

include "_details_special.pxi"

'''

_PYX_FOOTER = '''

def operation_details(body):
    """``details.operation_details``."""
    return details(body)


def operation_details_json(body):
    """``details.operation_details_json``: written directly when the writers vouch for the text, else
    the dict rendered and serialised by orjson (its exact result or error)."""
    try:
        text = write_details(body)
    except Exception:
        text = None
    if text is None:
        return orjson.dumps(details(body)).decode("utf-8")
    return text'''


def _json_key(key: str) -> str:
    """A JSON string of a schema name (ASCII letters, digits and underscores: nothing to escape)."""
    if not (key.isascii() and key.replace("_", "a").isalnum()):
        msg = f"unexpected schema name {key!r}"
        raise ValueError(msg)
    return f'"{key}"'


def _raw(text: str) -> str:
    """The statement writing ``text`` as is."""
    return f"w_raw(b, {text.encode()!r}, {len(text.encode())})"


def details_pyx() -> str:
    """The text of ``tables/_details.pyx`` (``tools/gen_details.py`` writes it)."""
    return DetailsGenerator(cython=True).pyx()
