"""Coverage-guided differential fuzzing of the compiled table rows with atheris (libFuzzer).

Each input is one byte choosing the network (``NETWORKS``) followed by ``LedgerCloseMeta`` bytes. The
compiled decoder decodes it (``XdrDecodeError``: nothing to compare), the transactions are paired with
their envelopes under that network (an error there is shared by both paths: nothing to compare), and
from the same decoded value both paths build the ``token_transfers`` rows (``ttp/_fast`` against the
Python derivation), the ``transactions`` and ``ledgers`` batches, with and without the raw XDR
columns (``tables/_compiled`` against the Python builders), and the ``operations`` batch
(``tables/_compiled`` and ``tables/_details`` against the reference builder). Each pair must be
equal, schemas included, or both raise an exception of the same type; anything else, or a crash, is a
finding. The extensions are built by gcc without clang's coverage instrumentation, so the fuzzer is
guided by the branches of the Python derivation and builders (instrumented here), which the compiled
code follows case by case.
Four mutations in five keep the XDR's length and alignment (:func:`mutate`): libFuzzer's own more
often give bytes the decoder refuses.

    .venv/bin/python tests/fuzz/fuzz_rows.py -max_total_time=20 CORPUS_DIR

Under AddressSanitizer (``tests/fuzz/README.md``): build with ``tools/build_ext.py --asan`` and point
``FUZZ_EXTENSION_DIR`` at ``build/asan``; every extension found there is loaded instead of the normal build.
The preloaded ASan runtime takes atheris's coverage hooks, so there ``--replay ROUNDS CORPUS_DIR...``
checks every input of the folders and ROUNDS changed copies of them, without coverage.
"""

from __future__ import annotations

import importlib.util
import os
import random
import sys
from collections.abc import Callable
from pathlib import Path

import atheris
import pyarrow as pa
from mutations import aligned_changes, replay_main  # beside this script

# in dependency order: the later ones cimport the StrKey encoder
EXTENSIONS = (
    "stellar_arrow.xdr._strkey",
    "stellar_arrow.xdr._compiled",
    "stellar_arrow.ttp._fast",
    "stellar_arrow.tables._compiled",
    "stellar_arrow.tables._details",
)


def load_extensions(folder: str) -> None:
    """Load the extensions built under ``folder`` (the ASan build) in place of the normal ones."""
    for name in EXTENSIONS:
        *package, stem = name.split(".")
        found = sorted(Path(folder, *package).glob(f"{stem}.*.so"))
        if not found:
            continue
        spec = importlib.util.spec_from_file_location(name, found[0])
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
        print(f"fuzz_rows: {name} from {found[0]}", file=sys.stderr)


with atheris.instrument_imports(include=["stellar_arrow.ttp", "stellar_arrow.tables"]):
    # the Python derivation and builders are instrumented: nothing imported them before (the
    # extensions loaded first import the Python modules they use, instrumented too)
    if os.environ.get("FUZZ_EXTENSION_DIR"):
        load_extensions(os.environ["FUZZ_EXTENSION_DIR"])
    from stellar_arrow.errors import XdrDecodeError
    from stellar_arrow.ledger import resolve_network
    from stellar_arrow.ledger.view import ledger_view, pair_transactions
    from stellar_arrow.tables.ledgers import LedgersBuilder
    from stellar_arrow.tables.operations import OperationsBuilder
    from stellar_arrow.tables.schema import compiled_tables
    from stellar_arrow.tables.transactions import TransactionsBuilder
    from stellar_arrow.ttp.compiled import compiled_available
    from stellar_arrow.ttp.processor import token_transfers_batch
    from stellar_arrow.xdr.choice import compiled_available as decoder_built
    from stellar_arrow.xdr.choice import decode_ledger_close_meta_compiled


NETWORKS = tuple(resolve_network(name) for name in ("pubnet", "testnet", "standalone"))

Outcome = pa.RecordBatch | type[BaseException]
# XDR words (4 bytes, big-endian) and hypers (8 bytes) at the edges of the columns' ranges


def outcome(build: Callable[[], pa.RecordBatch]) -> Outcome:
    try:
        return build()
    except Exception as exc:  # the type is what both paths must agree on
        return type(exc)


def agree(what: str, compiled: Outcome, python: Outcome) -> None:
    if isinstance(compiled, pa.RecordBatch) and isinstance(python, pa.RecordBatch):
        if compiled.schema.equals(python.schema, check_metadata=True) and compiled.equals(python):
            return
        raise AssertionError(f"{what}: the compiled batch differs from the Python one")
    if compiled != python:
        raise AssertionError(f"{what}: compiled gave {compiled!r}, Python gave {python!r}")


def one_input(data: bytes) -> None:
    if not data:
        return
    network = NETWORKS[data[0] % len(NETWORKS)]
    try:
        lcm = decode_ledger_close_meta_compiled(data[1:])
    except XdrDecodeError:
        return
    try:
        view = ledger_view(lcm)
        transactions = pair_transactions(view, network)
    except Exception:  # before either path: the tables never see this ledger
        return
    paired = (view, transactions)
    agree(
        "token_transfers",
        outcome(lambda: token_transfers_batch(lcm, network, paired=paired, compiled=True)),
        outcome(lambda: token_transfers_batch(lcm, network, paired=paired)),
    )
    for include_xdr in (False, True):

        def transactions_batch(compiled: bool, include_xdr: bool = include_xdr) -> pa.RecordBatch:
            builder = TransactionsBuilder(network, include_xdr=include_xdr, compiled=compiled)
            builder.add(view, transactions)
            return builder.finish()

        def ledgers_batch(compiled: bool, include_xdr: bool = include_xdr) -> pa.RecordBatch:
            builder = LedgersBuilder(include_xdr=include_xdr, compiled=compiled)
            builder.add(view, transactions)
            return builder.finish()

        for table, build in (("transactions", transactions_batch), ("ledgers", ledgers_batch)):
            agree(
                f"{table} (include_xdr={include_xdr})",
                outcome(lambda build=build: build(True)),
                outcome(lambda build=build: build(False)),
            )

    def operations_batch(reference: bool) -> pa.RecordBatch:
        builder = OperationsBuilder(reference=reference)
        builder.add(view, transactions)
        return builder.finish()

    agree("operations", outcome(lambda: operations_batch(False)), outcome(lambda: operations_batch(True)))


def mutate(data: bytes, max_size: int, seed: int) -> bytes:
    """libFuzzer's own mutations one time in five, else :func:`aligned_changes`."""
    rng = random.Random(seed)
    if len(data) < 9 or rng.random() < 0.2:
        return atheris.Mutate(data, max_size)
    return aligned_changes(data, rng)


def main() -> None:
    if not (decoder_built() and compiled_available() and compiled_tables()):
        sys.exit("fuzz_rows: the extensions are not built (scripts/setup)")
    if len(sys.argv) > 1 and sys.argv[1] == "--replay":
        replay_main(one_input, "fuzz-rows", sys.argv[2:])
        return
    atheris.Setup(sys.argv, one_input, custom_mutator=mutate)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
