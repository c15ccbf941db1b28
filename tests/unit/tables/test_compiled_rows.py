"""The compiled table code (``tables/_compiled.pyx``) gives bit-identical ``transactions`` and ``ledgers``
batches to the pure-Python builders: on every corpus ledger and sample lake, from both decoders, with and
without the raw XDR columns, on randomly corrupted ledgers (same batch or same error), and the builders
fall back to Python when the extension is absent."""

from __future__ import annotations

import random
import struct
import subprocess
import sys
import textwrap
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.ledger import Network, resolve_network
from stellar_arrow.ledger.view import ledger_view, pair_transactions
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.tables.ledgers import LedgersBuilder
from stellar_arrow.tables.schema import compiled_tables, compiled_tables_module
from stellar_arrow.tables.transactions import TransactionsBuilder
from stellar_arrow.xdr import decode_ledger_close_meta, gc_paused
from stellar_arrow.xdr.choice import compiled_available, decode_ledger_close_meta_compiled
from stellar_arrow.xdr.profile import TABLES_PROFILE, decoder_for
from tests.conftest import CORPUS, REPO, corpus_files
from tests.unit.tables.paths import (
    LAKE_NETWORKS,
    LAKES,
    assert_identical,
    flipped_ledgers,
    ipc_bytes,
    lake_ledgers,
    network_of,
)

pytestmark = pytest.mark.skipif(
    not (compiled_tables() and compiled_available()), reason="the compiled extensions are not built"
)

# the 30 apply-load ledgers are alike (492 txs, same shapes): every 6th keeps the test short
SAMPLE_EVERY = {"synthetic-applyload": 6}
DECODERS: dict[str, Callable[..., Any]] = {
    "compiled": decode_ledger_close_meta_compiled,  # lazy parts, as the pipeline decodes
    "python": decode_ledger_close_meta,
    "python-tables-profile": decoder_for(TABLES_PROFILE),  # what TableSet uses for these tables
}


def build_both(
    ledgers: Sequence[tuple[Any, list[Any]]], network: Network, include_xdr: bool
) -> dict[str, tuple[pa.RecordBatch, pa.RecordBatch]]:
    """``{table: (compiled batch, Python batch)}`` over the (view, transactions) of some ledgers."""
    out = {}
    for table, make in (
        ("transactions", lambda c: TransactionsBuilder(network, include_xdr=include_xdr, compiled=c)),
        ("ledgers", lambda c: LedgersBuilder(include_xdr=include_xdr, compiled=c)),
    ):
        compiled, python = make(True), make(False)
        assert compiled.compiled and not python.compiled
        for view, transactions in ledgers:
            compiled.add(view, transactions)
            python.add(view, transactions)
        out[table] = (compiled.finish(), python.finish())
    return out


@pytest.mark.parametrize("decoder", sorted(DECODERS))
@pytest.mark.parametrize("path", corpus_files(), ids=lambda p: p.name)
def test_every_corpus_ledger_gives_identical_batches(path: Path, decoder: str) -> None:
    network = network_of(path.name)
    step = next((n for prefix, n in SAMPLE_EVERY.items() if path.name.startswith(prefix)), 1)
    decode = DECODERS[decoder]
    with gc_paused():
        ledgers = []
        for raw in read_ledger_file(path)[::step]:
            view = ledger_view(decode(raw))
            ledgers.append((view, pair_transactions(view, network)))
        rows = sum(len(txs) for _, txs in ledgers)
        for include_xdr in (False, True):
            for table, (compiled, python) in build_both(ledgers, network, include_xdr).items():
                assert python.num_rows == (rows if table == "transactions" else len(ledgers))
                assert_identical(compiled, python, f"{path.name} {decoder} {table} include_xdr={include_xdr}")
            for view, txs in ledgers[:3]:  # one ledger per batch, as a worker builds them
                for table, (compiled, python) in build_both([(view, txs)], network, include_xdr).items():
                    assert_identical(compiled, python, f"{path.name} {view.ledger_sequence} {table}")


@pytest.mark.parametrize("lake", sorted(LAKE_NETWORKS))
def test_every_sample_lake_gives_identical_tables(lake: str) -> None:
    source = DataLakeLedgerSource(str(LAKES / lake))
    network = resolve_network(LAKE_NETWORKS[lake])
    tables = ("ledgers", "transactions")
    for include_xdr in (False, True):
        sets = {
            decoder: TableSet(
                TableSetOptions(
                    tables, network, include_xdr=include_xdr, decoder=decoder, verify_hashes=False
                )
            )  # (a synthetic standalone ledger's txSetResultHash does not match: not what is tested here)
            for decoder in ("compiled", "python")
        }
        assert sets["compiled"]._builders["transactions"].compiled
        assert not sets["python"]._builders["transactions"].compiled
        count = 0
        for seq, raw in lake_ledgers(source):
            for table_set in sets.values():
                table_set.add(raw, seq)
            count += 1
        assert count > 0
        compiled, python = sets["compiled"].finish(), sets["python"].finish()
        for table in tables:
            assert_identical(compiled[table], python[table], f"{lake} {table} include_xdr={include_xdr}")


def _tables(
    network: Network, view: Any, transactions: list[Any], compiled: bool
) -> dict[str, pa.RecordBatch]:
    out = {}
    for include_xdr in (False, True):
        t = TransactionsBuilder(network, include_xdr=include_xdr, compiled=compiled)
        t.add(view, transactions)
        ledger = LedgersBuilder(include_xdr=include_xdr, compiled=compiled)
        ledger.add(view, transactions)
        out[f"transactions {include_xdr}"] = t.finish()
        out[f"ledgers {include_xdr}"] = ledger.finish()
    return out


