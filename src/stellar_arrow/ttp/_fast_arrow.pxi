# Included by _fast.pyx: the Arrow arrays of the rows, written as Arrow buffers (validity bitmap, offsets,
# values) and wrapped by ``pa.Array.from_buffers``: the same values as ``ttp/table.py`` builds with
# ``pa.array`` over Python lists (no validity bitmap when a column has no null, as there).

cdef extern from *:
    """
    typedef unsigned __int128 sa_u128;
    """
    ctypedef unsigned long long sa_u128

cdef long long MAX_LEDGER = (1 << 31) - 1
cdef unsigned int MAX_TX_INDEX = (1 << 20) - 1
cdef unsigned int MAX_OP_INDEX = (1 << 12) - 1


cdef sa_i128 _decimal_limit():
    cdef sa_i128 v = 1
    cdef int i
    for i in range(38):
        v *= 10
    return v


cdef sa_i128 DECIMAL_LIMIT = _decimal_limit()  # |unscaled| of a decimal128(38, 7) stays below 10^38


cdef inline bytes new_bytes(Py_ssize_t size):
    return PyBytes_FromStringAndSize(NULL, size)


cdef object text_array(list values, object arrow_type, bint binary):
    """A string (UTF-8) or binary column of str/bytes/None values (``Defer`` for any other value)."""
    cdef Py_ssize_t n = len(values), i, size = 0, total = 0, nulls = 0
    cdef const char** data = <const char**>PyMem_Malloc((n + 1) * sizeof(char*))
    if data == NULL:
        raise MemoryError()
    cdef bytes offsets = new_bytes((n + 1) * 4)
    cdef int* off = <int*>PyBytes_AS_STRING(offsets)
    cdef Py_ssize_t bitmap_size = (n + 7) // 8
    cdef bytes bitmap = new_bytes(bitmap_size)
    cdef unsigned char* bits = <unsigned char*>PyBytes_AS_STRING(bitmap)
    memset(bits, 0, bitmap_size)
    cdef bytes chars
    cdef char* out
    try:
        for i in range(n):
            off[i] = <int>total
            value = values[i]
            if value is None:
                nulls += 1
                data[i] = NULL
                continue
            bits[i >> 3] |= <unsigned char>(1 << (i & 7))
            if binary:
                if type(value) is not bytes:
                    raise Defer("a binary value that is not bytes")
                data[i] = PyBytes_AS_STRING(value)
                size = PyBytes_GET_SIZE(value)
            elif type(value) is not str:
                raise Defer("a text value that is not str")
            elif PyUnicode_IS_COMPACT_ASCII(value):  # its characters are its UTF-8
                data[i] = <const char*>PyUnicode_DATA(value)
                size = PyUnicode_GET_LENGTH(value)
            else:
                data[i] = PyUnicode_AsUTF8AndSize(value, &size)
            total += size
            if total > 0x7FFFFFFF:
                raise Defer("a column beyond 2 GiB")
        off[n] = <int>total
        chars = new_bytes(total)
        out = PyBytes_AS_STRING(chars)
        for i in range(n):
            if data[i] != NULL:
                memcpy(out + off[i], data[i], off[i + 1] - off[i])
    finally:
        PyMem_Free(data)
    return pa_Array_from_buffers(
        arrow_type,
        n,
        [pa_py_buffer(bitmap) if nulls else None, pa_py_buffer(offsets), pa_py_buffer(chars)],
        null_count=nulls,
    )


cdef int i128_digits(sa_i128 value, char* out) noexcept:
    """Write the decimal text of an i128 (``str(int)``) at ``out`` (at most 40 bytes); its length."""
    cdef char buf[48]
    cdef int pos = 47, length
    cdef bint negative = value < 0
    cdef sa_u128 u = <sa_u128>(-value) if negative else <sa_u128>value
    while True:
        buf[pos] = <char>(48 + <int>(u % 10))
        pos -= 1
        u = u // 10
        if u == 0:
            break
    if negative:
        buf[pos] = 45  # '-'
        pos -= 1
    length = 47 - pos
    memcpy(out, &buf[pos + 1], length)
    return length


