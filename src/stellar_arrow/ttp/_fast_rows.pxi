# Included by _fast.pyx: the token_transfers rows of a ledger, derived into column buffers (no event object
# per row). Mirrors ttp/processor.py, fees.py, operations.py, operation.py, trades.py, accounts.py and
# contract.py line by line; operation types whose events are rare (claimable balances, clawbacks, pools,
# revocations, inflation) and every operation before protocol 8 run the Python handler itself, whose events
# become rows. Anything the Python code would reject raises ``Defer`` (or any error): the caller then runs
# the Python derivation for the whole ledger, which produces the reference result or error.

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
cdef sa_i128 I128_MAX_PY_CHECK = 0


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


cdef class Deriver:
    """Derives one ledger's rows (derived mode) into :class:`Rows`."""

    cdef Rows rows
    cdef Network net
    cdef int protocol
    # the transaction being derived
    cdef object tx, inner, envelope
    cdef str hash_hex
    cdef unsigned int tx_index
    # the operation being derived
    cdef object op, result
    cdef Py_ssize_t index0
    cdef str op_type
    cdef str _source_address
    cdef object _source_key
    # the destination's muxed info of the next row
    cdef int mux_kind
    cdef unsigned long long mux_id
    cdef object memo
    # set by ``fee`` / ``sc_address``
    cdef object payer, g_key

    def __cinit__(self, Network net, int protocol):
        self.rows = Rows()
        self.net = net
        self.protocol = protocol

    cdef int set_tx(self, object tx) except -1:
        self.tx = tx
        self.inner = tx.tx
        self.envelope = tx.envelope
        self.hash_hex = tx.hash_hex
        self.tx_index = tx.transaction_index
        return 0

    cdef object operation_results(self):
        """``LedgerTransaction.operation_results``."""
        result = A(A(self.tx.result_pair, "result", 33), "result", 34)
        code = A(result, "code", 35)
        if code == TX_FEE_BUMP_INNER_SUCCESS or code == TX_FEE_BUMP_INNER_FAILED:
            inner = A(A(A(result, "value", 36), "result", 37), "result", 38)
            code = A(inner, "code", 39)
            return A(inner, "value", 40) if code == TX_SUCCESS or code == TX_FAILED else None
        return A(result, "value", 41) if code == TX_SUCCESS or code == TX_FAILED else None

    cdef object tx_source_key(self):
        """``LedgerTransaction.source_key``."""
        if A(self.envelope, "type", 42) == ENVELOPE_TYPE_TX_V0:
            return A(A(A(self.envelope, "value", 43), "tx", 44), "source_account_ed25519", 45)
        return muxed_key(A(self.inner, "source_account", 46))

    # -- fees (ttp/fees.py) --------------------------------------------------------------------------

    cdef sa_i128 fee(self) except? -1:
        """The charge row of the current transaction; returns its refund (0: none), ``payer`` its payer."""
        envelope = self.envelope
        tx = self.tx
        if A(envelope, "type", 47) == ENVELOPE_TYPE_TX_FEE_BUMP:
            fee_source = muxed_key(A(A(A(envelope, "value", 48), "tx", 49), "fee_source", 50))
        else:
            fee_source = self.tx_source_key()
        payer = g_address(fee_source)
        self.payer = payer
        cdef sa_i128 charge, refund = 0
        cdef long long charged
        if not (A(envelope, "type", 51) != ENVELOPE_TYPE_TX_V0 and A(A(self.inner, "ext", 52), "v", 53) == 1):
            charged = A(A(tx.result_pair, "result", 54), "fee_charged", 55)
            charge = charged
        else:
            processing = tx.processing
            charge = -balance_change(processing.fee_processing, fee_source, True)
            meta = tx.meta
            if meta.v >= 2:
                refund += balance_change(meta.value.tx_changes_after, fee_source, False)
            post = getattr(processing, "post_tx_apply_fee_processing", None)
            if post:
                refund += balance_change(post, fee_source, False)
        self.rows.add(
            self.hash_hex, self.tx_index, 0, T_FEE, payer, None, None, self.net.native, charge,
            self.net.native_sac, MUX_NONE, 0, None, None,
        )
        return refund

    # -- operations (ttp/operations.py) ------------------------------------------------------------

    cdef int operations(self) except -1:
        tx = self.tx
        code = A(A(A(tx.result_pair, "result", 56), "result", 57), "code", 58)
        if code != TX_SUCCESS and code != TX_FEE_BUMP_INNER_SUCCESS:
            return 0
        results = None
        cdef bint reconcile = self.protocol < 8
        cdef Py_ssize_t index0 = 0
        for op in A(self.inner, "operations", 59):
            op_type = A(A(op, "body", 60), "type", 61)
            if op_type not in HANDLERS:
                index0 += 1
                continue
            if results is None:
                results = self.operation_results() or []
            result = None
            if index0 < len(results):
                result = arm_value_code(results[index0], 0, 0)  # OperationResult.tr
            self.op = op
            self.result = result
            self.index0 = index0
            self.op_type = OPERATION_TYPES[op_type]
            self._source_address = None
            self._source_key = None
            if reconcile or op_type not in COMPILED_OPERATIONS:
                self.python_operation(op_type, reconcile)
            else:
                self.compiled_operation(op_type)
            index0 += 1
        return 0

    cdef int python_operation(self, object op_type, bint reconcile) except -1:
        """The Python handler (and the pre-8 reconciliation) of the current operation, as rows."""
        ctx = OperationContext(self.tx, self.index0, self.op, self.result, self.op_type)
        events = HANDLERS[op_type](ctx)
        if reconcile and op_type not in NO_RECONCILIATION:
            events = reconcile_pre8(ctx, events)
        for ev in events:
            self.add_event(ev)
        return 0

    cdef int add_event(self, object ev) except -1:
        """A row from an event object (``ttp.table._PARTIES`` and ``_META_FIELDS``)."""
        meta = ev.meta
        kind = type(ev)
        if kind is Transfer:
            from_, to = ev.from_, ev.to
        elif kind is Mint:
            from_, to = None, ev.to
        elif kind is Burn or kind is Clawback:
            from_, to = ev.from_, None
        else:
            raise Defer(f"a {kind.__name__} from an operation handler")
        mux = meta.to_muxed_info
        cdef int mux_kind = MUX_NONE
        cdef unsigned long long mux_id = 0
        memo = None
        if mux is not None:
            mux_kind = KIND_OF_NAME[mux.kind]
            if isinstance(mux.value, int):
                if mux_kind != MUX_ID:
                    raise Defer("an integer memo that is not an id")
                mux_id = mux.value
            else:
                if mux_kind == MUX_ID:
                    raise Defer("an id that is not an integer")
                memo = mux.value
        op_index = meta.operation_index
        self.rows.add(
            meta.tx_hash, meta.transaction_index, 0 if op_index is None else op_index, ev.event_type,
            from_, to, None, self.net.of_asset(ev.asset), i128_of_int(ev.amount), meta.contract_address,
            mux_kind, mux_id, memo, meta.operation_type,
        )
        return 0

    cdef str source_address(self):
        """``OperationContext.source_address``."""
        if self._source_address is None:
            account = A(self.op, "source_account", 62)
            key = muxed_key(account) if account is not None else self.tx_source_key()
            self._source_key = key
            self._source_address = g_address(key)
        return self._source_address

    cdef int destination_mux(self, object destination) except -1:
        """``OperationContext.destination_mux`` into ``mux_kind``/``mux_id``/``memo``."""
        self.memo = None
        self.mux_id = 0
        if destination is not None and A(destination, "type", 63) == KEY_TYPE_MUXED_ED25519:
            self.mux_kind = MUX_ID
            self.mux_id = A(A(destination, "value", 64), "id", 65)
            return 0
        memo = A(self.inner, "memo", 66)
        kind = A(memo, "type", 67)
        if kind == MEMO_ID:
            self.mux_kind = MUX_ID
            self.mux_id = A(memo, "value", 68)
        elif kind == MEMO_TEXT:
            self.mux_kind = MUX_TEXT
            self.memo = A(memo, "value", 68)
        elif kind == MEMO_HASH or kind == MEMO_RETURN:
            self.mux_kind = MUX_HASH
            self.memo = A(memo, "value", 68)
        else:
            self.mux_kind = MUX_NONE
        return 0

    cdef inline int no_mux(self) except -1:
        self.mux_kind = MUX_NONE
        self.mux_id = 0
        self.memo = None
        return 0

    cdef int classify(
        self, AssetInfo asset, str from_, str to, object to_key, sa_i128 amount
    ) except -1:
        """``operation.classify`` with the muxed info set before (``destination_mux`` / ``no_mux``)."""
        issuer = asset.issuer
        cdef bint from_issuer = issuer is not None and from_ == issuer
        cdef bint to_issuer = issuer is not None and to == issuer
        if from_issuer and not to_issuer:
            return self.rows.add(
                self.hash_hex, self.tx_index, self.index0 + 1, T_MINT, None, to, to_key, asset, amount,
                asset.sac, self.mux_kind, self.mux_id, self.memo, self.op_type,
            )
        if to_issuer and not from_issuer:
            return self.rows.add(
                self.hash_hex, self.tx_index, self.index0 + 1, T_BURN, from_, None, None, asset, amount,
                asset.sac, MUX_NONE, 0, None, self.op_type,
            )
        return self.rows.add(
            self.hash_hex, self.tx_index, self.index0 + 1, T_TRANSFER, from_, to, to_key, asset, amount,
            asset.sac, self.mux_kind, self.mux_id, self.memo, self.op_type,
        )

    cdef int compiled_operation(self, int op_type) except -1:
        cdef long long amount
        body = A(self.op, "body", 69)
        result = self.result
        if op_type == OP_PAYMENT:
            op = A(body, "value", 70)
            dest = A(op, "destination", 71)
            asset = self.net.of_xdr(A(op, "asset", 72))
            source = self.source_address()
            key = muxed_key(dest)
            to = g_address(key)
            amount = A(op, "amount", 73)
            self.destination_mux(dest)
            return self.classify(asset, source, to, key, amount)
        if op_type == OP_MANAGE_SELL_OFFER or op_type == OP_MANAGE_BUY_OFFER or op_type == OP_CREATE_PASSIVE_SELL_OFFER:
            if result is None:
                raise Defer("successful offer operation without a result")
            success = self.success(result)
            if success is None:
                raise Defer("successful offer operation without a success result")
            return self.claim_atoms(A(success, "offers_claimed", 74))
        if op_type == OP_PATH_PAYMENT_STRICT_RECEIVE or op_type == OP_PATH_PAYMENT_STRICT_SEND:
            op = body.value
            success = self.success(result) if result is not None else None
            if success is None:
                raise Defer("successful path payment without a success result")
            if op_type == OP_PATH_PAYMENT_STRICT_RECEIVE:
                amount = op.dest_amount
            else:
                amount = success.last.amount
            self.claim_atoms(success.offers)
            dest = op.destination
            asset = self.net.of_xdr(op.dest_asset)
            source = self.source_address()
            key = muxed_key(dest)
            to = g_address(key)
            self.destination_mux(dest)
            return self.classify(asset, source, to, key, amount)
        if op_type == OP_CREATE_ACCOUNT:
            op = body.value
            key = account_key(op.destination)
            dest_address = g_address(key)
            amount = op.starting_balance
            self.destination_mux(None)
            return self.classify(self.net.native, self.source_address(), dest_address, key, amount)
        if op_type == OP_ACCOUNT_MERGE:
            if result is None:
                raise Defer("successful ACCOUNT_MERGE without a result")
            if result.type != OP_ACCOUNT_MERGE:
                raise Defer("an ACCOUNT_MERGE with another operation's result")
            balance = arm_value_code(A(result, "value", 90), 0, 91)  # AccountMergeResult.source_account_balance
            if balance is None:
                return 0
            amount = balance
            dest = body.destination
            key = muxed_key(dest)
            to = g_address(key)
            source = self.source_address()
            self.destination_mux(dest)
            return self.classify(self.net.native, source, to, key, amount)
        if op_type == OP_INVOKE_HOST_FUNCTION:
            return self.invoke_host_function()
        if op_type == OP_CREATE_CLAIMABLE_BALANCE:  # claimable.create_claimable_balance_events
            if result is None:
                raise Defer("successful CREATE_CLAIMABLE_BALANCE without a result")
            if result.type != OP_CREATE_CLAIMABLE_BALANCE:
                raise Defer("a CREATE_CLAIMABLE_BALANCE with another operation's result")
            balance_id = arm_value_code(A(result, "value", 93), 0, 94)
            if balance_id is None:
                raise Defer("successful CREATE_CLAIMABLE_BALANCE without a balance id")
            op = body.value
            holder = b_address(balance_id_hash(balance_id))
            asset = self.net.of_xdr(op.asset)
            source = self.source_address()
            amount = op.amount
            self.no_mux()
            return self.classify(asset, source, holder, None, amount)
        raise Defer(f"operation type {op_type} has no compiled handler")

    cdef object success(self, object result):
        """``result.value.success`` of an offer or path payment (``Defer`` for a result of another kind,
        which has no ``success``)."""
        cdef int site
        kind = A(result, "type", 75)
        if not (
            kind == OP_PATH_PAYMENT_STRICT_RECEIVE or kind == OP_MANAGE_SELL_OFFER
            or kind == OP_CREATE_PASSIVE_SELL_OFFER or kind == OP_MANAGE_BUY_OFFER
            or kind == OP_PATH_PAYMENT_STRICT_SEND
        ):
            raise Defer("an offer or path payment with another operation's result")
        # one pair of sites per result class (passive offers have manage-sell-offer results)
        site = 112 if kind == OP_PATH_PAYMENT_STRICT_RECEIVE else 114 if kind == OP_MANAGE_BUY_OFFER else (
            116 if kind == OP_PATH_PAYMENT_STRICT_SEND else 118
        )
        return arm_value_code(A(result, "value", 96), 0, site)

    cdef int claim_atoms(self, object atoms) except -1:
        """``trades.claim_atom_events``: two rows per atom, never muxed info."""
        if not atoms:
            return 0
        source = self.source_address()
        source_key = self._source_key
        cdef long long sold, bought
        cdef int site
        for atom in atoms:
            kind = A(atom, "type", 76)
            claim = A(atom, "value", 77)
            seller_key = None
            if kind == 0:
                seller_key = A(claim, "seller_ed25519", 78)
                seller = g_address(seller_key)
            elif kind == 1:
                seller_key = account_key(A(claim, "seller_id", 79))
                seller = g_address(seller_key)
            else:
                seller = l_address(A(claim, "liquidity_pool_id", 80))
            # sites per arm class: ClaimOfferAtomV0 / ClaimOfferAtom / ClaimLiquidityAtom
            site = 100 if kind == 0 else 104 if kind == 1 else 108
            asset_sold = self.net.of_xdr(A(claim, "asset_sold", site))
            sold = A(claim, "amount_sold", site + 1)
            self.no_mux()
            self.classify(asset_sold, seller, source, source_key, sold)
            asset_bought = self.net.of_xdr(A(claim, "asset_bought", site + 2))
            bought = A(claim, "amount_bought", site + 3)
            self.classify(asset_bought, source, seller, seller_key, bought)
        return 0

    # -- contract events (ttp/contract.py) ---------------------------------------------------------

    cdef str sc_address(self, object address):
        """StrKey of an ``SCAddress`` (``xdr.strkey.sc_address_strkey``); ``g_key``: the key of a G one."""
        kind = address.type
        self.g_key = None
        if kind == 0:
            key = account_key(address.value)
            self.g_key = key
            return g_address(key)
        if kind == 1:
            return c_address(address.value)
        if kind == 2:
            muxed = address.value
            return m_address(muxed.ed25519, muxed.id)
        if kind == 3:
            return b_address(balance_id_hash(address.value))
        return l_address(address.value)

    cdef int invoke_host_function(self) except -1:
        meta = self.tx.meta
        cdef int version = meta.v
        if version == 3:
            soroban = meta.value.soroban_meta
            events = soroban.events if soroban is not None else ()
        elif version == 4:
            ops = meta.value.operations
            events = ops[self.index0].events if self.index0 < len(ops) else ()
        else:
            return 0
        for event in events:
            self.contract_event(event, version)
        return 0

    cdef bint amount_and_mux(self, object data, int version, sa_i128* amount) except -1:
        """``contract._amount_and_mux``: False when the data is not a token amount; sets the mux fields."""
        self.no_mux()
        kind = data.type
        if kind == SCV_I128:
            amount[0] = i128_of(data.value)
            return True
        if version < 4 or kind != SCV_MAP:
            return False
        entries = data.value
        if entries is None:
            return False
        cdef bint found = False
        for entry in entries:
            key = entry.key
            if key.type != SCV_SYMBOL:
                return False
            name = key.value
            val = entry.val
            if name == b"amount":
                if val.type != SCV_I128:
                    return False
                amount[0] = i128_of(val.value)
                found = True
            elif name == b"to_muxed_id":
                kind = val.type
                if kind == SCV_U64:
                    self.mux_kind = MUX_ID
                    self.mux_id = val.value
                    self.memo = None
                elif kind == SCV_BYTES:
                    self.mux_kind = MUX_HASH
                    self.mux_id = 0
                    self.memo = bytes(val.value).ljust(32, b"\x00")[:32]
                elif kind == SCV_STRING:
                    self.mux_kind = MUX_TEXT
                    self.mux_id = 0
                    self.memo = val.value
                else:
                    return False
        return found

    cdef int contract_event(self, object event, int version) except -1:
        if event.type != CONTRACT_EVENT or event.contract_id is None:
            return 0
        body = event.body
        if body.v != 0:
            return 0
        body = body.value
        topics = body.topics
        cdef Py_ssize_t count = len(topics)
        if count < 2 or topics[0].type != SCV_SYMBOL:
            return 0
        fn = topics[0].value
        cdef int minimum, exact
        if fn == b"transfer":
            minimum, exact = 3, 4
        elif fn == b"mint":
            minimum, exact = (3, 4) if version == 3 else (2, 3)
        elif fn == b"clawback":
            minimum, exact = (3, 4) if version == 3 else (2, 3)
        elif fn == b"burn":
            minimum, exact = 2, 3
        else:
            return 0
        if count < minimum:
            return 0
        cdef sa_i128 amount = 0
        if not self.amount_and_mux(body.data, version, &amount):
            return 0
        addresses = []
        keys = []
        cdef Py_ssize_t i
        for i in range(1, minimum):
            topic = topics[i]
            if topic.type != SCV_ADDRESS:
                return 0
            addresses.append(self.sc_address(topic.value))
            keys.append(self.g_key)
        contract_id = event.contract_id
        asset = None
        if count == exact:
            last = topics[count - 1]
            text = last.value if last.type == SCV_STRING else None
            if text:
                parsed = parse_sep11_asset(text)
                if parsed is not None and sac_contract_id(parsed, self.net.network_id) == contract_id:
                    asset = parsed
        contract = c_address(contract_id)
        cdef AssetInfo info = self.net.of_asset(asset)
        cdef unsigned int op_index = self.index0 + 1
        if fn == b"transfer":
            if version == 3 and asset is not None:
                self.no_mux()  # pre-23 SACs only said transfer: classified, no muxed info
                return self.classify(info, addresses[0], addresses[1], keys[1], amount)
            return self.rows.add(
                self.hash_hex, self.tx_index, op_index, T_TRANSFER, addresses[0], addresses[1], keys[1],
                info, amount, contract, self.mux_kind, self.mux_id, self.memo, self.op_type,
            )
        if fn == b"mint":
            return self.rows.add(
                self.hash_hex, self.tx_index, op_index, T_MINT, None, addresses[minimum - 2], keys[minimum - 2],
                info, amount, contract, self.mux_kind, self.mux_id, self.memo, self.op_type,
            )
        if fn == b"clawback":
            return self.rows.add(
                self.hash_hex, self.tx_index, op_index, T_CLAWBACK, addresses[minimum - 2], None, None,
                info, amount, contract, MUX_NONE, 0, None, self.op_type,
            )
        return self.rows.add(
            self.hash_hex, self.tx_index, op_index, T_BURN, addresses[0], None, None,
            info, amount, contract, MUX_NONE, 0, None, self.op_type,
        )

    # -- the ledger (ttp/processor.py) -------------------------------------------------------------

    cdef int ledger(self, object txs) except -1:
        """Charges of all txs, then per tx its operations (+ refund before 23), then (from 23) all refunds."""
        cdef Py_ssize_t n = len(txs), i
        cdef sa_i128* refunds = <sa_i128*>PyMem_Malloc((n + 1) * sizeof(sa_i128))
        if refunds == NULL:
            raise MemoryError()
        payers = [None] * n
        try:
            for i in range(n):
                self.set_tx(txs[i])
                refunds[i] = self.fee()
                payers[i] = self.payer
            for i in range(n):
                self.set_tx(txs[i])
                self.operations()
                if self.protocol < 23 and refunds[i] > 0:
                    self.refund(payers[i], refunds[i])
            if self.protocol >= 23:
                for i in range(n):
                    if refunds[i] > 0:
                        self.set_tx(txs[i])
                        self.refund(payers[i], refunds[i])
        finally:
            PyMem_Free(refunds)
        return 0

    cdef int refund(self, object payer, sa_i128 amount) except -1:
        return self.rows.add(
            self.hash_hex, self.tx_index, 0, T_FEE, payer, None, None, self.net.native, -amount,
            self.net.native_sac, MUX_NONE, 0, None, None,
        )
