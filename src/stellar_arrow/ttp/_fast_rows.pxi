# Included by _fast.pyx: the discriminants the derivation reads, the column buffers of the rows (no event
# object per row) and the balance changes of the fee processing.

# union discriminants (Stellar-*.x)
cdef enum:
    KEY_TYPE_MUXED_ED25519 = 0x100
    ENVELOPE_TYPE_TX_V0 = 0
    ENVELOPE_TYPE_TX_FEE_BUMP = 5
    TX_SUCCESS = 0
    TX_FEE_BUMP_INNER_SUCCESS = 1
    TX_FEE_BUMP_INNER_FAILED = -13
    TX_FAILED = -1
    MEMO_TEXT = 1
    MEMO_ID = 2
    MEMO_HASH = 3
    MEMO_RETURN = 4
    CHANGE_CREATED = 0
    CHANGE_UPDATED = 1
    CHANGE_REMOVED = 2
    CHANGE_STATE = 3
    CHANGE_RESTORED = 4
    ENTRY_ACCOUNT = 0
    CONTRACT_EVENT = 1
    SCV_U64 = 5
    SCV_I128 = 10
    SCV_BYTES = 13
    SCV_STRING = 14
    SCV_SYMBOL = 15
    SCV_MAP = 17
    SCV_ADDRESS = 18
    # operation types
    OP_CREATE_ACCOUNT = 0
    OP_PAYMENT = 1
    OP_PATH_PAYMENT_STRICT_RECEIVE = 2
    OP_MANAGE_SELL_OFFER = 3
    OP_CREATE_PASSIVE_SELL_OFFER = 4
    OP_ACCOUNT_MERGE = 8
    OP_MANAGE_BUY_OFFER = 12
    OP_PATH_PAYMENT_STRICT_SEND = 13
    OP_CREATE_CLAIMABLE_BALANCE = 14
    OP_INVOKE_HOST_FUNCTION = 24

# mux kinds of a row (``to_muxed_memo_type``)
cdef enum:
    MUX_NONE = 0
    MUX_ID = 1
    MUX_TEXT = 2
    MUX_HASH = 3

cdef tuple MUX_NAMES = (None, "id", "text", "hash")
cdef str T_TRANSFER = "transfer"
cdef str T_MINT = "mint"
cdef str T_BURN = "burn"
cdef str T_CLAWBACK = "clawback"
cdef str T_FEE = "fee"
cdef dict KIND_OF_NAME = {"id": MUX_ID, "text": MUX_TEXT, "hash": MUX_HASH}


