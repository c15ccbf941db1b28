"""Operation ``details``: the operation body rendered as JSON, driven by the XDR schema.

Every operation type is covered the same way: struct fields by their snake_case names, unions as
``{"type": <discriminant name>, <arm>: value}`` (a void arm is just the discriminant name),
enums by member name, and domain values the way explorers show them:

* accounts (``AccountID``, ``MuxedAccount``) and ``SCAddress`` as strkeys (G/M/C/B/L);
* assets as ``"native"``, ``"CODE:ISSUER"`` (SEP-11) or ``"pool:<hex id>"``;
* amounts and other integers as exact JSON integers; 128/256-bit integers as decimal strings;
* strings (``string<>``, ``SCSymbol``...) as text, asset codes without padding, other opaque bytes as hex.

The schema's renderers are composed as closures (``_Compiler``: the reference) and generated as source
code (``_Generator``): Python executed once, and the same code in Cython, ``tables/_details.pyx``
(written by ``tools/gen_details.py``, used when built). The three give the same JSON text; the tests
hold them to it on every corpus ledger and sample lake.

Pure: decoded values in, JSON text out.
"""

from __future__ import annotations

import hashlib
import importlib
from collections.abc import Callable
from functools import cache
from types import ModuleType
from typing import Any

import orjson

from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.definitions import Definition, TypeExpr, load_schema, snake_case
from stellar_arrow.xdr.strkey import (
    account_strkey,
    claimable_balance_strkey,
    muxed_strkey,
    sc_address_strkey,
)

__all__ = [
    "asset_string",
    "compiled_details_module",
    "details_json_function",
    "details_pyx",
    "muxed_account_columns",
    "muxed_account_strkey",
    "operation_details",
    "operation_details_json",
    "operation_details_json_reference",
    "operation_details_reference",
    "python_details",
]

Render = Callable[[Any], Any]

_INT_KINDS = frozenset({"int", "unsigned_int", "hyper", "unsigned_hyper"})
_MASK64 = (1 << 64) - 1


def muxed_account_strkey(account: X.MuxedAccount) -> str:
    """G-address of an ed25519 account, or M-address of a muxed one."""
    if account.type == X.CryptoKeyType.KEY_TYPE_ED25519:
        return account_strkey(account.ed25519)
    med = account.value
    return muxed_strkey(med.ed25519, med.id)


def muxed_account_columns(account: X.MuxedAccount) -> tuple[str, str | None]:
    """``(G-address, M-address or None)`` of a ``MuxedAccount``: the account and, if muxed, its M form."""
    if account.type == X.CryptoKeyType.KEY_TYPE_ED25519:
        return account_strkey(account.ed25519), None
    med = account.value
    return account_strkey(med.ed25519), muxed_strkey(med.ed25519, med.id)


def _asset_code(code: bytes) -> str:
    return code.rstrip(b"\x00").decode("ascii", errors="replace")


def asset_string(asset: Any) -> str:
    """``native``, ``CODE:ISSUER`` or ``pool:...`` of an ``Asset``/``ChangeTrustAsset``/``TrustLineAsset``."""
    kind = asset[0]
    if kind == X.AssetType.ASSET_TYPE_NATIVE:
        return "native"
    if kind in (X.AssetType.ASSET_TYPE_CREDIT_ALPHANUM4, X.AssetType.ASSET_TYPE_CREDIT_ALPHANUM12):
        value = asset[1]
        return f"{_asset_code(value.asset_code)}:{account_strkey(value.issuer.ed25519)}"
    pool = asset[1]
    if isinstance(pool, bytes):  # TrustLineAsset: the pool id
        return f"pool:{pool.hex()}"
    return f"pool:{_liquidity_pool_params(pool)}"  # ChangeTrustAsset: the pool parameters


def _liquidity_pool_params(params: Any) -> str:
    cp = params.value
    return f"{asset_string(cp.asset_a)}/{asset_string(cp.asset_b)}/{cp.fee}"


def _int128(parts: Any) -> str:
    return str((parts.hi << 64) | parts.lo)


def _int256(parts: Any) -> str:
    return str((parts.hi_hi << 192) | (parts.hi_lo << 128) | (parts.lo_hi << 64) | parts.lo_lo)


_BY_NAME: dict[str, Render] = {
    "AccountID": lambda v: account_strkey(v.ed25519),
    "PublicKey": lambda v: account_strkey(v.ed25519),
    "NodeID": lambda v: account_strkey(v.ed25519),
    "MuxedAccount": muxed_account_strkey,
    "SCAddress": sc_address_strkey,
    "Asset": asset_string,
    "ChangeTrustAsset": asset_string,
    "TrustLineAsset": asset_string,
    "AssetCode4": _asset_code,
    "AssetCode12": _asset_code,
    "AssetCode": lambda v: _asset_code(v[1]),
    "ClaimableBalanceID": lambda v: claimable_balance_strkey(v.value),
    "Int128Parts": _int128,
    "UInt128Parts": _int128,
    "Int256Parts": _int256,
    "UInt256Parts": _int256,
}


