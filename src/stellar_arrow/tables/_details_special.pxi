# The special renderers of ``tables/details_reference.py`` (``BY_NAME``) for the compiled ``_details``: included by the
# generated ``_details.pyx``. Each one renders the well-formed value the way its Python function does
# (StrKeys from the shared ``xdr._strkey`` encoder, which the Python functions use too) and hands anything
# else (another arm, a value of an unexpected type or size) to that Python function, ``fallback``, so that
# every other value and every error is the Python one.

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.tuple cimport PyTuple_GET_SIZE

from stellar_arrow.xdr._strkey cimport VERSION_CONTRACT, account_strkey_c, muxed_strkey_c, strkey_encode


cdef inline bint is_key(object k):
    return type(k) is bytes and PyBytes_GET_SIZE(k) == 32


cdef inline const unsigned char* key_bytes(object k):
    return <const unsigned char*>PyBytes_AS_STRING(k)


cdef inline bint is_pair(object v):
    """A model tuple with at least two elements (a union, or a struct's first two fields)."""
    return isinstance(v, tuple) and PyTuple_GET_SIZE(v) >= 2


cdef dict G_ADDRESSES = {}  # ed25519 key -> G-address: the same few thousand accounts recur in every ledger


cdef object g_address(object k):
    """``account_strkey_c`` of a 32-byte key, memoised (emptied when it reaches 65,536 keys)."""
    cdef object text = G_ADDRESSES.get(k)
    if text is None:
        if len(G_ADDRESSES) >= 65536:
            G_ADDRESSES.clear()
        text = G_ADDRESSES[k] = account_strkey_c(key_bytes(k))
    return text


cdef inline object ed25519_key(object v):
    """The key of an ed25519 ``PublicKey`` (``v.ed25519``) when it is 32 bytes, else None."""
    cdef object k
    if is_pair(v) and (<tuple>v)[0] == 0:
        k = (<tuple>v)[1]
        if is_key(k):
            return k
    return None


cdef object sp_account(object v, object fallback):
    """``AccountID``, ``PublicKey``, ``NodeID``: the G-address."""
    k = ed25519_key(v)
    if k is not None:
        return g_address(k)
    return fallback(v)


cdef object sp_muxed(object v, object fallback):
    """``MuxedAccount``: the G-address, or the M-address of a muxed one."""
    cdef object t, k, med, muxed_id
    if is_pair(v):
        t = (<tuple>v)[0]
        if t == 0:
            k = (<tuple>v)[1]
            if is_key(k):
                return g_address(k)
        elif t == 0x100:
            med = (<tuple>v)[1]
            if is_pair(med):
                muxed_id = (<tuple>med)[0]
                k = (<tuple>med)[1]
                if type(muxed_id) is int and 0 <= muxed_id <= 0xFFFFFFFFFFFFFFFF and is_key(k):
                    return muxed_strkey_c(key_bytes(k), <unsigned long long>muxed_id)
    return fallback(v)


cdef object sp_sc_address(object v, object fallback):
    """``SCAddress``: the G-address of an account, the C-address of a contract (others: ``fallback``)."""
    cdef object kind, k
    if is_pair(v):
        kind = (<tuple>v)[0]
        if kind == 0:
            k = ed25519_key((<tuple>v)[1])
            if k is not None:
                return g_address(k)
        elif kind == 1:
            k = (<tuple>v)[1]
            if is_key(k):
                return strkey_encode(VERSION_CONTRACT, key_bytes(k), 32)
    return fallback(v)


cdef object sp_asset(object v, object fallback):
    """``Asset``, ``ChangeTrustAsset``, ``TrustLineAsset``: ``native`` or ``CODE:ISSUER`` (pools: ``fallback``)."""
    cdef object kind, a, code, k
    if isinstance(v, tuple) and PyTuple_GET_SIZE(v) >= 1:
        kind = (<tuple>v)[0]
        if kind == 0:
            return "native"
        if (kind == 1 or kind == 2) and PyTuple_GET_SIZE(v) >= 2:
            a = (<tuple>v)[1]
            if is_pair(a):
                code = (<tuple>a)[0]
                k = ed25519_key((<tuple>a)[1])
                if type(code) is bytes and k is not None:
                    return code.rstrip(b"\x00").decode("ascii", "replace") + ":" + g_address(k)
    return fallback(v)