cdef class Rows:
    """Column buffers of the token_transfers rows of one ledger, in ledger order."""

    cdef Py_ssize_t n, cap
    cdef unsigned int* tx_index
    cdef unsigned int* op_index  # 0: null (fee events; operation indexes are 1-based)
    cdef sa_i128* amount
    cdef unsigned long long* mux_id
    cdef unsigned char* mux_kind
    cdef list tx_hash, event_type, from_, to, asset, contract, to_muxed, memo, op_type

    def __cinit__(self):
        self.n = 0
        self.cap = 0
        self.tx_index = NULL
        self.op_index = NULL
        self.amount = NULL
        self.mux_id = NULL
        self.mux_kind = NULL
        self.tx_hash, self.event_type, self.from_, self.to = [], [], [], []
        self.asset, self.contract, self.to_muxed, self.memo, self.op_type = [], [], [], [], []

    def __dealloc__(self):
        PyMem_Free(self.tx_index)
        PyMem_Free(self.op_index)
        PyMem_Free(self.amount)
        PyMem_Free(self.mux_id)
        PyMem_Free(self.mux_kind)

    def __len__(self):
        return self.n

    cdef int _grow(self) except -1:
        cdef Py_ssize_t cap = self.cap * 2 if self.cap else 256
        cdef void* p
        p = PyMem_Realloc(self.tx_index, cap * sizeof(unsigned int))
        if p == NULL:
            raise MemoryError()
        self.tx_index = <unsigned int*>p
        p = PyMem_Realloc(self.op_index, cap * sizeof(unsigned int))
        if p == NULL:
            raise MemoryError()
        self.op_index = <unsigned int*>p
        p = PyMem_Realloc(self.amount, cap * sizeof(sa_i128))
        if p == NULL:
            raise MemoryError()
        self.amount = <sa_i128*>p
        p = PyMem_Realloc(self.mux_id, cap * sizeof(unsigned long long))
        if p == NULL:
            raise MemoryError()
        self.mux_id = <unsigned long long*>p
        p = PyMem_Realloc(self.mux_kind, cap * sizeof(unsigned char))
        if p == NULL:
            raise MemoryError()
        self.mux_kind = <unsigned char*>p
        self.cap = cap
        return 0

    cdef int add(
        self,
        str tx_hash,
        unsigned int tx_index,
        unsigned int op_index,
        str event_type,
        object from_,
        object to,
        object to_key,
        AssetInfo asset,
        sa_i128 amount,
        str contract,
        int mux_kind,
        unsigned long long mux_id,
        object memo,
        object op_type,
    ) except -1:
        """One row; ``to_key``: the account key of a G ``to`` when known (the M address of a muxed id)."""
        if self.n == self.cap:
            self._grow()
        cdef Py_ssize_t i = self.n
        self.tx_index[i] = tx_index
        self.op_index[i] = op_index
        self.amount[i] = amount
        self.mux_kind[i] = <unsigned char>mux_kind
        self.mux_id[i] = mux_id
        self.tx_hash.append(tx_hash)
        self.event_type.append(event_type)
        self.from_.append(from_)
        self.to.append(to)
        self.asset.append(asset)
        self.contract.append(contract)
        to_muxed = None
        if mux_kind == MUX_ID and isinstance(to, str) and (<str>to).startswith("G"):
            if to_key is None:
                to_key = decode_strkey(to)[1]
            to_muxed = m_address(to_key, mux_id)
        self.to_muxed.append(to_muxed)
        if mux_kind == MUX_TEXT or mux_kind == MUX_HASH:
            if type(memo) is not bytes:
                raise Defer("a memo that is not bytes")
            self.memo.append(memo)
        else:
            self.memo.append(None)
        self.op_type.append(op_type)
        self.n = i + 1
        return 0

    cdef int move_last_to(self, Py_ssize_t pos) except -1:
        """Move the last row to position ``pos`` (the mint of a pre-protocol-8 reconciliation)."""
        cdef Py_ssize_t last = self.n - 1
        if pos >= last:
            return 0
        cdef unsigned int t = self.tx_index[last]
        cdef unsigned int o = self.op_index[last]
        cdef sa_i128 a = self.amount[last]
        cdef unsigned long long m = self.mux_id[last]
        cdef unsigned char k = self.mux_kind[last]
        cdef Py_ssize_t count = last - pos
        memmove(&self.tx_index[pos + 1], &self.tx_index[pos], count * sizeof(unsigned int))
        memmove(&self.op_index[pos + 1], &self.op_index[pos], count * sizeof(unsigned int))
        memmove(&self.amount[pos + 1], &self.amount[pos], count * sizeof(sa_i128))
        memmove(&self.mux_id[pos + 1], &self.mux_id[pos], count * sizeof(unsigned long long))
        memmove(&self.mux_kind[pos + 1], &self.mux_kind[pos], count * sizeof(unsigned char))
        self.tx_index[pos] = t
        self.op_index[pos] = o
        self.amount[pos] = a
        self.mux_id[pos] = m
        self.mux_kind[pos] = k
        for column in (
            self.tx_hash, self.event_type, self.from_, self.to, self.asset, self.contract,
            self.to_muxed, self.memo, self.op_type,
        ):
            (<list>column).insert(pos, (<list>column).pop())
        return 0


cdef sa_i128 i128_of_int(object value) except? -1:
    """A Python int of a Python handler's event as an i128 (``Defer`` beyond: never for real events)."""
    if not (-(1 << 127) <= value < (1 << 127)):
        raise Defer("an amount beyond i128")
    cdef long long hi = value >> 64
    cdef unsigned long long lo = value & 0xFFFFFFFFFFFFFFFF
    return (<sa_i128>hi << 64) | <sa_i128>lo


cdef sa_i128 balance_change(object changes, object account, bint last_only) except? -1:
    """``ttp.fees._balance_change``: the ``(pre, post)`` pairs of ``ttp.changes.entry_pairs``, inline."""
    cdef sa_i128 total = 0, delta
    cdef long long before, after
    cdef Py_ssize_t n = len(changes), i
    for i in range(n):
        # only an UPDATED or REMOVED change can pair a pre with a post (and REMOVED has no post)
        if A(changes[i], "type", 20) != CHANGE_UPDATED or i == 0:
            continue
        prev = changes[i - 1]
        prev_kind = A(prev, "type", 21)
        if prev_kind != CHANGE_STATE and prev_kind != CHANGE_RESTORED:
            continue
        data = A(A(prev, "value", 22), "data", 23)
        if A(data, "type", 24) != ENTRY_ACCOUNT:
            continue
        entry = A(data, "value", 25)
        if account_key(A(entry, "account_id", 26)) != account:
            continue
        post_data = A(A(changes[i], "value", 27), "data", 28)
        if A(post_data, "type", 29) != ENTRY_ACCOUNT:
            raise Defer("an account entry paired with another type")
        after = A(A(post_data, "value", 30), "balance", 31)
        before = A(entry, "balance", 32)
        delta = <sa_i128>after - <sa_i128>before
        total = delta if last_only else total + delta
    return total
