"""The ``operations`` table by its three paths gives bit-identical batches: the reference (the old row
code and the schema's closures of ``details_reference.py``), the generated Python ``details`` renderer,
and the compiled rows (``tables/_compiled.pyx``) with the compiled renderer (``tables/_details.pyx``).
On every corpus ledger and sample lake, from both decoders, on randomly corrupted ledgers (same batch or
same error), on hand-made values the special renderers hand back to Python, on mutated operation bodies,
and without the extensions."""

from __future__ import annotations

import random
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.ledger import Network, resolve_network
from stellar_arrow.ledger.view import ledger_view, pair_transactions
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.tables import details as D
from stellar_arrow.tables.operations import OperationsBuilder
from stellar_arrow.tables.schema import compiled_tables
from stellar_arrow.xdr import gc_paused
from stellar_arrow.xdr import model as X
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

BUILT = compiled_tables() and compiled_available() and D.compiled_details_module() is not None
needs_build = pytest.mark.skipif(not BUILT, reason="the compiled extensions are not built")

#: name -> OperationsBuilder options; "reference" first (the oracle)
PATHS: dict[str, dict[str, bool]] = {
    "reference": {"reference": True},
    "python": {"compiled": False},
    "compiled": {"compiled": True},
}
DECODERS = {
    "compiled": decode_ledger_close_meta_compiled,
    "python-tables-profile": decoder_for(TABLES_PROFILE),  # what TableSet uses on the Python path
}


def build(ledgers: list[tuple[Any, list[Any]]], path: str) -> pa.RecordBatch:
    builder = OperationsBuilder(**PATHS[path])
    assert builder.compiled == (path == "compiled" and BUILT)
    for view, transactions in ledgers:
        builder.add(view, transactions)
    return builder.finish()


def assert_paths_agree(ledgers: list[tuple[Any, list[Any]]], where: str) -> int:
    reference = build(ledgers, "reference")
    for path in ("python", "compiled"):
        assert_identical(build(ledgers, path), reference, f"{where} {path}")
    return reference.num_rows


@needs_build
@pytest.mark.parametrize("decoder", sorted(DECODERS))
def test_every_corpus_ledger_gives_identical_operations(decoder: str) -> None:
    decode = DECODERS[decoder]
    rows = 0
    with gc_paused():
        for path in corpus_files():
            network = network_of(path.name)
            ledgers = []
            for raw in read_ledger_file(path):
                view = ledger_view(decode(raw))
                ledgers.append((view, pair_transactions(view, network)))
            rows += assert_paths_agree(ledgers, f"{path.name} {decoder}")
            view, txs = ledgers[0]  # one ledger per batch, as a worker builds them
            assert_paths_agree([(view, txs)], f"{path.name} {view.ledger_sequence} {decoder}")
    assert rows > 30_000


@needs_build
@pytest.mark.parametrize("lake", sorted(LAKE_NETWORKS))
def test_every_sample_lake_gives_identical_operations(lake: str) -> None:
    source = DataLakeLedgerSource(str(LAKES / lake))
    network = resolve_network(LAKE_NETWORKS[lake])
    ledgers = []
    with gc_paused():
        for _, raw in lake_ledgers(source):
            view = ledger_view(decode_ledger_close_meta_compiled(raw))
            ledgers.append((view, pair_transactions(view, network)))
        assert ledgers
        assert_paths_agree(ledgers, lake)


@needs_build
def test_table_set_builds_operations_by_the_decoder_s_path() -> None:
    network = resolve_network("pubnet")
    source = DataLakeLedgerSource(str(LAKES / "pubnet-p26"))
    sets = {
        decoder: TableSet(TableSetOptions(("operations",), network, decoder=decoder, verify_hashes=False))
        for decoder in ("compiled", "python")
    }
    assert sets["compiled"]._builders["operations"].compiled
    assert not sets["python"]._builders["operations"].compiled
    for count, (seq, raw) in enumerate(lake_ledgers(source)):
        if count == 3:
            break
        for table_set in sets.values():
            table_set.add(raw, seq)
    compiled, python = (sets[d].finish()["operations"] for d in ("compiled", "python"))
    assert compiled.num_rows > 0
    assert_identical(compiled, python, "TableSet operations")


def _outcome(network: Network, view: Any, transactions: list[Any], path: str) -> tuple[str, Any]:
    try:
        batch = build([(view, transactions)], path)
    except Exception as exc:  # the same error, from every path, is what is checked
        return "error", (type(exc), str(exc))
    return "ok", ipc_bytes(batch)


@needs_build
def test_random_byte_flips_give_the_same_operations_or_the_same_error() -> None:
    network = resolve_network("testnet")
    built = 0
    for view, transactions in flipped_ledgers(network, random.Random(26), rounds=300):
        built += 1
        reference = _outcome(network, view, transactions, "reference")
        for path in ("python", "compiled"):
            assert _outcome(network, view, transactions, path) == reference, path
    assert built > 100


KEY = bytes(range(32))


