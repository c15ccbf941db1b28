"""The ``operations`` table (Hubble ``history_operations``): one row per operation of every applied tx.

``id`` is the TOID ``(ledger_sequence, transaction_index, operation_index)`` with a 1-based
``operation_index``; ``transaction_id`` the transaction's TOID. ``source_account`` is the
operation's own source or else the transaction's. ``details`` is the operation body as JSON
(:mod:`stellar_arrow.tables.details`), amounts as exact integers.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import Any, Final

import pyarrow as pa

from stellar_arrow.ledger.toid import toid
from stellar_arrow.ledger.view import LedgerTransaction, LedgerView
from stellar_arrow.schema import CLOSED_AT_TYPE, LEDGER_SEQUENCE_TYPE, closed_at_micros, stamp
from stellar_arrow.tables.details import (
    compiled_details_module,
    details_json_function,
    muxed_account_columns,
    operation_details_json_reference,
)
from stellar_arrow.tables.schema import SCHEMA_VERSION, compiled_tables_module, record_batch
from stellar_arrow.vocabulary import operation_type_name
from stellar_arrow.xdr import model as X
from stellar_arrow.xdr.definitions import load_schema
from stellar_arrow.xdr.strkey import account_strkey

__all__ = ["OPERATIONS_SCHEMA", "OperationsBuilder"]

OPERATIONS_SCHEMA: Final = stamp(
    pa.schema(
        [
            pa.field(
                "id", pa.int64(), nullable=False
            ),  # TOID(ledger_sequence, transaction_index, operation_index)
            pa.field("transaction_id", pa.int64(), nullable=False),
            pa.field("transaction_hash", pa.string(), nullable=False),
            pa.field("ledger_sequence", LEDGER_SEQUENCE_TYPE, nullable=False),
            pa.field("transaction_index", pa.int32(), nullable=False),
            pa.field("operation_index", pa.int32(), nullable=False),  # 1-based
            pa.field("type", pa.int32(), nullable=False),
            pa.field("type_string", pa.string(), nullable=False),  # payment, invoke_host_function...
            pa.field("source_account", pa.string(), nullable=False),  # G-address
            pa.field("source_account_muxed", pa.string()),  # M-address when muxed
            pa.field("successful", pa.bool_(), nullable=False),  # the transaction's success
            pa.field("operation_result_code", pa.string()),  # opINNER, opBAD_AUTH...; null if not applied
            pa.field("operation_trace_code", pa.string()),  # PAYMENT_SUCCESS, ...
            pa.field("details", pa.string(), nullable=False),  # JSON
            pa.field("closed_at", CLOSED_AT_TYPE, nullable=False),
        ]
    ),
    "operations",
    SCHEMA_VERSION,
)


@cache
def _result_code_names(union_name: str) -> dict[int, str]:
    """Member names of the discriminant enum of an operation's result union (``PaymentResult`` ...)."""
    schema = load_schema()
    d = schema.definitions.get(union_name)
    if d is None or d.kind != "union":
        return {}
    disc = schema.resolve(d.discriminant_type)
    enum = schema.definitions.get(disc.get("name", ""))
    return {} if enum is None else {value: name for name, value in enum.members}


def _trace_code(result: Any) -> str | None:
    tr = result.tr
    if tr is None:
        return None
    inner = tr.value
    code = inner[0]
    return _trace_names(type(inner)).get(code, str(code))


_TRACE_NAMES: dict[type, dict[int, str]] = {}


def _trace_names(kind: type) -> dict[int, str]:
    """:func:`_result_code_names` of a result union's class, kept per class."""
    names = _TRACE_NAMES.get(kind)
    if names is None:
        names = _TRACE_NAMES[kind] = _result_code_names(kind.__name__)
    return names


class OperationsBuilder:
    """Accumulates ``operations`` rows column by column; :meth:`finish` returns one record batch.

    ``compiled`` (when both are built): the rows straight into Arrow column buffers by the compiled table
    code (``tables/_compiled.pyx``, ``OperationRows``: this module's loop, compiled) and ``details`` by the
    compiled renderer (``tables/_details.pyx``); else this module's loop, with that renderer when it alone
    is built, or the generated Python renderer (``details_codegen.py``). ``reference=True``: this loop with
    the schema's closures (``details_reference.py``), what the tests hold the other paths to.
    """

    def __init__(self, reference: bool = False, compiled: bool = True) -> None:
        self.schema = OPERATIONS_SCHEMA
        self.columns: dict[str, list[object]] = {name: [] for name in self.schema.names}
        self.reference = reference
        self._compiled_details = compiled  # the compiled renderer also under the Python rows, when built
        module = compiled_tables_module() if compiled and not reference else None
        self.compiled = module is not None and compiled_details_module() is not None
        self._rows: Any = None
        if module is not None and self.compiled:
            render = details_json_function()
            self._rows = module.OperationRows(self.schema, render, _TRACE_NAMES, _trace_names)

    def add(self, view: LedgerView, transactions: Sequence[LedgerTransaction]) -> None:
        if self._rows is not None:
            self._rows.add(view, transactions, closed_at_micros(view.close_time))
            return
        render = (
            operation_details_json_reference
            if self.reference
            else details_json_function(self._compiled_details)
        )
        c = self.columns
        seq = view.ledger_sequence
        closed_at = closed_at_micros(view.close_time)
        for t in transactions:
            tx = t.tx
            if isinstance(tx, X.TransactionV0):
                tx_source: tuple[str, str | None] = (account_strkey(tx.source_account_ed25519), None)
            else:
                tx_source = muxed_account_columns(tx.source_account)
            tx_hash = t.tx_hash.hex()
            tx_id = toid(seq, t.transaction_index)
            successful = t.successful
            results = t.operation_results
            for index, op in enumerate(tx.operations, start=1):
                body = op.body
                source = tx_source if op.source_account is None else muxed_account_columns(op.source_account)
                c["id"].append(toid(seq, t.transaction_index, index))
                c["transaction_id"].append(tx_id)
                c["transaction_hash"].append(tx_hash)
                c["ledger_sequence"].append(seq)
                c["transaction_index"].append(t.transaction_index)
                c["operation_index"].append(index)
                c["type"].append(body.type)
                c["type_string"].append(operation_type_name(body.type))
                c["source_account"].append(source[0])
                c["source_account_muxed"].append(source[1])
                c["successful"].append(successful)
                if results is not None and index <= len(results):
                    result = results[index - 1]
                    c["operation_result_code"].append(X.OperationResultCode.NAMES.get(result.code))
                    c["operation_trace_code"].append(_trace_code(result))
                else:
                    c["operation_result_code"].append(None)
                    c["operation_trace_code"].append(None)
                c["details"].append(render(body))
                c["closed_at"].append(closed_at)

    def finish(self) -> pa.RecordBatch:
        if self._rows is not None:
            return pa.RecordBatch.from_arrays(self._rows.arrays(), schema=self.schema)
        return record_batch(self.schema, self.columns)