def _outcome(network: Network, view: Any, transactions: list[Any], compiled: bool) -> tuple[str, Any]:
    try:
        batches = _tables(network, view, transactions, compiled)
    except Exception as exc:  # the same error, from either path, is what is checked
        return "error", (type(exc), str(exc))
    return "ok", {table: ipc_bytes(batch) for table, batch in batches.items()}


def test_random_byte_flips_give_the_same_batch_or_the_same_error() -> None:
    network = resolve_network("testnet")
    built = 0
    for view, transactions in flipped_ledgers(network, random.Random(14), rounds=150):
        built += 1
        compiled = _outcome(network, view, transactions, compiled=True)
        assert compiled == _outcome(network, view, transactions, compiled=False)
    assert built > 100  # enough corrupted ledgers got as far as the tables


def test_a_fee_that_overflows_its_column_raises_pyarrow_s_error_on_both_paths() -> None:
    """The non-refundable resource fee charged (in the meta) with its sign bit flipped: the inclusion fee
    charged and the refund (differences of fees) no longer fit an int64, which both paths report with
    pyarrow's error at ``finish``."""
    network = resolve_network("pubnet")
    raw = read_ledger_file(CORPUS / "pubnet-0063092982.xdr.gz")[0]
    view = ledger_view(decode_ledger_close_meta_compiled(raw))
    transactions = pair_transactions(view, network)
    python = TransactionsBuilder(network)
    python.add(view, transactions)
    batch = python.finish()
    index = next(i for i, v in enumerate(batch.column("inclusion_fee_charged").to_pylist()) if v is not None)
    charges = struct.pack(
        ">iqqq",
        0,  # SorobanTransactionMetaExtV1: ExtensionPoint v0, then the three fees charged
        *(batch.column(name)[index].as_py() for name in _CHARGE_COLUMNS),
    )
    meta_xdr = transactions[index].meta.xdr
    at = raw.find(meta_xdr) + meta_xdr.find(charges) + 4
    assert meta_xdr.find(charges) > 0
    data = bytearray(raw)
    data[at] ^= 0x80
    for decode in (decode_ledger_close_meta_compiled, decode_ledger_close_meta):
        view = ledger_view(decode(bytes(data)))
        transactions = pair_transactions(view, network)
        errors = []
        for compiled in (True, False):
            builder = TransactionsBuilder(network, compiled=compiled)
            builder.add(view, transactions)
            with pytest.raises(OverflowError) as raised:
                builder.finish()
            errors.append(str(raised.value))
        assert errors[0] == errors[1]


_CHARGE_COLUMNS = (
    "non_refundable_resource_fee_charged",
    "refundable_resource_fee_charged",
    "rent_fee_charged",
)


@pytest.mark.parametrize(
    ("data_type", "values"),
    [
        (pa.int64(), [0, -1, 2**63 - 1, -(2**63), None, 7]),
        (pa.int64(), [1, 2**63, None]),
        (pa.int64(), [-(2**63) - 1]),
        (pa.int64(), [2**70, 2**63]),
        (pa.timestamp("us", tz="UTC"), [0, None, 1_700_000_000_000_000]),
        (pa.timestamp("us", tz="UTC"), [2**64]),
        (pa.int32(), [2**31 - 1, -(2**31), None]),
        (pa.int32(), [2**31]),
        (pa.int32(), [2**64]),
        (pa.uint32(), [0, 2**32 - 1]),
        (pa.uint32(), [-1]),
        (pa.uint32(), [2**32]),
        (pa.int8(), [127, -128, None]),
        (pa.int8(), [128]),
        (pa.bool_(), [True, False, None, True, True, False, True, False, True]),
        (pa.string(), ["", "abc", None, "é€", "x" * 100]),
        (pa.string(), [None, None]),
        (pa.string(), []),
    ],
)
def test_a_column_gives_pa_array_s_values_or_its_error(data_type: pa.DataType, values: list[Any]) -> None:
    module = compiled_tables_module()
    assert module is not None
    column = module.column(data_type)
    module.fill(column, values)
    try:
        expected = pa.array(values, type=data_type)
    except Exception as exc:  # pyarrow's error for a value that does not fit
        with pytest.raises(type(exc)) as raised:
            column.array(data_type)
        assert str(raised.value) == str(exc)
        return
    got = column.array(data_type)
    assert got.equals(expected) and got.null_count == expected.null_count
    batch = pa.RecordBatch.from_arrays([got], names=["v"])
    assert ipc_bytes(batch) == ipc_bytes(pa.RecordBatch.from_arrays([expected], names=["v"]))


def test_without_the_extension_the_builders_run_in_python() -> None:
    script = textwrap.dedent(
        """
        import sys
        sys.modules["stellar_arrow.tables._compiled"] = None  # as if the .so were absent
        from stellar_arrow.build import TableSet, TableSetOptions
        from stellar_arrow.ledger import resolve_network
        from stellar_arrow.source.files import read_ledger_file
        from stellar_arrow.tables.schema import compiled_tables
        from tests.conftest import CORPUS

        assert not compiled_tables()
        raw = read_ledger_file(CORPUS / "pubnet-0063092982.xdr.gz")[0]
        tables = TableSet(TableSetOptions(("ledgers", "transactions"), resolve_network("pubnet")))
        assert not tables._builders["transactions"].compiled and not tables._builders["ledgers"].compiled
        tables.add(raw)
        batches = tables.finish()
        print(batches["transactions"].num_rows, batches["ledgers"].num_rows)
        """
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert out.split() == ["305", "1"]


def test_the_compiled_decoder_path_uses_the_compiled_table_code() -> None:
    network = resolve_network("pubnet")
    table_set = TableSet(TableSetOptions(("ledgers", "transactions"), network, decoder="compiled"))
    assert table_set._builders["transactions"].compiled and table_set._builders["ledgers"].compiled
