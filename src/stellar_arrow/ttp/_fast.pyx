# cython: language_level=3, boundscheck=False, wraparound=False, cdivision=True, initializedcheck=False
# cython: binding=False, embedsignature=False
"""Compiled token-transfer derivation (derived mode) straight into the ``token_transfers`` columns.

The same rows as ``ttp.processor.token_transfers_batch`` in derived mode, without an event object per
row: the decoded ledger is read through attribute access (the model's lazy parts are built as the Python
code builds them), the rows are kept in column buffers and the Arrow arrays are written from them. The
Python derivation stays the reference: ``ttp.compiled`` runs it instead whenever this module raises
(``Defer`` for what it does not reproduce, or any other error), so the result or the error is always the
Python one. Parts: ``_fast_fields.pxi`` (field reads, addresses, assets, amounts), ``_fast_rows.pxi``
(the row buffers), ``_fast_derive.pxi`` (the derivation), ``_fast_contract.pxi`` (contract events),
``_fast_arrow.pxi`` (the Arrow arrays).
"""

__all__ = ["Defer", "amount_rows", "cache_sizes", "field_indexes", "ledger_batch", "python_operation_types"]

from cpython.bytes cimport PyBytes_AS_STRING, PyBytes_FromStringAndSize, PyBytes_GET_SIZE
from cpython.mem cimport PyMem_Free, PyMem_Malloc, PyMem_Realloc
from cpython.object cimport Py_TYPE
from cpython.ref cimport PyObject
from cpython.tuple cimport PyTuple_GET_ITEM, PyTuple_GET_SIZE
from libc.string cimport memcpy, memmove, memset

from stellar_arrow.xdr._strkey cimport (
    VERSION_ACCOUNT,
    VERSION_CLAIMABLE_BALANCE,
    VERSION_CONTRACT,
    VERSION_LIQUIDITY_POOL,
    muxed_strkey_c,
    strkey_encode,
)

cdef extern from "Python.h":
    const char* PyUnicode_AsUTF8AndSize(object unicode, Py_ssize_t* size) except NULL
    bint PyUnicode_IS_COMPACT_ASCII(object unicode)
    void* PyUnicode_DATA(object unicode)
    Py_ssize_t PyUnicode_GET_LENGTH(object unicode)

from operator import itemgetter

import pyarrow as pa

from stellar_arrow.ttp.events import NATIVE, Burn, Clawback, Mint, Transfer
from stellar_arrow.ttp.operation import OperationContext
from stellar_arrow.ttp.operations import HANDLERS
from stellar_arrow.ttp.operations import _NO_RECONCILIATION as NO_RECONCILIATION
from stellar_arrow.ttp.operations import _reconcile_pre8 as reconcile_pre8
from stellar_arrow.ttp.sac import (
    _issued,
    issued_sac_address,
    native_sac_address,
    parse_sep11_asset,
    sac_contract_id,
)
from stellar_arrow.ttp.schema import AMOUNT_TYPE, TOKEN_TRANSFERS_SCHEMA
from stellar_arrow.vocabulary import OPERATION_TYPES
from stellar_arrow.xdr.strkey import decode_strkey

cdef object pa_py_buffer = pa.py_buffer
cdef object pa_Array_from_buffers = pa.Array.from_buffers
cdef object pa_RecordBatch_from_arrays = pa.RecordBatch.from_arrays
cdef object pa_string = pa.string()
cdef object SCHEMA = TOKEN_TRANSFERS_SCHEMA
cdef object SEQ_TYPE = SCHEMA.field("ledger_sequence").type
cdef object CLOSED_TYPE = SCHEMA.field("closed_at").type
cdef object UINT32 = pa.uint32()
cdef object UINT64 = pa.uint64()
cdef object INT64 = pa.int64()
cdef object BINARY = pa.binary()
cdef object AMOUNT = AMOUNT_TYPE

# the operation types derived here; the other types with a handler run the Python handler
cdef frozenset COMPILED_OPERATIONS = frozenset({0, 1, 2, 3, 4, 8, 12, 13, 14, 24})

include "_fast_fields.pxi"
include "_fast_rows.pxi"
include "_fast_derive.pxi"
include "_fast_contract.pxi"
include "_fast_arrow.pxi"


def ledger_batch(view, txs, bytes network_id):
    """The ``token_transfers`` batch (derived mode) of a ledger's view and its paired transactions.

    Raises ``Defer`` (or another error) when the caller must derive the ledger with the Python code.
    """
    cdef Deriver deriver = Deriver(network_of(network_id), view.protocol_version)
    deriver.ledger(txs)
    return rows_batch(deriver.rows, view.ledger_sequence, view.close_time)


def python_operation_types():
    """The operation types whose events this module takes from the Python handlers."""
    return frozenset(HANDLERS) - COMPILED_OPERATIONS


def cache_sizes():
    """Entries of the memo tables (tests): StrKeys by version letter, assets per network."""
    out = {"G": len(_G), "C": len(_C), "L": len(_L), "B": len(_B)}
    for network in _NETWORKS.values():
        out[(<Network>network).network_id.hex()[:8]] = (
            len((<Network>network).by_xdr), len((<Network>network).by_text)
        )
    return out


def amount_rows(amounts):
    """A batch of fee rows with these amounts (tests of the i128 text and decimal columns)."""
    cdef Rows rows = Rows()
    network = network_of(b"\x00" * 32)
    for amount in amounts:
        rows.add(
            "00", 1, 0, T_FEE, "G", None, None, network.native, i128_of_int(amount), "C", MUX_NONE, 0, None, None
        )
    return rows_batch(rows, 1, 0)


def field_indexes():
    """The tuple positions found per (model class, attribute) (tests: -1 means read with getattr)."""
    return {(cls.__name__, name): index for (cls, name), index in _FIELD_INDEX.items()}