class _Compiler:
    """Builds one render function per type expression (memoised, recursion-safe)."""

    def __init__(self) -> None:
        self.schema = load_schema()
        self.by_ref: dict[str, Render] = {}

    def type_expr(self, t: TypeExpr) -> Render:
        kind = t["kind"]
        if kind == "ref":
            return self.ref(t["name"])
        if kind in _INT_KINDS or kind == "bool":
            return _identity
        if kind == "string":
            return _text
        if kind in ("opaque_fixed", "opaque_var"):
            return _hex
        if kind in ("array", "var_array"):
            element = self.type_expr(t["element"])
            return lambda v: [element(e) for e in v]
        if kind == "optional":
            element = self.type_expr(t["element"])
            return lambda v: None if v is None else element(v)
        msg = f"unsupported type expression {t!r}"
        raise ValueError(msg)

    def ref(self, name: str) -> Render:
        render = self.by_ref.get(name)
        if render is not None:
            return render
        special = _BY_NAME.get(name)
        if special is not None:
            self.by_ref[name] = special
            return special
        slot: list[Render] = []
        self.by_ref[name] = lambda v: slot[0](v)  # resolved lazily: the type refers to itself
        d = self.schema.definitions.get(name)
        built = _identity if d is None else self.definition(d)
        slot.append(built)
        self.by_ref[name] = built
        return built

    def definition(self, d: Definition) -> Render:
        if d.kind == "typedef":
            return self.type_expr(d.type)
        if d.kind == "enum":
            names = dict((value, member) for member, value in d.members)
            return lambda v: names.get(v, v)
        if d.kind == "struct":
            fields = [(snake_case(f.name), self.type_expr(f.type)) for f in d.fields]
            return lambda v: {name: render(value) for (name, render), value in zip(fields, v, strict=False)}
        return self.union(d)

    def union(self, d: Definition) -> Render:
        disc = self.schema.resolve(d.discriminant_type)
        names: dict[int, str] = {}
        if disc["kind"] == "ref" and disc["name"] in self.schema.definitions:
            enum = self.schema.definitions[disc["name"]]
            names = {value: member for member, value in enum.members}
        arms: dict[int, tuple[str | None, Render | None]] = {}
        for arm in d.arms:
            render = None if arm.type is None else self.type_expr(arm.type)
            arm_name = None if arm.name is None else snake_case(arm.name)
            for case in arm.cases:
                arms[case] = (arm_name, render)

        def render_union(v: Any) -> Any:
            label = names.get(v[0], v[0])
            arm_name, render = arms.get(v[0], (None, None))
            if render is None or arm_name is None:
                return label
            return {"type": label, arm_name: render(v[1])}

        return render_union


def _identity(v: Any) -> Any:
    return v


def _text(v: bytes) -> str:
    return v.decode("utf-8", errors="replace")


def _hex(v: bytes) -> str:
    return v.hex()


@cache
def _compiler() -> _Compiler:
    return _Compiler()


