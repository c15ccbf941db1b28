"""The fixed part of ``_compiled.pyx``: bounds-checked big-endian reads and model-object builders.

Every read goes through ``need`` (the bytes left are checked before anything is read), so hostile
input can only raise. Failures raise what the pure-Python decoder raises, so that
``stellar_arrow.xdr.decoding.run_decoder`` turns them into the same ``XdrDecodeError``:
``failure.BadValue(type_name, offset)`` for a bad discriminant, enum value, flag or length,
``struct.error`` for a read past the end, ``IndexError`` for a bool other than 0/1 and
``RecursionError`` past ``MAX_DEPTH`` nested recursive values (the C stack stays bounded).

Model objects are the classes of ``stellar_arrow.xdr.model`` (tuple subclasses): on CPython before
3.14 an instance is allocated by the class's ``tp_alloc`` and its slots filled in place, as
``tuple.__new__(cls, items)`` does after building a temporary tuple; from 3.14 on (tuples cache
their hash) the class is called with a plain tuple.
"""

from __future__ import annotations

__all__ = ["MAX_DEPTH", "PRELUDE"]

MAX_DEPTH = 500
"""Nested values of recursive types (``SCVal`` in ``SCVec``...) a decode accepts."""

PRELUDE = '''\
# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: binding=False, embedsignature=False
cimport cython
from libc.stdint cimport int32_t, uint32_t, int64_t, uint64_t
from cpython.bytes cimport PyBytes_FromStringAndSize, PyBytes_AS_STRING, PyBytes_GET_SIZE
from cpython.list cimport PyList_New, PyList_SET_ITEM
from cpython.ref cimport Py_INCREF, PyObject
from cpython.long cimport PyLong_FromLong, PyLong_FromUnsignedLong, PyLong_FromLongLong
from cpython.long cimport PyLong_FromUnsignedLongLong

import struct as _struct

from stellar_arrow.xdr import model as _m
from stellar_arrow.xdr.failure import BadValue as _Bad

cdef int MAX_DEPTH = @MAX_DEPTH@

cdef extern from *:
    """
    /* Free lists: freed model values kept by their number of slots (all model classes share the
       tuple's layout) and reused by the next ``sa_alloc`` of that size instead of a malloc/free
       pair, linked through their first slot; at most SA_FREE_BYTES in all. Only where a model
       value is laid out as a tuple and the GIL guards these lists (CPython < 3.14, not free
       threaded). */
    #if PY_VERSION_HEX < 0x030E0000 && !defined(Py_GIL_DISABLED)
    #define SA_FREE_LISTS 1
    #else
    #define SA_FREE_LISTS 0
    #endif
    #define SA_FREE_SIZES 20
    /* Under AddressSanitizer a kept value is poisoned (all but the link in its first slot) until
       reused, so that a use after free stays a finding although the memory is not freed. */
    #if defined(__SANITIZE_ADDRESS__)
    #include <sanitizer/asan_interface.h>
    #define SA_POISON(op, n) sa_poison((op), (n))
    #define SA_UNPOISON(op, n) ASAN_UNPOISON_MEMORY_REGION((op), sa_size(n) - 2 * sizeof(void*))
    static Py_ssize_t sa_size(Py_ssize_t n);
    static void sa_poison(PyObject* op, Py_ssize_t n) {
        ASAN_POISON_MEMORY_REGION(op, sizeof(PyVarObject));
        ASAN_POISON_MEMORY_REGION(((PyTupleObject*)op)->ob_item + 1, (size_t)(n - 1) * sizeof(PyObject*));
    }
    #else
    #define SA_POISON(op, n) ((void)0)
    #define SA_UNPOISON(op, n) ((void)0)
    #endif
    #define SA_FREE_BYTES ((Py_ssize_t)8 << 20)
    static PyObject* sa_free_head[SA_FREE_SIZES];
    static Py_ssize_t sa_free_count[SA_FREE_SIZES];
    static Py_ssize_t sa_free_total;
    static Py_ssize_t sa_size(Py_ssize_t n) {  /* what tp_alloc allocates for n slots: the GC
        header (two words), the tuple header and n + 1 slots */
        Py_ssize_t word = (Py_ssize_t)sizeof(void*);
        return 2 * word + PyTuple_Type.tp_basicsize + (n + 1) * word;
    }
    static PyObject* sa_alloc(PyObject* cls, Py_ssize_t n) {
    #if SA_FREE_LISTS
        if (n > 0 && n < SA_FREE_SIZES && sa_free_head[n] != NULL) {
            PyObject* op = sa_free_head[n];
            SA_UNPOISON(op, n);
            sa_free_head[n] = PyTuple_GET_ITEM(op, 0);
            sa_free_count[n]--;
            sa_free_total -= sa_size(n);
            memset(((PyTupleObject*)op)->ob_item, 0, (size_t)n * sizeof(PyObject*));
            Py_INCREF(cls);  /* held by the value, as tp_alloc does for a heap type */
            Py_SET_TYPE(op, (PyTypeObject*)cls);
        #ifdef Py_REF_DEBUG
            _Py_NewReference(op);
        #else
            Py_SET_REFCNT(op, 1);
        #endif
            PyObject_GC_Track(op);
            return op;
        }
    #endif
    #if PY_VERSION_HEX < 0x030E0000
        PyTypeObject* t = (PyTypeObject*)cls;
        return t->tp_alloc(t, n);
    #else
        (void)cls;
        return PyTuple_New(n);
    #endif
    }
    static int sa_free_push(PyObject* op, Py_ssize_t n) {  /* 1: kept (op is untracked, slots released) */
    #if SA_FREE_LISTS
        if (n > 0 && n < SA_FREE_SIZES && sa_free_total + sa_size(n) <= SA_FREE_BYTES) {
            ((PyTupleObject*)op)->ob_item[0] = sa_free_head[n];
            sa_free_head[n] = op;
            sa_free_count[n]++;
            sa_free_total += sa_size(n);
            SA_POISON(op, n);
            return 1;
        }
    #endif
        (void)op; (void)n;
        return 0;
    }
    static void sa_free_clear(void) {
        for (Py_ssize_t n = 0; n < SA_FREE_SIZES; n++) {
            while (sa_free_head[n] != NULL) {
                PyObject* op = sa_free_head[n];
                SA_UNPOISON(op, n);
                sa_free_head[n] = PyTuple_GET_ITEM(op, 0);
                PyObject_GC_Del(op);
            }
            sa_free_count[n] = 0;
        }
        sa_free_total = 0;
    }
    static Py_ssize_t sa_free_count_of(Py_ssize_t n) { return sa_free_count[n]; }
    static Py_ssize_t sa_free_bytes(void) { return sa_free_total; }
    static void sa_set(PyObject* t, Py_ssize_t i, PyObject* v) {
        Py_INCREF(v);
        PyTuple_SET_ITEM(t, i, v);
    }
    static PyObject* sa_done(PyObject* cls, PyObject* t) {  /* a new reference */
    #if PY_VERSION_HEX < 0x030E0000
        (void)cls;
        Py_INCREF(t);
        return t;
    #else
        return PyObject_CallOneArg(cls, t);
    #endif
    }
    /* Shared values keyed by their wire bytes (at most SA_KEY bytes): a bounded open-addressing
       table per interned union, cleared when half full. A hit returns a borrowed reference. */
    #define SA_KEY 80
    #define SA_SLOT_BITS 12
    #define SA_SLOTS (1 << SA_SLOT_BITS)
    typedef struct { uint64_t h; Py_ssize_t len; unsigned char key[SA_KEY]; PyObject* v; } sa_entry;
    typedef struct { sa_entry* e; Py_ssize_t count; } sa_table;
    /* A key's hash: three of its 8-byte words (first, middle, last; together they cover every
       byte of a key up to 24 bytes, and the differing tail of longer ones: account keys, asset
       codes, symbols), each multiplied by an odd constant; the slot is taken from the top bits,
       which depend on every bit of the words. Equal hashes are still compared byte for byte. */
    static inline uint64_t sa_hash(const unsigned char* p, Py_ssize_t n) {
        uint64_t a = 0, b = 0, c = 0;
        if (n >= 8) {
            memcpy(&a, p, 8);
            memcpy(&b, p + (n >> 1) - 4, 8);
            memcpy(&c, p + n - 8, 8);
        } else {
            memcpy(&a, p, (size_t)n);
        }
        return (a ^ (uint64_t)n) * 0x9E3779B97F4A7C15ULL + b * 0xC2B2AE3D27D4EB4FULL
            + c * 0xff51afd7ed558ccdULL;
    }
    static inline Py_ssize_t sa_slot_of(uint64_t h) { return (Py_ssize_t)(h >> (64 - SA_SLOT_BITS)); }
    static void sa_clear(sa_table* t) {
        for (Py_ssize_t i = 0; i < SA_SLOTS; i++) { Py_CLEAR(t->e[i].v); }
        t->count = 0;
    }
    static PyObject* sa_get(sa_table* t, const unsigned char* p, Py_ssize_t n) {
        if (t->e == NULL || n > SA_KEY) return NULL;
        uint64_t h = sa_hash(p, n);
        for (Py_ssize_t i = sa_slot_of(h);; i = (i + 1) & (SA_SLOTS - 1)) {
            sa_entry* e = &t->e[i];
            if (e->v == NULL) return NULL;
            if (e->h == h && e->len == n && memcmp(e->key, p, (size_t)n) == 0) return e->v;
        }
    }
    static int sa_put(sa_table* t, const unsigned char* p, Py_ssize_t n, PyObject* v) {
        if (n > SA_KEY) return 0;
        if (t->e == NULL) {
            t->e = (sa_entry*)PyMem_Calloc(SA_SLOTS, sizeof(sa_entry));
            if (t->e == NULL) { PyErr_NoMemory(); return -1; }
        }
        if (t->count >= SA_SLOTS / 2) sa_clear(t);
        uint64_t h = sa_hash(p, n);
        Py_ssize_t i = sa_slot_of(h);
        while (t->e[i].v != NULL) {
            if (t->e[i].h == h && t->e[i].len == n && memcmp(t->e[i].key, p, (size_t)n) == 0) return 0;
            i = (i + 1) & (SA_SLOTS - 1);
        }
        t->e[i].h = h;
        t->e[i].len = n;
        memcpy(t->e[i].key, p, (size_t)n);
        Py_INCREF(v);
        t->e[i].v = v;
        t->count++;
        return 0;
    }
    static Py_ssize_t sa_count(sa_table* t) { return t->count; }
    /* Freeing a model value: a model class is a tuple subclass with no __dict__, no weak
       references, no finaliser and no slots of its own, so what CPython's generic
       ``subtype_dealloc`` does for it reduces to releasing the slots, freeing the memory (or
       keeping it on a free list) and releasing the class's reference. ``sa_fast_dealloc``
       installs that shortcut on a class only when all of those hold (else it leaves the class
       alone and returns 0).
       Freeing a value frees the values it holds, each nested in the C stack; past SA_NEST
       nested model values the next one is set aside (chained through its reference count,
       which is 0 and unused until then) and freed once the outermost free returns, so that
       a chain of any depth frees in bounded stack, as CPython's trashcan does for its own
       containers (used as is where the GIL does not guard the chain, and from 3.14 on). */
    #define SA_NEST 50
    #if SA_FREE_LISTS
    static int sa_nest;
    static PyObject* sa_later;
    static void sa_free_later(void) {
        sa_nest++;  /* what these frees set aside waits for this loop */
        while (sa_later != NULL) {
            PyObject* op = sa_later;
            sa_later = (PyObject*)op->ob_refcnt;
            op->ob_refcnt = 0;
            Py_TYPE(op)->tp_dealloc(op);
        }
        sa_nest--;
    }
    static void sa_model_dealloc(PyObject* self) {
        PyTypeObject* tp = Py_TYPE(self);
        PyObject_GC_UnTrack(self);
        if (sa_nest >= SA_NEST) {
            self->ob_refcnt = (Py_ssize_t)sa_later;
            sa_later = self;
            return;
        }
        sa_nest++;
        Py_ssize_t n = Py_SIZE(self);
        for (Py_ssize_t i = n - 1; i >= 0; i--) { Py_XDECREF(PyTuple_GET_ITEM(self, i)); }
        if (!sa_free_push(self, n)) tp->tp_free(self);
        Py_DECREF(tp);
        sa_nest--;
        if (sa_nest == 0 && sa_later != NULL) sa_free_later();
    }
    #else
    static void sa_model_dealloc(PyObject* self) {
        PyTypeObject* tp = Py_TYPE(self);
        PyObject_GC_UnTrack(self);
        Py_TRASHCAN_BEGIN(self, sa_model_dealloc)
        PyTuple_Type.tp_dealloc(self);
        Py_DECREF(tp);
        Py_TRASHCAN_END
    }
    #endif
    static int sa_fast_dealloc(PyObject* cls) {
        PyTypeObject* t = (PyTypeObject*)cls;
        if (!PyType_Check(cls) || !(t->tp_flags & Py_TPFLAGS_HEAPTYPE)) return 0;
        if (!PyType_IsSubtype(t, &PyTuple_Type) || t == &PyTuple_Type) return 0;
        if (t->tp_basicsize != PyTuple_Type.tp_basicsize) return 0;
        if (t->tp_itemsize != PyTuple_Type.tp_itemsize) return 0;
        if (t->tp_dictoffset != 0 || t->tp_weaklistoffset != 0) return 0;
        if (t->tp_finalize != NULL || t->tp_del != NULL) return 0;
        if (t->tp_dealloc == sa_model_dealloc) return 1;
        t->tp_dealloc = sa_model_dealloc;
        return 1;
    }
    """
    ctypedef struct sa_table:
        Py_ssize_t count
    object sa_alloc(object cls, Py_ssize_t n)
    void sa_set(object t, Py_ssize_t i, object v)
    object sa_done(object cls, object t)
    PyObject* sa_get(sa_table* t, const unsigned char* p, Py_ssize_t n)
    int sa_put(sa_table* t, const unsigned char* p, Py_ssize_t n, object v) except -1
    Py_ssize_t sa_count(sa_table* t)
    int sa_fast_dealloc(object cls)
    int SA_FREE_LISTS
    int SA_FREE_SIZES
    void sa_free_clear()
    Py_ssize_t sa_free_count_of(Py_ssize_t n)
    Py_ssize_t sa_free_bytes()


def _fast_dealloc_models():
    """Install the freeing shortcut on every model class (shared by all decoders); the count."""
    cdef int done = 0
    for value in vars(_m).values():
        if isinstance(value, type) and issubclass(value, tuple) and value.__module__ == _m.__name__:
            done += sa_fast_dealloc(value)
    return done


FAST_DEALLOC_CLASSES = _fast_dealloc_models()
FREE_LISTS = bool(SA_FREE_LISTS)


def free_list_sizes():
    """``{slots: values kept}`` of the free lists of freed model values (empty lists left out)."""
    cdef Py_ssize_t n
    return {n: sa_free_count_of(n) for n in range(SA_FREE_SIZES) if sa_free_count_of(n)}


def free_list_bytes():
    """Bytes held by the free lists (at most 8 MiB)."""
    return sa_free_bytes()


def clear_free_lists():
    """Give the memory of every kept value back to the allocator."""
    sa_free_clear()


cdef struct R:
    const unsigned char* b
    Py_ssize_t n
    Py_ssize_t o
    int depth
    int lazy
    PyObject* data


ctypedef object (*Dec)(R*)


cdef int short(R* r, Py_ssize_t k) except -1:
    raise _struct.error(f"read of {k} bytes at offset {r.o} runs past the end of {r.n} bytes")


cdef int bad(str where, Py_ssize_t offset) except -1:
    raise _Bad(where, offset)


cdef int deep(R* r) except -1:
    raise RecursionError(f"more than {MAX_DEPTH} nested values at byte {r.o}")


cdef inline int need(R* r, Py_ssize_t k) except -1:
    if k < 0 or r.n - r.o < k:
        return short(r, k)
    return 0


cdef inline uint32_t be32(const unsigned char* p) noexcept:
    return (<uint32_t>p[0] << 24) | (<uint32_t>p[1] << 16) | (<uint32_t>p[2] << 8) | <uint32_t>p[3]


cdef inline int ru32(R* r, uint32_t* out) except -1:
    if r.n - r.o < 4:
        return short(r, 4)
    out[0] = be32(r.b + r.o)
    r.o += 4
    return 0


cdef inline int ri32(R* r, int32_t* out) except -1:
    if r.n - r.o < 4:
        return short(r, 4)
    out[0] = <int32_t>be32(r.b + r.o)
    r.o += 4
    return 0


cdef inline uint64_t be64(const unsigned char* p) noexcept:
    return (<uint64_t>be32(p) << 32) | <uint64_t>be32(p + 4)


cdef inline object o_i32(R* r):
    if r.n - r.o < 4:
        short(r, 4)
    cdef int32_t v = <int32_t>be32(r.b + r.o)
    r.o += 4
    return PyLong_FromLong(v)


cdef inline object o_u32(R* r):
    if r.n - r.o < 4:
        short(r, 4)
    cdef uint32_t v = be32(r.b + r.o)
    r.o += 4
    return PyLong_FromUnsignedLong(v)


cdef inline object o_i64(R* r):
    if r.n - r.o < 8:
        short(r, 8)
    cdef int64_t v = <int64_t>be64(r.b + r.o)
    r.o += 8
    return PyLong_FromLongLong(v)


cdef inline object o_u64(R* r):
    if r.n - r.o < 8:
        short(r, 8)
    cdef uint64_t v = be64(r.b + r.o)
    r.o += 8
    return PyLong_FromUnsignedLongLong(v)


cdef inline object o_bool(R* r):
    cdef uint32_t v
    ru32(r, &v)
    if v == 0:
        return False
    if v == 1:
        return True
    raise IndexError("bool other than 0 or 1")


cdef inline object o_fixed(R* r, Py_ssize_t n, Py_ssize_t padded):
    need(r, padded)
    cdef object v = PyBytes_FromStringAndSize(<const char*>r.b + r.o, n)
    r.o += padded
    return v


cdef Py_ssize_t w_var(R* r, uint32_t maxlen, str where) except -1:
    """Walk a variable opaque or string: length (at most ``maxlen``), bytes, zero padding; its size."""
    cdef uint32_t n
    ru32(r, &n)
    if n > maxlen:
        bad(where, r.o)
    cdef Py_ssize_t size = <Py_ssize_t>n
    cdef Py_ssize_t padded = (size + 3) & ~(<Py_ssize_t>3)
    need(r, padded)
    cdef Py_ssize_t i
    for i in range(size, padded):
        if r.b[r.o + i]:
            bad(where, r.o + size)
    r.o += padded
    return size


cdef object o_var(R* r, uint32_t maxlen, str where):
    """A variable opaque or string, checked by :func:`w_var`, as bytes."""
    cdef Py_ssize_t start = r.o + 4
    cdef Py_ssize_t size = w_var(r, maxlen, where)
    return PyBytes_FromStringAndSize(<const char*>r.b + start, size)


cdef inline int count(R* r, uint32_t* out, uint32_t maxcount, Py_ssize_t minsize, str where) except -1:
    """An array count, refused before anything is allocated if the bytes left cannot hold it."""
    ru32(r, out)
    if out[0] > maxcount or <Py_ssize_t>out[0] * minsize > r.n - r.o:
        return bad(where, r.o)
    return 0


cdef inline object raw(R* r, Py_ssize_t start):
    return PyBytes_FromStringAndSize(<const char*>r.b + start, r.o - start)


cdef inline object mk2(object cls, object a, object b):
    cdef object t = sa_alloc(cls, 2)
    sa_set(t, 0, a)
    sa_set(t, 1, b)
    return sa_done(cls, t)


cdef inline object mk3(object cls, object a, object b, object c):
    cdef object t = sa_alloc(cls, 3)
    sa_set(t, 0, a)
    sa_set(t, 1, b)
    sa_set(t, 2, c)
    return sa_done(cls, t)


cdef inline void put(list lst, Py_ssize_t i, object v):
    Py_INCREF(v)
    PyList_SET_ITEM(lst, i, v)


cdef inline object interned(sa_table* table, Dec fn, R* r, Py_ssize_t span):
    """The shared value of the ``span`` bytes at ``r.o`` (decoded by ``fn`` and kept on a miss)."""
    cdef PyObject* hit
    cdef Py_ssize_t start = r.o
    if span > r.n - r.o:
        span = -1
    if span > 0:
        hit = sa_get(table, r.b + start, span)
        if hit is not NULL:
            r.o += span
            return <object>hit
    value = fn(r)
    if span > 0 and r.o - start == span:
        sa_put(table, r.b + start, span, value)
    return value


cdef inline Py_ssize_t var_span(R* r, Py_ssize_t head, uint32_t maxlen) noexcept:
    """Wire size of a discriminant and a short opaque/string arm at ``r.o``, or -1."""
    if r.n - r.o < head + 4:
        return -1
    cdef uint32_t n = be32(r.b + r.o + head)
    if n > maxlen:
        return -1
    cdef Py_ssize_t span = head + 4 + ((<Py_ssize_t>n + 3) & ~(<Py_ssize_t>3))
    return span if span <= r.n - r.o else -1


cdef object run(Dec fn, bytes data, Py_ssize_t offset, bint lazy):
    cdef R r
    r.b = <const unsigned char*>PyBytes_AS_STRING(data)
    r.n = PyBytes_GET_SIZE(data)
    if offset < 0 or offset > r.n:
        raise ValueError(f"offset {offset} outside a buffer of {r.n} bytes")
    r.o = offset
    r.depth = 0
    r.lazy = lazy
    r.data = <PyObject*>data
    value = fn(&r)
    return value, r.o
'''
"""Module header of ``_compiled.pyx``: two directive lines, then (after the generated-file line)
the helpers; ``@MAX_DEPTH@`` stands for ``MAX_DEPTH``."""
