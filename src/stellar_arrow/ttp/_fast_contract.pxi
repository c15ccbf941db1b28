# Included by _fast.pyx: the rows of contract (Soroban) token events, ttp/contract.py: functions of the
# ``Deriver`` deriving the current operation.



cdef str sc_address(Deriver d, object address):
    """StrKey of an ``SCAddress`` (``xdr.strkey.sc_address_strkey``); ``g_key``: the key of a G one."""
    kind = address.type
    d.g_key = None
    if kind == 0:
        key = account_key(address.value)
        d.g_key = key
        return g_address(key)
    if kind == 1:
        return c_address(address.value)
    if kind == 2:
        muxed = address.value
        return m_address(muxed.ed25519, muxed.id)
    if kind == 3:
        return b_address(balance_id_hash(address.value))
    return l_address(address.value)

cdef int invoke_host_function(Deriver d) except -1:
    meta = d.tx.meta
    cdef int version = meta.v
    if version == 3:
        soroban = meta.value.soroban_meta
        events = soroban.events if soroban is not None else ()
    elif version == 4:
        ops = meta.value.operations
        events = ops[d.index0].events if d.index0 < len(ops) else ()
    else:
        return 0
    for event in events:
        contract_event(d, event, version)
    return 0

cdef bint amount_and_mux(Deriver d, object data, int version, sa_i128* amount) except -1:
    """``contract._amount_and_mux``: False when the data is not a token amount; sets the mux fields."""
    d.no_mux()
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
                d.mux_kind = MUX_ID
                d.mux_id = val.value
                d.memo = None
            elif kind == SCV_BYTES:
                d.mux_kind = MUX_HASH
                d.mux_id = 0
                d.memo = bytes(val.value).ljust(32, b"\x00")[:32]
            elif kind == SCV_STRING:
                d.mux_kind = MUX_TEXT
                d.mux_id = 0
                d.memo = val.value
            else:
                return False
    return found

cdef int contract_event(Deriver d, object event, int version) except -1:
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
    if not amount_and_mux(d, body.data, version, &amount):
        return 0
    addresses = []
    keys = []
    cdef Py_ssize_t i
    for i in range(1, minimum):
        topic = topics[i]
        if topic.type != SCV_ADDRESS:
            return 0
        addresses.append(sc_address(d, topic.value))
        keys.append(d.g_key)
    contract_id = event.contract_id
    asset = None
    if count == exact:
        last = topics[count - 1]
        text = last.value if last.type == SCV_STRING else None
        if text:
            parsed = parse_sep11_asset(text)
            if parsed is not None and sac_contract_id(parsed, d.net.network_id) == contract_id:
                asset = parsed
    contract = c_address(contract_id)
    cdef AssetInfo info = d.net.of_asset(asset)
    cdef unsigned int op_index = d.index0 + 1
    if fn == b"transfer":
        if version == 3 and asset is not None:
            d.no_mux()  # pre-23 SACs only said transfer: classified, no muxed info
            return d.classify(info, addresses[0], addresses[1], keys[1], amount)
        return d.rows.add(
            d.hash_hex, d.tx_index, op_index, T_TRANSFER, addresses[0], addresses[1], keys[1],
            info, amount, contract, d.mux_kind, d.mux_id, d.memo, d.op_type,
        )
    if fn == b"mint":
        return d.rows.add(
            d.hash_hex, d.tx_index, op_index, T_MINT, None, addresses[minimum - 2], keys[minimum - 2],
            info, amount, contract, d.mux_kind, d.mux_id, d.memo, d.op_type,
        )
    if fn == b"clawback":
        return d.rows.add(
            d.hash_hex, d.tx_index, op_index, T_CLAWBACK, addresses[minimum - 2], None, None,
            info, amount, contract, MUX_NONE, 0, None, d.op_type,
        )
    return d.rows.add(
        d.hash_hex, d.tx_index, op_index, T_BURN, addresses[0], None, None,
        info, amount, contract, MUX_NONE, 0, None, d.op_type,
    )
