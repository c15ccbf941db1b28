# C-level StrKey (SEP-23) encoder shared by the compiled extensions:
#   from stellar_arrow.xdr._strkey cimport strkey_encode, VERSION_ACCOUNT, ...
# Cython resolves the cimport through this file; the functions live in _strkey.pyx.

cdef enum:
    VERSION_ACCOUNT = 6 << 3           # G
    VERSION_MUXED_ACCOUNT = 12 << 3    # M
    VERSION_CONTRACT = 2 << 3          # C
    VERSION_LIQUIDITY_POOL = 11 << 3   # L
    VERSION_CLAIMABLE_BALANCE = 1 << 3 # B
    STRKEY_MAX_PAYLOAD = 64

cdef str strkey_encode(unsigned char version, const unsigned char* payload, Py_ssize_t size)
cdef str account_strkey_c(const unsigned char* ed25519)
cdef str muxed_strkey_c(const unsigned char* ed25519, unsigned long long muxed_id)
