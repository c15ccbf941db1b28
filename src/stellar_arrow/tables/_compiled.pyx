# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: binding=False, embedsignature=False
"""Compiled ``transactions`` and ``operations`` rows and ``ledgers`` operation counts, filled from the
decoded values.

The pure-Python builders (``transactions.py``, ``ledgers.py``, ``operations.py``) are the reference: this module reads the
same fields of the same model values and must produce bit-identical record batches (the tests compare
them on every corpus ledger). Values go straight into Arrow column buffers (little-endian values, a
validity byte per row packed into a bitmap at the end, int32 string offsets): no Python object per
cell, one ``pyarrow.Array.from_buffers`` per column.

Model values are tuples (``stellar_arrow.xdr.record``): fields are read by their position, looked up
once in the classes' ``FIELDS``; the classes whose fields the compiled decoder may defer (metas) are
read by attribute, which builds a deferred part on first read. An integer that does not fit its
column is not an error here: as in ``pa.array`` on the Python builder's lists, ``finish`` raises
pyarrow's own error for the first such column (it converts the offending value the Python way).
StrKeys come from the one shared encoder (``stellar_arrow.xdr._strkey``).
"""

cimport cython
from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.long cimport PyLong_AsLongLongAndOverflow
from cpython.mem cimport PyMem_Free, PyMem_Realloc
from cpython.tuple cimport PyTuple_GET_SIZE
from cpython.ref cimport PyObject
from libc.stdint cimport int8_t, int32_t, int64_t, uint32_t, uint64_t
from libc.string cimport memcpy, memset

from stellar_arrow.xdr._strkey cimport account_strkey_c, muxed_strkey_c

import pyarrow as pa

from stellar_arrow.ledger.hashes import inner_transaction_hash
from stellar_arrow.ledger.toid import TOID_MAX_OPERATION_INDEX, toid
from stellar_arrow.tables.details import muxed_account_columns
from stellar_arrow.vocabulary import OPERATION_TYPES as _OPERATION_TYPES
from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.strkey import account_strkey

cdef extern from *:
    """
    static PyObject* txb_item(PyObject* t, Py_ssize_t i) { return PyTuple_GET_ITEM(t, i); }
    """
    PyObject* txb_item(object t, Py_ssize_t i)

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object s, Py_ssize_t* size) except NULL


cdef inline object at(object value, Py_ssize_t i):
    """Element ``i`` of a model tuple (a ``TypeError``, never a bad read, for anything else)."""
    if not isinstance(value, tuple) or i >= PyTuple_GET_SIZE(value):
        raise TypeError(f"expected a decoded XDR value with a field {i}, got {type(value).__name__}")
    return <object>txb_item(value, i)


cdef inline const unsigned char* key32(object key) except NULL:
    """The bytes of a 32-byte ed25519 key."""
    if type(key) is not bytes or PyBytes_GET_SIZE(key) != 32:
        raise TypeError(f"expected a 32-byte ed25519 key, got {type(key).__name__}")
    return <const unsigned char*>PyBytes_AS_STRING(key)


# ---------------------------------------------------------------------------------------------------
# Column buffers

cdef struct Buf:
    char* p
    Py_ssize_t n
    Py_ssize_t cap


cdef int reserve(Buf* b, Py_ssize_t extra) except -1:
    cdef Py_ssize_t need = b.n + extra
    cdef Py_ssize_t cap
    cdef char* p
    if need <= b.cap:
        return 0
    cap = b.cap * 2 if b.cap else 256
    while cap < need:
        cap *= 2
    p = <char*>PyMem_Realloc(b.p, cap)
    if p == NULL:
        raise MemoryError()
    b.p = p
    b.cap = cap
    return 0


cdef object buf_bytes(Buf* b):
    return PyBytes_FromStringAndSize(b.p if b.n else NULL, b.n)


cdef enum Kind:
    K_I8 = 1
    K_I32 = 4
    K_U32 = 5
    K_I64 = 8
    K_BOOL = 16
    K_STR = 32

cdef const char* B64 = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
cdef const char* HEX = b"0123456789abcdef"
cdef int64_t MAX_STRING_BYTES = 2147483647