cdef object sp_code(object v, object fallback):
    """``AssetCode4``, ``AssetCode12``: the code without its padding."""
    if type(v) is bytes:
        return v.rstrip(b"\x00").decode("ascii", "replace")
    return fallback(v)


cdef object sp_asset_code(object v, object fallback):
    """``AssetCode``: the code of either arm without its padding."""
    cdef object code
    if is_pair(v):
        code = (<tuple>v)[1]
        if type(code) is bytes:
            return code.rstrip(b"\x00").decode("ascii", "replace")
    return fallback(v)


cdef object sp_int128(object v, object fallback):
    """``Int128Parts``, ``UInt128Parts`` (fields ``hi``, ``lo``): the decimal string."""
    if is_pair(v):
        return str(((<tuple>v)[0] << 64) | (<tuple>v)[1])
    return fallback(v)


cdef object sp_int256(object v, object fallback):
    """``Int256Parts``, ``UInt256Parts`` (``hi_hi``, ``hi_lo``, ``lo_hi``, ``lo_lo``): the decimal string."""
    cdef tuple t
    if isinstance(v, tuple) and PyTuple_GET_SIZE(v) >= 4:
        t = <tuple>v
        return str((t[0] << 192) | (t[1] << 128) | (t[2] << 64) | t[3])
    return fallback(v)


cdef extern from *:
    """
    /* Element i of a model tuple: the tuple's own item when its class keeps tuple's item access (not a
       class whose lazy fields override __getitem__) and i is in range; else ``v[i]`` by the generic
       protocol, with its errors. */
    static PyObject* dt_item(PyObject* v, Py_ssize_t i) {
        PyMappingMethods* m = Py_TYPE(v)->tp_as_mapping;
        if (PyTuple_Check(v) && m != NULL && m->mp_subscript == PyTuple_Type.tp_as_mapping->mp_subscript
                && i < PyTuple_GET_SIZE(v)) {
            PyObject* item = PyTuple_GET_ITEM(v, i);
            Py_INCREF(item);
            return item;
        }
        PyObject* key = PyLong_FromSsize_t(i);
        if (key == NULL) return NULL;
        PyObject* item = PyObject_GetItem(v, key);
        Py_DECREF(key);
        return item;
    }

    /* ``b.hex()`` of a bytes object. */
    static PyObject* dt_hex(PyObject* b) {
        static const char digits[] = "0123456789abcdef";
        Py_ssize_t n = PyBytes_GET_SIZE(b), i;
        const unsigned char* p = (const unsigned char*)PyBytes_AS_STRING(b);
        PyObject* s = PyUnicode_New(2 * n, 127);
        if (s == NULL) return NULL;
        Py_UCS1* out = PyUnicode_1BYTE_DATA(s);
        for (i = 0; i < n; i++) {
            out[2 * i] = digits[p[i] >> 4];
            out[2 * i + 1] = digits[p[i] & 15];
        }
        return s;
    }
    """
    object item "dt_item"(object v, Py_ssize_t i)
    object dt_hex(object b)


cdef extern from "Python.h":
    object PyUnicode_DecodeUTF8(const char* s, Py_ssize_t size, const char* errors)
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL


cdef inline object text(object b):
    """``b.decode("utf-8", "replace")``."""
    if type(b) is bytes:
        return PyUnicode_DecodeUTF8(PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b), "replace")
    return b.decode("utf-8", "replace")


cdef inline object hex_text(object b):
    """``b.hex()``."""
    if type(b) is bytes:
        return dt_hex(b)
    return b.hex()


# ---------------------------------------------------------------------------------------------------
# The JSON writer: the generated ``w_*`` functions write a body's ``details`` as the JSON text orjson gives
# for the rendered dict, without building the dict. Anything they do not reproduce for sure (a value of
# another type, an integer beyond 64 bits, deep nesting, an error) raises ``Fallback`` (or the error), and
# ``operation_details_json`` then renders the dict and serialises it with orjson, the exact result or error.

from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.long cimport PyLong_AsLongLongAndOverflow
from libc.stdio cimport snprintf
from libc.string cimport memcpy


class Fallback(Exception):
    """The JSON writer cannot vouch for this value: render the dict instead."""


cdef int MAX_WRITE_DEPTH = 48  # nested struct/union writers; JSON nesting stays far below orjson's 255


cdef struct Buf:
    char* p
    Py_ssize_t n
    Py_ssize_t cap