cdef object amount_text_array(Rows rows):
    """``amount_raw``: the decimal text of every row's amount."""
    cdef Py_ssize_t n = rows.n, i, total = 0
    cdef bytes offsets = new_bytes((n + 1) * 4)
    cdef int* off = <int*>PyBytes_AS_STRING(offsets)
    cdef bytes chars = new_bytes(n * 40)
    cdef char* out = PyBytes_AS_STRING(chars)
    for i in range(n):
        off[i] = <int>total
        total += i128_digits(rows.amount[i], out + total)
    off[n] = <int>total
    return pa_Array_from_buffers(
        pa_string, n, [None, pa_py_buffer(offsets), pa_py_buffer(chars)[:total]], null_count=0
    )


cdef object rows_batch(Rows rows, object ledger_sequence, object close_time):
    """The ``token_transfers`` record batch of ``rows`` (``ttp.table._batch``)."""
    cdef Py_ssize_t n = rows.n, i, nulls
    cdef long long seq = ledger_sequence
    if seq < 0 or seq > MAX_LEDGER:
        raise Defer("a ledger sequence beyond the TOID range")
    micros_py = close_time * 1_000_000
    if micros_py > 0x7FFFFFFFFFFFFFFF:
        raise Defer("a close time beyond timestamp[us]")
    cdef long long micros = micros_py
    cdef bytes seqs = new_bytes(n * 4)
    cdef bytes closed = new_bytes(n * 8)
    cdef bytes event_index = new_bytes(n * 4)
    cdef bytes tx_id = new_bytes(n * 8)
    cdef bytes op_id = new_bytes(n * 8)
    cdef bytes op_index = new_bytes(n * 4)
    cdef bytes tx_index = new_bytes(n * 4)
    cdef bytes mux_id = new_bytes(n * 8)
    cdef bytes amounts = new_bytes(n * 16)
    cdef unsigned int* p_seq = <unsigned int*>PyBytes_AS_STRING(seqs)
    cdef long long* p_closed = <long long*>PyBytes_AS_STRING(closed)
    cdef unsigned int* p_event = <unsigned int*>PyBytes_AS_STRING(event_index)
    cdef long long* p_tx_id = <long long*>PyBytes_AS_STRING(tx_id)
    cdef long long* p_op_id = <long long*>PyBytes_AS_STRING(op_id)
    cdef unsigned int* p_op = <unsigned int*>PyBytes_AS_STRING(op_index)
    cdef unsigned int* p_tx = <unsigned int*>PyBytes_AS_STRING(tx_index)
    cdef unsigned long long* p_mux = <unsigned long long*>PyBytes_AS_STRING(mux_id)
    cdef unsigned char* p_amount = <unsigned char*>PyBytes_AS_STRING(amounts)
    cdef Py_ssize_t bitmap_size = (n + 7) // 8
    cdef bytes op_valid = new_bytes(bitmap_size)
    cdef bytes mux_valid = new_bytes(bitmap_size)
    cdef bytes amount_valid = new_bytes(bitmap_size)
    cdef unsigned char* b_op = <unsigned char*>PyBytes_AS_STRING(op_valid)
    cdef unsigned char* b_mux = <unsigned char*>PyBytes_AS_STRING(mux_valid)
    cdef unsigned char* b_amount = <unsigned char*>PyBytes_AS_STRING(amount_valid)
    memset(b_op, 0, bitmap_size)
    memset(b_mux, 0, bitmap_size)
    memset(b_amount, 0, bitmap_size)
    cdef Py_ssize_t op_nulls = 0, mux_nulls = 0, amount_nulls = 0
    cdef unsigned int t, o
    cdef sa_i128 a
    cdef sa_u128 u
    cdef int k
    memo_type = [None] * n
    asset_text = [None] * n
    asset_type = [None] * n
    asset_code = [None] * n
    asset_issuer = [None] * n
    cdef AssetInfo info
    for i in range(n):
        t = rows.tx_index[i]
        o = rows.op_index[i]
        if t > MAX_TX_INDEX or o > MAX_OP_INDEX:
            raise Defer("a transaction or operation index beyond the TOID range")
        p_seq[i] = <unsigned int>seq
        p_closed[i] = micros
        p_event[i] = <unsigned int>i
        p_tx[i] = t
        p_tx_id[i] = (seq << 32) | (<long long>t << 12)
        if o == 0:
            op_nulls += 1
            p_op[i] = 0
            p_op_id[i] = 0
        else:
            b_op[i >> 3] |= <unsigned char>(1 << (i & 7))
            p_op[i] = o
            p_op_id[i] = (seq << 32) | (<long long>t << 12) | o
        k = rows.mux_kind[i]
        if k == MUX_ID:
            b_mux[i >> 3] |= <unsigned char>(1 << (i & 7))
            p_mux[i] = rows.mux_id[i]
        else:
            mux_nulls += 1
            p_mux[i] = 0
        if k != MUX_NONE:
            memo_type[i] = MUX_NAMES[k]
        a = rows.amount[i]
        if -DECIMAL_LIMIT < a < DECIMAL_LIMIT:
            b_amount[i >> 3] |= <unsigned char>(1 << (i & 7))
            u = <sa_u128>a
            for k in range(16):
                p_amount[16 * i + k] = <unsigned char>(u >> (8 * k))
        else:
            amount_nulls += 1
            memset(&p_amount[16 * i], 0, 16)
        asset = rows.asset[i]
        if asset is not None:
            info = <AssetInfo>asset
            asset_text[i] = info.qualified
            asset_type[i] = info.asset_type
            asset_code[i] = info.code
            asset_issuer[i] = info.issuer
    buffer = pa_py_buffer
    string = pa_string
    arrays = [
        pa_Array_from_buffers(SEQ_TYPE, n, [None, buffer(seqs)], null_count=0),
        pa_Array_from_buffers(CLOSED_TYPE, n, [None, buffer(closed)], null_count=0),
        text_array(rows.tx_hash, string, False),
        pa_Array_from_buffers(UINT32, n, [None, buffer(tx_index)], null_count=0),
        pa_Array_from_buffers(
            UINT32, n, [buffer(op_valid) if op_nulls else None, buffer(op_index)], null_count=op_nulls
        ),
        pa_Array_from_buffers(UINT32, n, [None, buffer(event_index)], null_count=0),
        text_array(rows.event_type, string, False),
        text_array(rows.from_, string, False),
        text_array(rows.to, string, False),
        text_array(asset_text, string, False),
        text_array(asset_type, string, False),
        text_array(asset_code, string, False),
        text_array(asset_issuer, string, False),
        amount_text_array(rows),
        pa_Array_from_buffers(
            AMOUNT, n, [buffer(amount_valid) if amount_nulls else None, buffer(amounts)],
            null_count=amount_nulls,
        ),
        text_array(rows.contract, string, False),
        text_array(rows.to_muxed, string, False),
        pa_Array_from_buffers(
            UINT64, n, [buffer(mux_valid) if mux_nulls else None, buffer(mux_id)], null_count=mux_nulls
        ),
        text_array(memo_type, string, False),
        text_array(rows.memo, BINARY, True),
        pa_Array_from_buffers(INT64, n, [None, buffer(tx_id)], null_count=0),
        pa_Array_from_buffers(
            INT64, n, [buffer(op_valid) if op_nulls else None, buffer(op_id)], null_count=op_nulls
        ),
        text_array(rows.op_type, string, False),
    ]
    return pa_RecordBatch_from_arrays(arrays, schema=SCHEMA)