cdef class Column:
    """One Arrow column being filled: values (or string offsets + bytes) and a validity byte per row."""

    cdef Buf values
    cdef Buf data
    cdef Buf valid
    cdef Py_ssize_t length
    cdef Py_ssize_t nulls
    cdef int kind
    cdef object bad  # the first value that does not fit (pyarrow raises its error at ``array``)

    def __cinit__(self, int kind):
        self.kind = kind
        self.bad = None
        if kind == K_STR:
            reserve(&self.values, 4)
            memset(self.values.p, 0, 4)  # offsets start at 0
            self.values.n = 4

    def __dealloc__(self):
        PyMem_Free(self.values.p)
        PyMem_Free(self.data.p)
        PyMem_Free(self.valid.p)

    cdef inline int mark(self, char ok) except -1:
        if self.valid.n == self.valid.cap:
            reserve(&self.valid, 1)
        self.valid.p[self.valid.n] = ok
        self.valid.n += 1
        self.length += 1
        return 0

    cdef inline int fixed(self, const void* value, Py_ssize_t width) except -1:
        if self.values.n + width > self.values.cap:
            reserve(&self.values, width)
        memcpy(self.values.p + self.values.n, value, width)
        self.values.n += width
        return 0

    cdef int null(self) except -1:
        cdef int64_t zero = 0
        cdef int32_t end
        self.nulls += 1
        if self.kind == K_STR:
            end = <int32_t>self.data.n
            self.fixed(&end, 4)
        elif self.kind == K_BOOL or self.kind == K_I8:
            self.fixed(&zero, 1)
        elif self.kind == K_I64:
            self.fixed(&zero, 8)
        else:
            self.fixed(&zero, 4)
        return self.mark(0)

    cdef int c_int(self, int64_t v) except -1:
        """A C integer known to fit the column."""
        cdef int32_t v32
        cdef int8_t v8
        if self.kind == K_I64:
            self.fixed(&v, 8)
        elif self.kind == K_I8:
            v8 = <int8_t>v
            self.fixed(&v8, 1)
        else:
            v32 = <int32_t>v
            self.fixed(&v32, 4)
        return self.mark(1)

    cdef int integer(self, object v) except -1:
        """A Python int; one that does not fit is kept (the first) for ``array`` to reject."""
        cdef int overflow = 0
        cdef long long c = PyLong_AsLongLongAndOverflow(v, &overflow)
        cdef bint fits
        if self.kind == K_I64:
            fits = overflow == 0
        elif self.kind == K_I32:
            fits = overflow == 0 and -2147483648 <= c <= 2147483647
        elif self.kind == K_U32:
            fits = overflow == 0 and 0 <= c <= 4294967295
        else:
            fits = overflow == 0 and -128 <= c <= 127
        if not fits:
            if self.bad is None:
                self.bad = v
            c = 0
        return self.c_int(c)

    cdef int boolean(self, bint v) except -1:
        cdef char b = 1 if v else 0
        self.fixed(&b, 1)
        return self.mark(1)

    cdef inline int _end_string(self) except -1:
        cdef int32_t end
        if self.data.n > MAX_STRING_BYTES:
            raise OverflowError("a string column of one batch exceeds 2 GiB")
        end = <int32_t>self.data.n
        self.fixed(&end, 4)
        return self.mark(1)

    cdef int text(self, const char* s, Py_ssize_t n) except -1:
        if self.data.n + n > self.data.cap:
            reserve(&self.data, n)
        memcpy(self.data.p + self.data.n, s, n)
        self.data.n += n
        return self._end_string()

    cdef int string(self, object s) except -1:
        """A ``str`` (its UTF-8 bytes)."""
        cdef Py_ssize_t n
        cdef const char* p
        if type(s) is not str:
            raise TypeError(f"expected str, got {type(s).__name__}")
        p = PyUnicode_AsUTF8AndSize(s, &n)
        return self.text(p, n)

    cdef int optional_string(self, object s) except -1:
        if s is None:
            return self.null()
        return self.string(s)

    cdef int hex(self, const unsigned char* s, Py_ssize_t n) except -1:
        cdef Py_ssize_t i
        cdef char* out
        reserve(&self.data, 2 * n)
        out = self.data.p + self.data.n
        for i in range(n):
            out[2 * i] = HEX[s[i] >> 4]
            out[2 * i + 1] = HEX[s[i] & 15]
        self.data.n += 2 * n
        return self._end_string()

    cdef int base64(self, object raw) except -1:
        """Standard base64 (padded) of a ``bytes`` value, as ``base64.b64encode``."""
        cdef const unsigned char* s
        cdef Py_ssize_t n, i, full
        cdef char* out
        cdef unsigned int w
        if type(raw) is not bytes:
            raise TypeError(f"expected bytes, got {type(raw).__name__}")
        s = <const unsigned char*>PyBytes_AS_STRING(raw)
        n = PyBytes_GET_SIZE(raw)
        reserve(&self.data, (n + 2) // 3 * 4)
        out = self.data.p + self.data.n
        full = n - n % 3
        i = 0
        while i < full:
            w = (<unsigned int>s[i] << 16) | (<unsigned int>s[i + 1] << 8) | s[i + 2]
            out[0] = B64[(w >> 18) & 63]
            out[1] = B64[(w >> 12) & 63]
            out[2] = B64[(w >> 6) & 63]
            out[3] = B64[w & 63]
            out += 4
            i += 3
        if n - full == 1:
            w = <unsigned int>s[i] << 16
            out[0] = B64[(w >> 18) & 63]
            out[1] = B64[(w >> 12) & 63]
            out[2] = b"="
            out[3] = b"="
            out += 4
        elif n - full == 2:
            w = (<unsigned int>s[i] << 16) | (<unsigned int>s[i + 1] << 8)
            out[0] = B64[(w >> 18) & 63]
            out[1] = B64[(w >> 12) & 63]
            out[2] = B64[(w >> 6) & 63]
            out[3] = b"="
            out += 4
        self.data.n = out - self.data.p
        return self._end_string()

    cdef object bitmap(self, Buf* bytes_per_row):
        """Bytes 0/1 per row packed LSB-first into an Arrow bitmap."""
        cdef Py_ssize_t i, n = self.length
        cdef object out = PyBytes_FromStringAndSize(NULL, (n + 7) // 8)
        cdef unsigned char* bits = <unsigned char*>PyBytes_AS_STRING(out)
        memset(bits, 0, (n + 7) // 8)
        for i in range(n):
            if bytes_per_row.p[i]:
                bits[i >> 3] |= 1 << (i & 7)
        return out

    def array(self, data_type):
        """The filled column as a ``pyarrow.Array`` of ``data_type`` (pyarrow's error for a value
        that does not fit, as ``pa.array`` raises it on the Python builder's list)."""
        if self.bad is not None:
            pa.array([self.bad], type=data_type)  # raises pyarrow's own error for the value
            raise AssertionError(f"{self.bad!r} was expected not to fit {data_type}")
        validity = None if self.nulls == 0 else pa.py_buffer(self.bitmap(&self.valid))
        if self.kind == K_STR:
            buffers = [validity, pa.py_buffer(buf_bytes(&self.values)), pa.py_buffer(buf_bytes(&self.data))]
        elif self.kind == K_BOOL:
            buffers = [validity, pa.py_buffer(self.bitmap(&self.values))]
        else:
            buffers = [validity, pa.py_buffer(buf_bytes(&self.values))]
        return pa.Array.from_buffers(data_type, self.length, buffers, null_count=self.nulls)

    def __len__(self):
        return self.length


def column(data_type) -> Column:
    """An empty :class:`Column` for a pyarrow type of the table schemas."""
    if pa.types.is_string(data_type):
        return Column(K_STR)
    if pa.types.is_boolean(data_type):
        return Column(K_BOOL)
    if pa.types.is_int64(data_type) or pa.types.is_timestamp(data_type):
        return Column(K_I64)
    if pa.types.is_int32(data_type):
        return Column(K_I32)
    if pa.types.is_uint32(data_type):
        return Column(K_U32)
    if pa.types.is_int8(data_type):
        return Column(K_I8)
    raise TypeError(f"no compiled column for {data_type}")


def fill(Column col, values):
    """Append Python values (int, bool, str or None) to ``col`` (what the tests compare with
    ``pa.array``)."""
    for v in values:
        if v is None:
            col.null()
        elif col.kind == K_STR:
            col.string(v)
        elif col.kind == K_BOOL:
            col.boolean(v)
        else:
            col.integer(v)


# ---------------------------------------------------------------------------------------------------
# Field positions of the model tuples (a union is ``(discriminant, value[, xdr])``)

cdef Py_ssize_t F_TX_SOURCE = X.Transaction.FIELDS.index("source_account")
cdef Py_ssize_t F_TX_FEE = X.Transaction.FIELDS.index("fee")
cdef Py_ssize_t F_TX_SEQ = X.Transaction.FIELDS.index("seq_num")
cdef Py_ssize_t F_TX_COND = X.Transaction.FIELDS.index("cond")
cdef Py_ssize_t F_TX_MEMO = X.Transaction.FIELDS.index("memo")
cdef Py_ssize_t F_TX_OPS = X.Transaction.FIELDS.index("operations")
cdef Py_ssize_t F_TX_EXT = X.Transaction.FIELDS.index("ext")
cdef Py_ssize_t F_V0_SOURCE = X.TransactionV0.FIELDS.index("source_account_ed25519")
cdef Py_ssize_t F_V0_FEE = X.TransactionV0.FIELDS.index("fee")
cdef Py_ssize_t F_V0_SEQ = X.TransactionV0.FIELDS.index("seq_num")
cdef Py_ssize_t F_V0_BOUNDS = X.TransactionV0.FIELDS.index("time_bounds")
cdef Py_ssize_t F_V0_MEMO = X.TransactionV0.FIELDS.index("memo")
cdef Py_ssize_t F_V0_OPS = X.TransactionV0.FIELDS.index("operations")
cdef Py_ssize_t F_MED_ID = X.MuxedAccountMed25519.FIELDS.index("id")
cdef Py_ssize_t F_MED_KEY = X.MuxedAccountMed25519.FIELDS.index("ed25519")
cdef Py_ssize_t F_FBE_TX = X.FeeBumpTransactionEnvelope.FIELDS.index("tx")
cdef Py_ssize_t F_FB_SOURCE = X.FeeBumpTransaction.FIELDS.index("fee_source")
cdef Py_ssize_t F_FB_FEE = X.FeeBumpTransaction.FIELDS.index("fee")
cdef Py_ssize_t F_PAIR_RESULT = X.TransactionResultPair.FIELDS.index("result")
cdef Py_ssize_t F_RESULT_FEE = X.TransactionResult.FIELDS.index("fee_charged")
cdef Py_ssize_t F_RESULT_RESULT = X.TransactionResult.FIELDS.index("result")
cdef Py_ssize_t F_BOUNDS_MIN = X.TimeBounds.FIELDS.index("min_time")
cdef Py_ssize_t F_BOUNDS_MAX = X.TimeBounds.FIELDS.index("max_time")
cdef Py_ssize_t F_V2_BOUNDS = X.PreconditionsV2.FIELDS.index("time_bounds")
cdef Py_ssize_t F_SD_EXT = X.SorobanTransactionData.FIELDS.index("ext")
cdef Py_ssize_t F_SD_RESOURCES = X.SorobanTransactionData.FIELDS.index("resources")
cdef Py_ssize_t F_SD_FEE = X.SorobanTransactionData.FIELDS.index("resource_fee")
cdef Py_ssize_t F_RES_INSTRUCTIONS = X.SorobanResources.FIELDS.index("instructions")
cdef Py_ssize_t F_RES_READ = X.SorobanResources.FIELDS.index("disk_read_bytes")
cdef Py_ssize_t F_RES_WRITE = X.SorobanResources.FIELDS.index("write_bytes")
cdef Py_ssize_t F_RES_ARCHIVED = X.SorobanResourcesExtV0.FIELDS.index("archived_soroban_entries")
cdef Py_ssize_t F_CH_NON_REFUNDABLE = X.SorobanTransactionMetaExtV1.FIELDS.index(
    "total_non_refundable_resource_fee_charged"
)
cdef Py_ssize_t F_CH_REFUNDABLE = X.SorobanTransactionMetaExtV1.FIELDS.index("total_refundable_resource_fee_charged")
cdef Py_ssize_t F_CH_RENT = X.SorobanTransactionMetaExtV1.FIELDS.index("rent_fee_charged")

cdef long ENVELOPE_TX_V0 = X.EnvelopeType.ENVELOPE_TYPE_TX_V0
cdef long ENVELOPE_TX = X.EnvelopeType.ENVELOPE_TYPE_TX
cdef long ENVELOPE_FEE_BUMP = X.EnvelopeType.ENVELOPE_TYPE_TX_FEE_BUMP
cdef long KEY_ED25519 = X.CryptoKeyType.KEY_TYPE_ED25519
cdef long TX_SUCCESS = X.TransactionResultCode.txSUCCESS
cdef long TX_FEE_BUMP_INNER_SUCCESS = X.TransactionResultCode.txFEE_BUMP_INNER_SUCCESS
cdef long PRECOND_TIME = X.PreconditionType.PRECOND_TIME
cdef long PRECOND_V2 = X.PreconditionType.PRECOND_V2
cdef long MEMO_NONE = X.MemoType.MEMO_NONE
cdef long MEMO_TEXT = X.MemoType.MEMO_TEXT
cdef long MEMO_ID = X.MemoType.MEMO_ID

cdef object TransactionV0 = X.TransactionV0
cdef dict RESULT_NAMES = X.TransactionResultCode.NAMES
cdef dict MEMO_TYPES = {0: "none", 1: "text", 2: "id", 3: "hash", 4: "return"}


cdef inline long disc(object union) except? -1:
    """The discriminant of a union value."""
    return at(union, 0)


# ---------------------------------------------------------------------------------------------------
# The transactions table

# column positions in TRANSACTIONS_SCHEMA (checked against it by ``TransactionRows.__init__``)
COLUMNS = (
    "id", "transaction_hash", "ledger_sequence", "transaction_index", "account", "account_muxed",
    "account_sequence", "fee_account", "fee_account_muxed", "inner_transaction_hash", "envelope_type",
    "fee_charged", "max_fee", "new_max_fee", "operation_count", "successful", "result_code",
    "transaction_result_code", "memo_type", "memo", "min_time", "max_time", "closed_at", "resource_fee",
    "soroban_resources_instructions", "soroban_resources_disk_read_bytes", "soroban_resources_write_bytes",
    "soroban_resources_archived_entries", "inclusion_fee_bid", "inclusion_fee_charged",
    "non_refundable_resource_fee_charged", "refundable_resource_fee_charged", "rent_fee_charged",
    "resource_fee_refund", "tx_envelope", "tx_result", "tx_meta",
)


cdef class TransactionRows:
    """The columns of the ``transactions`` table, filled ledger by ledger (``add``); ``arrays`` returns
    them as pyarrow arrays typed by ``schema`` (the table's schema, with or without the XDR columns)."""

    cdef readonly object schema
    cdef readonly bint include_xdr
    cdef bytes network_id
    cdef list cols
    cdef Column c_id, c_hash, c_seq, c_index, c_account, c_account_muxed, c_account_sequence
    cdef Column c_fee_account, c_fee_account_muxed, c_inner_hash, c_envelope_type, c_fee_charged
    cdef Column c_max_fee, c_new_max_fee, c_operation_count, c_successful, c_result_code, c_result_name
    cdef Column c_memo_type, c_memo, c_min_time, c_max_time, c_closed_at, c_resource_fee
    cdef Column c_instructions, c_read_bytes, c_write_bytes, c_archived, c_inclusion_bid
    cdef Column c_inclusion_charged, c_non_refundable, c_refundable, c_rent, c_refund
    cdef Column c_envelope_xdr, c_result_xdr, c_meta_xdr

    def __init__(self, schema, bytes network_id, bint include_xdr):
        names = tuple(schema.names)
        expected = COLUMNS if include_xdr else COLUMNS[:34]
        if names != expected:
            raise ValueError(f"compiled transactions rows expect the columns {expected}, got {names}")
        self.schema = schema
        self.include_xdr = include_xdr
        self.network_id = network_id
        self.cols = [column(f.type) for f in schema]
        (
            self.c_id, self.c_hash, self.c_seq, self.c_index, self.c_account, self.c_account_muxed,
            self.c_account_sequence, self.c_fee_account, self.c_fee_account_muxed, self.c_inner_hash,
            self.c_envelope_type, self.c_fee_charged, self.c_max_fee, self.c_new_max_fee,
            self.c_operation_count, self.c_successful, self.c_result_code, self.c_result_name,
            self.c_memo_type, self.c_memo, self.c_min_time, self.c_max_time, self.c_closed_at,
            self.c_resource_fee, self.c_instructions, self.c_read_bytes, self.c_write_bytes,
            self.c_archived, self.c_inclusion_bid, self.c_inclusion_charged, self.c_non_refundable,
            self.c_refundable, self.c_rent, self.c_refund,
        ) = self.cols[:34]
        if include_xdr:
            self.c_envelope_xdr, self.c_result_xdr, self.c_meta_xdr = self.cols[34:]

    def add(self, view, transactions):
        """The rows of one ledger's transactions (``LedgerTransaction`` views, in apply order)."""
        cdef Py_ssize_t n = len(transactions)
        cdef object seq, closed_at, base
        if n == 0:
            return
        seq = view.ledger_sequence
        closed_at = view.close_time * 1_000_000
        indexes = [t.transaction_index for t in transactions]
        toid(seq, min(indexes))  # ValueError when an index does not fit its TOID bits
        toid(seq, max(indexes))
        base = seq << 32
        for i in indexes:
            self.c_id.integer(base | (i << 12))
            self.c_index.integer(i)
            self.c_seq.integer(seq)
            self.c_closed_at.integer(closed_at)
        for t in transactions:
            self.add_one(t)

    cdef int add_one(self, object t) except -1:
        cdef object envelope = t.envelope
        cdef object tx = t.tx
        cdef long kind = disc(envelope)
        cdef bint v0 = isinstance(tx, TransactionV0)
        cdef object account, fee_bump, max_fee, result, fee_charged, memo, bounds, cond, inner
        cdef long code, memo_kind, cond_kind
        if v0:
            self.c_account.string(account_strkey_c(key32(at(tx, F_V0_SOURCE))))
            self.c_account_muxed.null()
        else:
            self.muxed(at(tx, F_TX_SOURCE), self.c_account, self.c_account_muxed)
        self.c_hash.string(t.hash_hex)
        self.c_account_sequence.integer(at(tx, F_V0_SEQ if v0 else F_TX_SEQ))
        if kind == ENVELOPE_TX:
            self.c_envelope_type.text(b"tx", 2)
        elif kind == ENVELOPE_FEE_BUMP:
            self.c_envelope_type.text(b"tx_fee_bump", 11)
        elif kind == ENVELOPE_TX_V0:
            self.c_envelope_type.text(b"tx_v0", 5)
        else:
            raise KeyError(kind)
        if kind == ENVELOPE_FEE_BUMP:
            fee_bump = at(at(envelope, 1), F_FBE_TX)
            self.muxed(at(fee_bump, F_FB_SOURCE), self.c_fee_account, self.c_fee_account_muxed)
            inner = inner_transaction_hash(envelope, self.network_id)
            if inner is None:
                self.c_inner_hash.null()
            else:
                self.c_inner_hash.hex(<const unsigned char*>PyBytes_AS_STRING(inner), PyBytes_GET_SIZE(inner))
            max_fee = at(fee_bump, F_FB_FEE)
            self.c_new_max_fee.integer(max_fee)
        else:
            self.c_fee_account.null()
            self.c_fee_account_muxed.null()
            self.c_inner_hash.null()
            max_fee = at(tx, F_V0_FEE if v0 else F_TX_FEE)
            self.c_new_max_fee.null()
        result = at(t.result_pair, F_PAIR_RESULT)
        fee_charged = at(result, F_RESULT_FEE)
        self.c_fee_charged.integer(fee_charged)
        self.c_max_fee.integer(max_fee)
        self.c_operation_count.integer(len(at(tx, F_V0_OPS if v0 else F_TX_OPS)))
        code_value = at(at(result, F_RESULT_RESULT), 0)
        code = code_value
        self.c_successful.boolean(code == TX_SUCCESS or code == TX_FEE_BUMP_INNER_SUCCESS)
        self.c_result_code.integer(code_value)
        name = RESULT_NAMES.get(code_value)
        self.c_result_name.string(str(code_value) if name is None else name)
        memo = at(tx, F_V0_MEMO if v0 else F_TX_MEMO)
        memo_kind = disc(memo)
        name = MEMO_TYPES.get(memo_kind)
        self.c_memo_type.string(str(memo_kind) if name is None else name)
        if memo_kind == MEMO_NONE:
            self.c_memo.null()
        elif memo_kind == MEMO_TEXT:
            text = at(memo, 1)
            if type(text) is not bytes:
                raise TypeError(f"expected bytes, got {type(text).__name__}")
            self.c_memo.string(text.decode("utf-8", errors="replace"))
        elif memo_kind == MEMO_ID:
            self.c_memo.string(str(at(memo, 1)))
        else:
            self.c_memo.base64(at(memo, 1))
        if v0:
            bounds = at(tx, F_V0_BOUNDS)
        else:
            cond = at(tx, F_TX_COND)
            cond_kind = disc(cond)
            if cond_kind == PRECOND_TIME:
                bounds = at(cond, 1)
            elif cond_kind == PRECOND_V2:
                bounds = at(at(cond, 1), F_V2_BOUNDS)
            else:
                bounds = None
        if bounds is None:
            self.c_min_time.null()
            self.c_max_time.null()
        else:
            self.c_min_time.integer(at(bounds, F_BOUNDS_MIN))
            self.c_max_time.integer(at(bounds, F_BOUNDS_MAX))
        self.soroban(tx, v0, t.meta, max_fee, fee_charged)
        if self.include_xdr:
            self.c_envelope_xdr.base64(envelope.xdr)
            self.c_result_xdr.base64(t.result_pair.xdr)
            self.c_meta_xdr.base64(t.meta.xdr)
        return 0

    cdef int muxed(self, object account, Column g, Column m) except -1:
        """A ``MuxedAccount``: its G-address, and its M-address when it is muxed (else null)."""
        cdef const unsigned char* key
        cdef object med
        cdef unsigned long long muxed_id
        if disc(account) == KEY_ED25519:
            g.string(account_strkey_c(key32(at(account, 1))))
            return m.null()
        med = at(account, 1)
        key = key32(at(med, F_MED_KEY))
        muxed_id = at(med, F_MED_ID)
        g.string(account_strkey_c(key))
        return m.string(muxed_strkey_c(key, muxed_id))

    cdef int soroban(self, object tx, bint v0, object meta, object max_fee, object fee_charged) except -1:
        cdef object ext, data, resources, resource_ext, resource_fee, charges, body, soroban_meta
        cdef object non_refundable, refundable
        cdef long version
        cdef Py_ssize_t i
        data = None
        if not v0:
            ext = at(tx, F_TX_EXT)
            if disc(ext) == 1:
                data = at(ext, 1)
        if data is None:
            for i in range(23, 34):
                (<Column>self.cols[i]).null()
            return 0
        resources = at(data, F_SD_RESOURCES)
        resource_fee = at(data, F_SD_FEE)
        self.c_resource_fee.integer(resource_fee)
        self.c_instructions.integer(at(resources, F_RES_INSTRUCTIONS))
        self.c_read_bytes.integer(at(resources, F_RES_READ))
        self.c_write_bytes.integer(at(resources, F_RES_WRITE))
        resource_ext = at(at(data, F_SD_EXT), 1)
        self.c_archived.integer(0 if resource_ext is None else len(at(resource_ext, F_RES_ARCHIVED)))
        self.c_inclusion_bid.integer(max_fee - resource_fee)
        charges = None
        version = disc(meta)
        if version == 3 or version == 4:
            body = at(meta, 1)
            soroban_meta = body.soroban_meta  # by name: the metas may hold deferred parts
            if soroban_meta is not None:
                ext = soroban_meta.ext
                if disc(ext) == 1:
                    charges = at(ext, 1)
        if charges is None:
            for i in range(29, 34):
                (<Column>self.cols[i]).null()
            return 0
        non_refundable = at(charges, F_CH_NON_REFUNDABLE)
        refundable = at(charges, F_CH_REFUNDABLE)
        self.c_inclusion_charged.integer(fee_charged - non_refundable - refundable)
        self.c_non_refundable.integer(non_refundable)
        self.c_refundable.integer(refundable)
        self.c_rent.integer(at(charges, F_CH_RENT))
        self.c_refund.integer(resource_fee - non_refundable - refundable)
        return 0

    def arrays(self):
        """One pyarrow array per column of ``schema`` (pyarrow's error for a value that does not fit)."""
        return [(<Column>col).array(f.type) for col, f in zip(self.cols, self.schema)]

    def __len__(self):
        return self.c_id.length


# ---------------------------------------------------------------------------------------------------
# The ledgers table

def operation_counts(transactions):
    """``(successful transactions, operations of successful ones, operations of all)`` of a ledger's
    ``LedgerTransaction`` views."""
    cdef Py_ssize_t successful = 0, operations = 0, all_operations = 0, ops
    cdef long code
    cdef object tx
    for t in transactions:
        tx = t.tx
        ops = len(at(tx, F_V0_OPS if isinstance(tx, TransactionV0) else F_TX_OPS))
        all_operations += ops
        code = at(at(at(t.result_pair, F_PAIR_RESULT), F_RESULT_RESULT), 0)
        if code == TX_SUCCESS or code == TX_FEE_BUMP_INNER_SUCCESS:
            successful += 1
            operations += ops
    return successful, operations, all_operations


# ---------------------------------------------------------------------------------------------------
# The operations table

cdef Py_ssize_t F_OP_SOURCE = X.Operation.FIELDS.index("source_account")
cdef Py_ssize_t F_OP_BODY = X.Operation.FIELDS.index("body")
cdef long OP_INNER = X.OperationResultCode.opINNER
cdef dict OPERATION_TYPES = _OPERATION_TYPES


cdef dict G_ADDRESSES = {}  # ed25519 key -> G-address: the same accounts recur in every ledger


cdef str g_address(object key):
    """``account_strkey_c`` of a 32-byte key, memoised (emptied when it reaches 65,536 keys)."""
    cdef object text = G_ADDRESSES.get(key)
    if text is None:
        if len(G_ADDRESSES) >= 65536:
            G_ADDRESSES.clear()
        text = G_ADDRESSES[key] = account_strkey_c(key32(key))
    return <str>text


cdef tuple muxed_columns(object account):
    """``details.muxed_account_columns``: ``(G-address, M-address or None)``; anything but a well-formed
    ed25519 or muxed account goes to the Python function."""
    cdef object kind, key, med, muxed_id
    if isinstance(account, tuple) and PyTuple_GET_SIZE(account) >= 2:
        kind = <object>txb_item(account, 0)
        if kind == 0:
            key = <object>txb_item(account, 1)
            if type(key) is bytes and PyBytes_GET_SIZE(key) == 32:
                return (g_address(key), None)
        elif kind == 0x100:
            med = <object>txb_item(account, 1)
            if isinstance(med, tuple) and PyTuple_GET_SIZE(med) >= 2:
                muxed_id = <object>txb_item(med, 0)
                key = <object>txb_item(med, 1)
                if (
                    type(muxed_id) is int and 0 <= muxed_id <= 0xFFFFFFFFFFFFFFFF
                    and type(key) is bytes and PyBytes_GET_SIZE(key) == 32
                ):
                    return (g_address(key), muxed_strkey_c(key32(key), <uint64_t>muxed_id))
    return muxed_account_columns(account)


OPERATION_COLUMNS = (
    "id", "transaction_id", "transaction_hash", "ledger_sequence", "transaction_index", "operation_index",
    "type", "type_string", "source_account", "source_account_muxed", "successful", "operation_result_code",
    "operation_trace_code", "details", "closed_at",
)


cdef class OperationRows:
    """The columns of the ``operations`` table, filled ledger by ledger (``add``): the values of the Python
    loop of ``tables/operations.py`` (its reference), the operation, its body and result read by position;
    ``arrays`` returns them as pyarrow arrays typed by ``schema``."""

    cdef readonly object schema
    cdef list cols
    cdef object render, trace_names
    cdef dict trace_cache
    cdef Column c_id, c_tx_id, c_hash, c_seq, c_tx_index, c_op_index, c_type, c_type_string, c_source
    cdef Column c_source_muxed, c_successful, c_result_code, c_trace_code, c_details, c_closed_at

    def __init__(self, schema, render, dict trace_cache, trace_names):
        """``render``: the ``details`` JSON renderer; ``trace_cache`` maps a result union's class to its
        code names, filled by ``trace_names(class)``."""
        if tuple(schema.names) != OPERATION_COLUMNS:
            raise ValueError(f"compiled operations rows expect the columns {OPERATION_COLUMNS}")
        self.schema = schema
        self.render = render
        self.trace_cache = trace_cache
        self.trace_names = trace_names
        self.cols = [column(f.type) for f in schema]
        (
            self.c_id, self.c_tx_id, self.c_hash, self.c_seq, self.c_tx_index, self.c_op_index, self.c_type,
            self.c_type_string, self.c_source, self.c_source_muxed, self.c_successful, self.c_result_code,
            self.c_trace_code, self.c_details, self.c_closed_at,
        ) = self.cols

    @cython.boundscheck(True)
    @cython.wraparound(True)
    def add(self, view, transactions, closed_at):
        """The rows of one ledger's operations; ``closed_at`` is the ledger's close time in microseconds."""
        cdef dict code_names = X.OperationResultCode.NAMES
        cdef dict names
        cdef Py_ssize_t index, count
        cdef tuple source, tx_source
        seq = view.ledger_sequence
        for t in transactions:
            tx = t.tx
            if isinstance(tx, TransactionV0):
                tx_source = (account_strkey(tx.source_account_ed25519), None)
            else:
                tx_source = muxed_columns(tx.source_account)
            tx_hash = t.hash_hex  # ``tx_hash.hex()``, computed once by the view
            tx_index = t.transaction_index
            tx_id = toid(seq, tx_index)
            successful = t.successful
            if type(successful) is not bool:
                raise TypeError(f"expected a bool transaction success, got {type(successful).__name__}")
            results = t.operation_results
            count = 0 if results is None else len(results)
            index = 0
            for op in tx.operations:
                index += 1
                body = at(op, F_OP_BODY)
                op_source = at(op, F_OP_SOURCE)
                source = tx_source if op_source is None else muxed_columns(op_source)
                self.c_id.integer(
                    tx_id | index if index <= TOID_MAX_OPERATION_INDEX else toid(seq, tx_index, index)
                )
                self.c_tx_id.integer(tx_id)
                self.c_hash.string(tx_hash)
                self.c_seq.integer(seq)
                self.c_tx_index.integer(tx_index)
                self.c_op_index.integer(index)
                kind = at(body, 0)
                self.c_type.integer(kind)
                name = OPERATION_TYPES.get(kind)
                self.c_type_string.string(str(kind) if name is None else name)
                self.c_source.string(<object>txb_item(source, 0))
                self.c_source_muxed.optional_string(<object>txb_item(source, 1))
                self.c_successful.boolean(successful)
                if index <= count:
                    result = results[index - 1]
                    code = at(result, 0)
                    self.c_result_code.optional_string(code_names.get(code))
                    tr = at(result, 1) if code == OP_INNER else None
                    if tr is not None:
                        inner = at(tr, 1)
                        inner_code = at(inner, 0)
                        names = self.trace_cache.get(type(inner))
                        if names is None:
                            names = self.trace_names(type(inner))
                        self.c_trace_code.optional_string(names.get(inner_code, str(inner_code)))
                    else:
                        self.c_trace_code.null()
                else:
                    self.c_result_code.null()
                    self.c_trace_code.null()
                self.c_details.string(self.render(body))
                self.c_closed_at.integer(closed_at)

    def arrays(self):
        """One pyarrow array per column of ``schema`` (pyarrow's error for a value that does not fit)."""
        return [(<Column>col).array(f.type) for col, f in zip(self.cols, self.schema)]

    def __len__(self):
        return self.c_id.length