cdef int grow(Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t cap = b.cap * 2 if b.cap else 1024
    cdef char* p
    while cap < b.n + extra:
        cap *= 2
    p = <char*>PyMem_Realloc(b.p, cap)
    if p == NULL:
        raise MemoryError()
    b.p = p
    b.cap = cap
    return 0


cdef inline int w_raw(Buf* b, const char* s, Py_ssize_t n) except -1:
    if b.n + n > b.cap:
        grow(b, n)
    memcpy(b.p + b.n, s, n)
    b.n += n
    return 0


cdef inline int w_close(Buf* b, char c) except -1:
    """Close an array or object: the ``,`` after its last element becomes ``c``."""
    if b.n > 0 and b.p[b.n - 1] == 44:
        b.p[b.n - 1] = c
        return 0
    return w_raw(b, &c, 1)


cdef int w_int(Buf* b, object x) except -1:
    cdef int overflow = 0
    cdef long long v
    cdef char text[24]
    cdef int n
    if type(x) is not int:
        return w_any(b, x)
    v = PyLong_AsLongLongAndOverflow(x, &overflow)
    if overflow == 0:
        n = snprintf(text, 24, "%lld", v)
    elif overflow > 0 and x <= 0xFFFFFFFFFFFFFFFF:
        n = snprintf(text, 24, "%llu", <unsigned long long>x)
    else:
        raise Fallback()  # orjson's "Integer exceeds 64-bit range"
    return w_raw(b, text, n)


cdef const char* ESCAPE_HEX = b"0123456789abcdef"
cdef const char* SHORT_ESCAPES = b"btn?fr"  # for bytes 8-13 (11 is written as \u000b)


cdef int w_str(Buf* b, object s) except -1:
    """A JSON string as orjson writes it: ``"`` ``\\`` and control characters escaped, the rest UTF-8."""
    cdef Py_ssize_t n, i
    cdef const unsigned char* p
    cdef unsigned char c
    cdef char* out
    if type(s) is not str:
        return w_any(b, s)
    p = <const unsigned char*>PyUnicode_AsUTF8AndSize(s, &n)  # an error (surrogates): the dict path
    if b.n + 6 * n + 2 > b.cap:
        grow(b, 6 * n + 2)
    out = b.p + b.n
    out[0] = 34
    out += 1
    for i in range(n):
        c = p[i]
        if c >= 0x20 and c != 34 and c != 92:
            out[0] = c
            out += 1
        elif c == 34 or c == 92:
            out[0] = 92
            out[1] = c
            out += 2
        elif c == 8 or c == 9 or c == 10 or c == 12 or c == 13:
            out[0] = 92
            out[1] = SHORT_ESCAPES[c - 8]
            out += 2
        else:
            out[0] = 92
            out[1] = 117  # u
            out[2] = 48
            out[3] = 48
            out[4] = ESCAPE_HEX[c >> 4]
            out[5] = ESCAPE_HEX[c & 15]
            out += 6
    out[0] = 34
    b.n = out + 1 - b.p
    return 0


cdef int w_hex(Buf* b, object x) except -1:
    cdef Py_ssize_t n, i
    cdef const unsigned char* p
    cdef char* out
    if type(x) is not bytes:
        raise Fallback()
    n = PyBytes_GET_SIZE(x)
    p = <const unsigned char*>PyBytes_AS_STRING(x)
    if b.n + 2 * n + 2 > b.cap:
        grow(b, 2 * n + 2)
    out = b.p + b.n
    out[0] = 34
    for i in range(n):
        out[1 + 2 * i] = ESCAPE_HEX[p[i] >> 4]
        out[2 + 2 * i] = ESCAPE_HEX[p[i] & 15]
    out[2 * n + 1] = 34
    b.n += 2 * n + 2
    return 0


cdef int w_any(Buf* b, object x) except -1:
    """A label, an enum name, a special renderer's text, a bool, null; anything else: ``Fallback``."""
    if x is None:
        return w_raw(b, "null", 4)
    if x is True:
        return w_raw(b, "true", 4)
    if x is False:
        return w_raw(b, "false", 5)
    if type(x) is str:
        return w_str(b, x)
    if type(x) is int:
        return w_int(b, x)
    raise Fallback()


cdef inline int w_text(Buf* b, object x) except -1:
    """An XDR ``string``, decoded as ``text`` decodes it."""
    return w_str(b, text(x))


cdef object buf_text(Buf* b):
    return PyUnicode_DecodeUTF8(b.p, b.n, NULL)
