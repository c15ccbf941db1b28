# The special renderers of ``tables/details.py`` (``_BY_NAME``) for the compiled ``_details``: included by the
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
