# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True
"""Compiled StrKey (SEP-23) encoder: version byte + payload + CRC16-XModem (little-endian), base32
without padding. One copy for every compiled module (they ``cimport`` it through ``_strkey.pxd``);
the pure-Python codec in ``strkey.py`` is the reference it is tested against.
"""

from cpython.unicode cimport PyUnicode_DecodeASCII
from libc.string cimport memcpy

cdef const char* _ALPHABET = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
cdef unsigned short _CRC_TABLE[256]


cdef void _fill_crc_table() noexcept:
    cdef unsigned int crc
    cdef int byte, bit
    for byte in range(256):
        crc = <unsigned int>byte << 8
        for bit in range(8):
            if crc & 0x8000:
                crc = ((crc << 1) ^ 0x1021) & 0xFFFF
            else:
                crc = (crc << 1) & 0xFFFF
        _CRC_TABLE[byte] = <unsigned short>crc


_fill_crc_table()


cdef str strkey_encode(unsigned char version, const unsigned char* payload, Py_ssize_t size):
    """StrKey of ``size`` payload bytes (at most ``STRKEY_MAX_PAYLOAD``)."""
    cdef unsigned char raw[STRKEY_MAX_PAYLOAD + 3]
    cdef char text[112]  # ceil((64 + 3) * 8 / 5) = 108
    cdef Py_ssize_t n, i, length = 0
    cdef unsigned int crc = 0, buffer = 0
    cdef int bits = 0
    if size < 0 or size > STRKEY_MAX_PAYLOAD:
        raise ValueError(f"strkey payload of {size} bytes (at most {STRKEY_MAX_PAYLOAD})")
    raw[0] = version
    memcpy(&raw[1], payload, size)
    n = size + 1
    for i in range(n):
        crc = ((crc << 8) & 0xFFFF) ^ _CRC_TABLE[((crc >> 8) ^ raw[i]) & 0xFF]
    raw[n] = crc & 0xFF
    raw[n + 1] = (crc >> 8) & 0xFF
    n += 2
    for i in range(n):
        buffer = ((buffer << 8) | raw[i]) & 0xFFFF
        bits += 8
        while bits >= 5:
            bits -= 5
            text[length] = _ALPHABET[(buffer >> bits) & 31]
            length += 1
    if bits:
        text[length] = _ALPHABET[(buffer << (5 - bits)) & 31]
        length += 1
    return PyUnicode_DecodeASCII(text, length, NULL)


cdef str account_strkey_c(const unsigned char* ed25519):
    """G-address of a 32-byte ed25519 key."""
    return strkey_encode(VERSION_ACCOUNT, ed25519, 32)


cdef str muxed_strkey_c(const unsigned char* ed25519, unsigned long long muxed_id):
    """M-address: the key, then the id big-endian."""
    cdef unsigned char payload[40]
    cdef int i
    memcpy(payload, ed25519, 32)
    for i in range(8):
        payload[39 - i] = (muxed_id >> (8 * i)) & 0xFF
    return strkey_encode(VERSION_MUXED_ACCOUNT, payload, 40)


def encode(int version, bytes payload) -> str:
    """Python entry point (tests and ``strkey.py``): StrKey of ``payload`` under ``version``."""
    if version < 0 or version > 255:
        raise ValueError(f"strkey version byte {version} out of range")
    return strkey_encode(<unsigned char>version, <const unsigned char*>payload, len(payload))
