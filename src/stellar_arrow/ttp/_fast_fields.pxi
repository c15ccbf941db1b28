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


cdef inline object arm_value(object union, int case):
    """A union's named arm (``xdr.record.arm``): its value when the discriminant is ``case``, else None.
    Two C-level reads instead of the arm's Python-level property."""
    if union.type == case:
        return union.value
    return None


cdef inline object arm_value_code(object union, int case):
    """``arm_value`` of a union whose discriminant is called ``code``."""
    if union.code == case:
        return union.value
    return None


cdef inline object balance_id_hash(object balance_id):
    """``ClaimableBalanceID.v0`` (``Defer`` for another id type, whose arm would be None)."""
    if balance_id.type != 0:
        raise Defer("a claimable balance id that is not v0")
    return balance_id.value


cdef inline object account_key(object account_id):
    """``AccountID.ed25519`` (``Defer`` for another key type, whose arm would be None)."""
    if account_id.type != 0:
        raise Defer("a public key that is not ed25519")
    return account_id.value


cdef inline object muxed_key(object account):
    """ed25519 key of an ``X.MuxedAccount`` (``ledger.view.muxed_key``)."""
    if account.type == KEY_TYPE_MUXED_ED25519:
        return account.value.ed25519
    return account.value


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
        kind = asset.type
        if kind == 0:
            return self.native
        if kind != 1 and kind != 2:
            raise ValueError(f"asset type {kind} is not a classic asset")
        arm = asset.value
        code = arm.asset_code
        issuer = account_key(arm.issuer)
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
