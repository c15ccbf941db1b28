# Included by _fast.pyx: the derivation of one ledger's rows, mirroring ttp/processor.py, fees.py,
# operations.py, operation.py, trades.py, accounts.py and claimable.py line by line (contract events:
# _fast_contract.pxi). Operation types whose events are rare (claiming and clawing back claimable balances,
# clawbacks, pools, revocations, inflation) and every operation before protocol 8 run the Python handler
# itself, whose events become rows. Anything the Python code would reject raises ``Defer`` (or any error):
# the caller then runs the Python derivation for the whole ledger, which gives the reference result or error.


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
            return invoke_host_function(self)
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