def _renderers() -> dict[str, Any]:
    module = D.compiled_details_module()
    assert module is not None
    python = D.python_details()
    return {"python": python, "compiled": module.operation_details}


def _same(body: Any) -> None:
    try:
        expected: Any = ("ok", D.operation_details_reference(body))
    except Exception as exc:
        expected = ("error", type(exc), str(exc))
    for name, render in _renderers().items():
        try:
            got: Any = ("ok", render(body))
        except Exception as exc:
            got = ("error", type(exc), str(exc))
        assert got == expected, name
        if got[0] == "ok":
            assert list(got[1]) == list(expected[1]), name  # key order


def _body(kind: int, value: Any) -> X.OperationBody:
    return X.OperationBody((kind, value))


@needs_build
@pytest.mark.parametrize(
    "account",
    [
        X.MuxedAccount((0, KEY)),
        X.MuxedAccount((0x100, X.MuxedAccountMed25519((2**64 - 1, KEY)))),
        X.MuxedAccount((0x100, X.MuxedAccountMed25519((0, KEY)))),
        X.MuxedAccount((0x100, X.MuxedAccountMed25519((2**64, KEY)))),  # does not fit: Python's error
        X.MuxedAccount((0x100, X.MuxedAccountMed25519((-1, KEY)))),
        X.MuxedAccount((0, KEY[:31])),  # a short key: handed back to Python
        X.MuxedAccount((7, KEY)),  # an unknown key type
    ],
)
def test_special_renderers_agree_on_accounts(account: Any) -> None:
    _same(_body(X.OperationType.ACCOUNT_MERGE, account))
    _same(_body(X.OperationType.PAYMENT, X.PaymentOp((account, X.Asset((0,)), 5))))


@needs_build
@pytest.mark.parametrize(
    "asset",
    [
        X.Asset((0,)),
        X.Asset((1, X.AlphaNum4((b"USD\x00", X.PublicKey((0, KEY)))))),
        X.Asset((2, X.AlphaNum12((b"LONGCODE\xff\x00\x00\x00", X.PublicKey((0, KEY)))))),
        X.Asset((2, X.AlphaNum12((b"X" * 12, X.PublicKey((1, KEY)))))),  # not an ed25519 key
        X.Asset((9, None)),  # an unknown asset type
    ],
)
def test_special_renderers_agree_on_assets(asset: Any) -> None:
    _same(_body(X.OperationType.PAYMENT, X.PaymentOp((X.MuxedAccount((0, KEY)), asset, -3))))


@needs_build
def test_unknown_discriminants_and_nested_values_agree() -> None:
    i128 = X.SCVal((X.SCValType.SCV_I128, X.Int128Parts((-1, 2**64 - 1))))
    u256 = X.SCVal((X.SCValType.SCV_U256, X.UInt256Parts((1, 2, 3, 4))))
    text = X.SCVal((X.SCValType.SCV_STRING, b"caf\xc3\xa9 \xff"))
    address = X.SCVal((X.SCValType.SCV_ADDRESS, X.SCAddress((1, KEY))))
    unknown = X.SCVal((99, b"?"))  # an unknown discriminant: the raw int
    nested: Any = X.SCVal((X.SCValType.SCV_VEC, [i128]))
    for _ in range(100):  # deep nesting, under the reference's own recursion limit
        nested = X.SCVal((X.SCValType.SCV_VEC, [nested, text]))
    args = X.InvokeContractArgs(
        (X.SCAddress((0, X.PublicKey((0, KEY)))), b"f", [u256, address, unknown, nested])
    )
    host = X.HostFunction((X.HostFunctionType.HOST_FUNCTION_TYPE_INVOKE_CONTRACT, args))
    _same(_body(X.OperationType.INVOKE_HOST_FUNCTION, X.InvokeHostFunctionOp((host, []))))
    _same_json(_body(X.OperationType.INVOKE_HOST_FUNCTION, X.InvokeHostFunctionOp((host, []))))
    _same(_body(X.OperationType.INFLATION, None))  # a void arm: {}
    _same(_body(99, None))  # an unknown operation type: {}
    _same_json(_body(99, None))
    _same(_body(X.OperationType.BUMP_SEQUENCE, X.BumpSequenceOp((7,))))


@needs_build
@pytest.mark.parametrize("number", [0, -1, 2**63 - 1, -(2**63), 2**63, 2**64 - 1, 2**64, -(2**63) - 1, True])
def test_integers_agree_up_to_orjson_s_64_bit_range(number: int) -> None:
    """The JSON writer's integers are orjson's; beyond 64 bits the dict path gives orjson's error."""
    _same_json(_body(X.OperationType.BUMP_SEQUENCE, X.BumpSequenceOp((number,))))


