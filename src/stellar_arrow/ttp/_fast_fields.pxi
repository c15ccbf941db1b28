# Included by _fast.pyx: reading the decoded model values the derivation needs (attribute access), the
# addresses (StrKeys through the shared compiled encoder, memoised per key), assets and i128 amounts.

cdef extern from *:
    """
    typedef __int128 sa_i128;
    """
    ctypedef long long sa_i128  # a 128-bit signed integer in C; never converted to a Python object directly


class Defer(Exception):
    """The compiled derivation met something it does not reproduce exactly: the caller derives the ledger
    with the Python code (the reference) instead."""


cdef int CACHE_LIMIT = 1 << 16

# -- reading a field of a model value ---------------------------------------------------------------
# ``A(value, "name", site)`` is ``value.name``. The model's plain fields are ``property(itemgetter(i))``
# over a tuple subclass: for those, ``value.name`` is ``tuple.__getitem__(value, i)``. Each call site
# remembers the class it last saw and, when that class's attribute was proven to be such a field
# (introspected once per class and name: a property with an ``itemgetter`` of one int, no setter, the
# class keeping tuple's item access and generic attribute lookup), reads the tuple item directly. Any
# other attribute (the compiled decoder's lazy fields, a named union arm, a non-model object) is read
# with ``getattr``: the same value either way.

cdef extern from *:
    """
    static int sa_plain_tuple_class(PyObject* cls) {
        PyTypeObject* t = (PyTypeObject*)cls;
        if (!PyType_Check(cls) || !PyType_IsSubtype(t, &PyTuple_Type)) return 0;
        if (t->tp_getattro != PyObject_GenericGetAttr) return 0;
        /* itemgetter reads through PyObject_GetItem, which calls mp_subscript */
        if (t->tp_as_mapping == NULL) return 0;
        return t->tp_as_mapping->mp_subscript == PyTuple_Type.tp_as_mapping->mp_subscript;
    }
    """
    int sa_plain_tuple_class(object cls)

ctypedef struct Site:
    PyObject* cls  # the class last seen here (kept alive by _FIELD_INDEX's key)
    Py_ssize_t index  # its tuple position for this attribute; -1: read with getattr

DEF SITES = 128
cdef Site _SITES[SITES]
cdef dict _FIELD_INDEX = {}  # (class, name) -> tuple position or -1


cdef Py_ssize_t _field_index(object cls, str name) except -2:
    if not sa_plain_tuple_class(cls):
        return -1
    descriptor = None
    for klass in cls.__mro__:
        if name in klass.__dict__:
            descriptor = klass.__dict__[name]
            break
    if type(descriptor) is not property or descriptor.fset is not None or descriptor.fdel is not None:
        return -1
    getter = descriptor.fget
    if type(getter) is not itemgetter:
        return -1
    reduced = getter.__reduce__()  # (itemgetter, (index,))
    if len(reduced) != 2 or len(reduced[1]) != 1 or type(reduced[1][0]) is not int or reduced[1][0] < 0:
        return -1
    return reduced[1][0]


cdef object _slow_field(object value, str name, int site):
    cls = type(value)
    key = (cls, name)
    index = _FIELD_INDEX.get(key)
    if index is None:
        index = _FIELD_INDEX[key] = _field_index(cls, name)
    _SITES[site].cls = <PyObject*>cls
    _SITES[site].index = index
    return getattr(value, name)


cdef inline object A(object value, str name, int site):
    """``value.name`` (see above); ``site``: a number unique to the call site, below ``SITES``."""
    cdef Site* s = &_SITES[site]
    if <PyObject*>Py_TYPE(value) == s.cls and s.index >= 0 and s.index < PyTuple_GET_SIZE(value):
        return <object>PyTuple_GET_ITEM(value, s.index)
    return _slow_field(value, name, site)


# StrKeys by payload (the same few thousand keys recur in every ledger), one table per version byte
cdef dict _G = {}
cdef dict _C = {}
cdef dict _L = {}
cdef dict _B = {}


cdef inline str _keyed(dict cache, object key, unsigned char version):
    cdef object hit = cache.get(key)
    if hit is not None:
        return <str>hit
    if type(key) is not bytes or PyBytes_GET_SIZE(key) != 32:
        raise Defer("a key that is not 32 bytes")
    cdef str text
    cdef unsigned char payload[33]
    if version == VERSION_CLAIMABLE_BALANCE:  # the id's type byte (0: v0) before the hash
        payload[0] = 0
        memcpy(&payload[1], PyBytes_AS_STRING(key), 32)
        text = strkey_encode(version, payload, 33)
    else:
        text = strkey_encode(version, <const unsigned char*>PyBytes_AS_STRING(key), 32)
    if len(cache) >= CACHE_LIMIT:
        cache.clear()
    cache[key] = text
    return text


cdef inline str g_address(object key):
    return _keyed(_G, key, VERSION_ACCOUNT)


cdef inline str c_address(object key):
    return _keyed(_C, key, VERSION_CONTRACT)