#: The compiled counterparts of ``_BY_NAME`` (``tables/_details_special.pxi``; they hand anything but the
#: well-formed common case back to the Python function).
_COMPILED_SPECIAL: dict[str, str] = {
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


class _Generator:
    """Source code of the same renderers as :class:`_Compiler`'s closures: one function per struct and
    union, fields read by position (``v[0]``, ``v[1]``...) into dict displays, integers, strings,
    opaques, enums, optionals and arrays written inline, and an operation body's arm chosen by its
    discriminant. Every value, key order and fallback (``names.get(d, d)``, a void arm's label, the
    special renderers of ``_BY_NAME``) is the closures' one, with fewer Python frames per level.

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
        self.schema = _compiler().schema
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
        if kind in _INT_KINDS or kind == "bool":
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
        special = _BY_NAME.get(name)
        if special is not None:
            fallback = self.const(special, "s")
            compiled = _COMPILED_SPECIAL.get(name) if self.cython else None
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
        return f"{self.const(_compiler().ref(name), 'c')}({x})"  # anything else: the closure itself

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
        disc = self.schema.resolve(d.discriminant_type)
        names: dict[int, str] = {}
        if disc["kind"] == "ref" and disc["name"] in self.schema.definitions:
            enum = self.schema.definitions[disc["name"]]
            names = {value: member for member, value in enum.members}
        arms: dict[int, tuple[str | None, TypeExpr | None]] = {}
        for arm in d.arms:
            arm_name = None if arm.name is None else snake_case(arm.name)
            for case in arm.cases:
                arms[case] = (arm_name, arm.type)
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
        arms: dict[int, tuple[str | None, TypeExpr | None]] = {}
        for arm in body.arms:
            for case in arm.cases:
                arms[case] = (None if arm.name is None else snake_case(arm.name), arm.type)
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
        if kind in _INT_KINDS:
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
        special = _BY_NAME.get(name)
        if special is not None:
            fallback = self.const(special, "s")
            compiled = _COMPILED_SPECIAL.get(name)
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
        return [f"w_any(b, {self.const(_compiler().ref(name), 'c')}({x}))"]

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
        disc = self.schema.resolve(d.discriminant_type)
        names: dict[int, str] = {}
        if disc["kind"] == "ref" and disc["name"] in self.schema.definitions:
            enum = self.schema.definitions[disc["name"]]
            names = {value: member for member, value in enum.members}
        arms: dict[int, tuple[str | None, TypeExpr | None]] = {}
        for arm in d.arms:
            arm_name = None if arm.name is None else snake_case(arm.name)
            for case in arm.cases:
                arms[case] = (arm_name, arm.type)
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
        while t["kind"] == "ref" and t["name"] not in _BY_NAME:
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
        arms: dict[int, tuple[str | None, TypeExpr | None]] = {}
        for arm in body.arms:
            for case in arm.cases:
                arms[case] = (None if arm.name is None else snake_case(arm.name), arm.type)
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
# Generated by tools/gen_details.py (the Cython mode of tables/details.py's generator): do not edit.
"""Compiled operation ``details`` renderers: the generated code of ``tables/details.py`` as C functions,
and JSON writers giving orjson's text of the rendered dict without building it.

``install(namespace)`` binds the constants (enum names, special renderers) the Python side builds;
``SOURCE_SHA256`` is the digest of the code below it, which ``details.py`` checks against its own
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


@cache
def _body_arms() -> dict[int, tuple[str | None, Render | None]]:
    compiler = _compiler()
    d = compiler.schema.definitions["OperationBody"]
    arms: dict[int, tuple[str | None, Render | None]] = {}
    for arm in d.arms:
        render = None if arm.type is None else compiler.type_expr(arm.type)
        for case in arm.cases:
            arms[case] = (None if arm.name is None else snake_case(arm.name), render)
    return arms


def operation_details_reference(body: X.OperationBody) -> dict[str, Any]:
    """:func:`operation_details` by the schema's closures: the reference of the generated code."""
    arm_name, render = _body_arms().get(body.type, (None, None))
    if render is None or arm_name is None:
        return {}
    value = render(body.value)
    if isinstance(value, dict):
        return value
    return {arm_name: value}


def details_pyx() -> str:
    """The text of ``tables/_details.pyx`` (``tools/gen_details.py`` writes it)."""
    return _Generator(cython=True).pyx()


@cache
def compiled_details_module() -> ModuleType | None:
    """The compiled renderers (``tables/_details.pyx``) when built and generated from this schema and
    generator (else None: the generated Python code is used)."""
    try:
        module = importlib.import_module("stellar_arrow.tables._details")
    except ImportError:
        return None
    generator = _Generator(cython=True)
    text = generator.pyx()
    if f"SOURCE_SHA256 = {module.SOURCE_SHA256!r}\n" not in text:
        return None
    module.install(generator.namespace)
    return module


@cache
def _generated_details() -> Callable[[Any], dict[str, Any]]:
    module = compiled_details_module()
    if module is not None:
        render: Callable[[Any], dict[str, Any]] = module.operation_details
        return render
    return python_details()


@cache
def details_json_function(compiled: bool = True) -> Callable[[Any], str]:
    """:func:`operation_details_json` itself: the compiled renderer when built (and ``compiled``), else
    the generated Python one."""
    module = compiled_details_module() if compiled else None
    if module is not None:
        render: Callable[[Any], str] = module.operation_details_json
        return render
    details = python_details()
    return lambda body: orjson.dumps(details(body)).decode("utf-8")


@cache
def python_details() -> Callable[[Any], dict[str, Any]]:
    """The generated Python renderer (what runs when ``_details`` is not built)."""
    return _Generator().python()


def operation_details(body: X.OperationBody) -> dict[str, Any]:
    """The operation's parameters as a JSON-ready dict (``{}`` for operations without parameters)."""
    return _generated_details()(body)


def operation_details_json(body: X.OperationBody) -> str:
    """:func:`operation_details` serialised as compact JSON text."""
    return details_json_function()(body)


def operation_details_json_reference(body: X.OperationBody) -> str:
    """:func:`operation_details_json` by the reference closures."""
    return orjson.dumps(operation_details_reference(body)).decode("utf-8")