@needs_build
@pytest.mark.parametrize(
    "raw", [bytes(range(128)), b'quote " backslash \\ slash /', "é€😀".encode(), b"\xff\xfe", b""]
)
def test_strings_are_escaped_as_orjson_escapes_them(raw: bytes) -> None:
    data = X.ManageDataOp((raw, raw))
    _same_json(_body(X.OperationType.MANAGE_DATA, data))
    value = X.SCVal((X.SCValType.SCV_SYMBOL, raw))
    args = X.InvokeContractArgs((X.SCAddress((1, KEY)), raw, [value]))
    host = X.HostFunction((X.HostFunctionType.HOST_FUNCTION_TYPE_INVOKE_CONTRACT, args))
    _same_json(_body(X.OperationType.INVOKE_HOST_FUNCTION, X.InvokeHostFunctionOp((host, []))))


def _same_json(body: Any) -> int:
    """The JSON text (or error) of the compiled and generated Python paths is the reference's; 1 for an
    error."""
    module = D.compiled_details_module()
    assert module is not None
    python = D.details_json_function(compiled=False)
    outcomes = []
    for render in (D.operation_details_json_reference, python, module.operation_details_json):
        try:
            outcomes.append(("ok", render(body)))
        except Exception as exc:
            outcomes.append(("error", f"{type(exc).__name__}: {exc}"))
    assert outcomes[1] == outcomes[0] and outcomes[2] == outcomes[0], outcomes
    return int(outcomes[0][0] == "error")


def test_the_generated_pyx_is_up_to_date() -> None:
    path = REPO / "src" / "stellar_arrow" / "tables" / "_details.pyx"
    assert path.read_text() == D.details_pyx(), "run tools/gen_details.py"


@pytest.mark.parametrize(
    "absent", [("_details", "_compiled"), ("_compiled",)], ids=["no extensions", "no compiled rows"]
)
def test_without_the_extensions_operations_run_in_python(absent: tuple[str, ...]) -> None:
    blocked = "".join(f'sys.modules["stellar_arrow.tables.{name}"] = None\n' for name in absent)
    script = (
        "import sys\n"
        + blocked
        + textwrap.dedent(
            """
        from stellar_arrow.ledger import resolve_network
        from stellar_arrow.ledger.view import ledger_view, pair_transactions
        from stellar_arrow.source.files import read_ledger_file
        from stellar_arrow.tables.operations import OperationsBuilder
        from stellar_arrow.xdr import decode_ledger_close_meta
        from tests.conftest import CORPUS

        raw = read_ledger_file(CORPUS / "pubnet-0063092982.xdr.gz")[0]
        view = ledger_view(decode_ledger_close_meta(raw))
        txs = pair_transactions(view, resolve_network("pubnet"))
        batches = []
        for options in ({}, {"reference": True}):
            builder = OperationsBuilder(**options)
            assert not builder.compiled
            builder.add(view, txs)
            batches.append(builder.finish())
        assert batches[0].equals(batches[1])
        print(batches[0].num_rows)
        """
        )
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert int(out.split()[0]) > 0


def test_details_functions_pick_the_compiled_renderer_when_built() -> None:
    render = D.details_json_function()
    if BUILT:
        module = D.compiled_details_module()
        assert module is not None and render is module.operation_details_json
    assert Path(D.__file__).name == "details.py"


def _mutate(value: Any, rng: random.Random, rate: float) -> Any:
    """A copy of a decoded value with some leaves changed as a corrupt (still decodable) input could
    change them: integers (up to beyond 64 bits), bytes (any length, invalid UTF-8, control characters),
    optionals dropped and union discriminants unknown to the schema. Shapes (classes, tuple lengths)
    are kept: the decoder never builds others."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if rng.random() < rate:
            return rng.choice([0, -1, 2**31, 2**63 - 1, 2**64 - 1, 2**64, -(2**63) - 1, rng.randrange(99)])
        return value
    if isinstance(value, bytes):
        if rng.random() < rate:
            return bytes(rng.randrange(256) for _ in range(rng.choice([0, 1, 4, 12, 32, 33])))
        return value
    if isinstance(value, list):
        return [_mutate(e, rng, rate) for e in value]
    if isinstance(value, tuple):
        union = isinstance(value, X.Union)
        items = [e if union and i == 0 else _mutate(e, rng, rate) for i, e in enumerate(value)]
        if union and rng.random() < rate:
            items[0] = rng.choice([99, 12345, -7])  # an unknown discriminant (a known one: another arm)
        return type(value)(items)
    return value


@needs_build
def test_mutated_operation_bodies_give_the_same_json_or_the_same_error() -> None:
    rng = random.Random(7)
    network = resolve_network("pubnet")
    raw = read_ledger_file(CORPUS / "pubnet-0063092982.xdr.gz")[0]
    with gc_paused():
        view = ledger_view(decode_ledger_close_meta_compiled(raw))
        bodies = [op.body for t in pair_transactions(view, network) for op in t.tx.operations]
        errors = 0
        for body in bodies:
            for rate in (0.02, 0.1, 0.3):
                errors += _same_json(_mutate(body, rng, rate))
    assert errors > 50  # enough of them fail (orjson's range, wrong keys) to check the errors too