cdef inline str l_address(object key):
    return _keyed(_L, key, VERSION_LIQUIDITY_POOL)


cdef inline str b_address(object key):
    return _keyed(_B, key, VERSION_CLAIMABLE_BALANCE)


cdef str m_address(object key, object muxed_id):
    if type(key) is not bytes or PyBytes_GET_SIZE(key) != 32:
        raise Defer("a key that is not 32 bytes")
    return muxed_strkey_c(<const unsigned char*>PyBytes_AS_STRING(key), <unsigned long long>muxed_id)


cdef inline object arm_value_code(object union, int case, int site):
    """A named arm (``xdr.record.arm``) of a union whose discriminant is ``code``: its value when the
    discriminant is ``case``, else None (two field reads instead of the arm's Python-level property).
    ``site`` and ``site + 1``: the call site's numbers."""
    if A(union, "code", site) == case:
        return A(union, "value", site + 1)
    return None


cdef inline object balance_id_hash(object balance_id):
    """``ClaimableBalanceID.v0`` (``Defer`` for another id type, whose arm would be None)."""
    if A(balance_id, "type", 2) != 0:
        raise Defer("a claimable balance id that is not v0")
    return A(balance_id, "value", 3)


cdef inline object account_key(object account_id):
    """``AccountID.ed25519`` (``Defer`` for another key type, whose arm would be None)."""
    if A(account_id, "type", 4) != 0:
        raise Defer("a public key that is not ed25519")
    return A(account_id, "value", 5)


cdef inline object muxed_key(object account):
    """ed25519 key of an ``X.MuxedAccount`` (``ledger.view.muxed_key``)."""
    if A(account, "type", 6) == KEY_TYPE_MUXED_ED25519:
        return A(A(account, "value", 7), "ed25519", 8)
    return A(account, "value", 9)


cdef inline sa_i128 i128_of(object parts) except? -1:
    """``Int128Parts(hi, lo)`` (hi signed, lo unsigned)."""
    cdef long long hi = parts.hi
    cdef unsigned long long lo = parts.lo
    return (<sa_i128>hi << 64) | <sa_i128>lo


cdef class AssetInfo:
    """One classic asset as the rows show it, with its SAC address on one network."""

    cdef readonly object asset  # the ttp.events.Asset
    cdef readonly object issuer  # str or None (native)
    cdef readonly str qualified, asset_type, sac
    cdef readonly object code  # str or None
    cdef readonly bint native


cdef class Network:
    """Per-network caches: assets by their XDR code and issuer key, and by their strings."""

    cdef bytes network_id
    cdef dict by_xdr, by_text
    cdef AssetInfo native
    cdef str native_sac

    def __init__(self, bytes network_id):
        self.network_id = network_id
        self.by_xdr = {}
        self.by_text = {}
        self.native = self._info(NATIVE)
        self.native_sac = self.native.sac

    cdef AssetInfo _info(self, object asset):
        cdef AssetInfo info = AssetInfo.__new__(AssetInfo)
        info.asset = asset
        info.code = asset.code
        info.issuer = asset.issuer
        info.native = asset.code is None
        info.qualified = asset.qualified
        info.asset_type = asset.asset_type
        if info.native:
            info.sac = native_sac_address(self.network_id)
        else:
            info.sac = issued_sac_address(asset.code, asset.issuer, self.network_id)
        return info

    cdef AssetInfo of_xdr(self, object asset):
        """``sac.asset_from_xdr`` (``ValueError`` for a pool-share asset), as an :class:`AssetInfo`."""
        kind = A(asset, "type", 10)
        if kind == 0:
            return self.native
        if kind != 1 and kind != 2:
            raise ValueError(f"asset type {kind} is not a classic asset")
        arm = A(asset, "value", 11)
        cdef int site = 12 if kind == 1 else 14  # AlphaNum4 / AlphaNum12
        code = A(arm, "asset_code", site)
        issuer = account_key(A(arm, "issuer", site + 1))
        key = (code, issuer)
        hit = self.by_xdr.get(key)
        if hit is not None:
            return <AssetInfo>hit
        info = self.of_asset(_issued(kind, code, issuer))
        if len(self.by_xdr) >= CACHE_LIMIT:
            self.by_xdr.clear()
        self.by_xdr[key] = info
        return info

    cdef AssetInfo of_asset(self, object asset):
        """The info of a ``ttp.events.Asset`` (None: a custom token, no asset)."""
        if asset is None:
            return None
        if asset.code is None:
            return self.native
        key = (asset.code, asset.issuer)
        hit = self.by_text.get(key)
        if hit is not None:
            return <AssetInfo>hit
        info = self._info(asset)
        if len(self.by_text) >= CACHE_LIMIT:
            self.by_text.clear()
        self.by_text[key] = info
        return info


cdef dict _NETWORKS = {}


cdef Network network_of(bytes network_id):
    hit = _NETWORKS.get(network_id)
    if hit is None:
        hit = _NETWORKS[network_id] = Network(network_id)
    return <Network>hit
