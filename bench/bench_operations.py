"""The ``operations`` table's cost per ledger: the reference code against the generated ``details`` renderer,
in Python and compiled, on the 20 ledgers of ``data/lakes/pubnet-p26`` decoded by the compiled decoder.

Usage:
    .venv/bin/python bench/bench_operations.py [--repeat N]

Each ledger is decoded, viewed and paired once (not timed); then for every variant an
``OperationsBuilder`` is filled with one ledger and finished (its record batch), as
``build_ledger_tables`` does, the cyclic GC paused: ``reference`` (the row code and ``details`` closures
kept as the oracle), ``python`` (the generated Python renderer, what runs when the extensions are not
built) and ``compiled`` (``OperationRows`` and ``tables/_details``, what a compiled-decoder run uses).
Then ``build_ledger_tables`` itself (decode, view, checks, the batches) for ledgers + transactions +
token_transfers, and with operations added, their operations built by the reference (before) and by the
compiled path (after). The variants take turns ``--repeat`` times; the best pass (process CPU time over
the 20 ledgers) is kept. Prints ms per ledger and the ratio to the reference, and checks that the
variants give equal batches.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAKE = ROOT / "data" / "lakes" / "pubnet-p26"
FIRST, LAST = 63092982, 63093001
VARIANTS = {"reference": {"reference": True}, "python": {"compiled": False}, "compiled": {"compiled": True}}


def _raw_ledgers() -> list[tuple[int, bytes]]:
    from stellar_arrow.source.lake import DataLakeLedgerSource

    return list(DataLakeLedgerSource(str(LAKE)).ledgers(FIRST, LAST))


def _ledgers() -> list[tuple[Any, Any]]:
    """(view, transactions) of each ledger, decoded by the compiled decoder and paired under pubnet."""
    from stellar_arrow.ledger import resolve_network
    from stellar_arrow.ledger.view import ledger_view, pair_transactions
    from stellar_arrow.xdr.choice import decode_ledger_close_meta_compiled

    pubnet = resolve_network("pubnet")
    views = [ledger_view(decode_ledger_close_meta_compiled(raw)) for _, raw in _raw_ledgers()]
    return [(view, pair_transactions(view, pubnet)) for view in views]


def whole_ledger(repeat: int) -> dict[str, float]:
    """CPU seconds of ``build_ledger_tables`` over the 20 ledgers: three tables, then four (operations by
    the reference, then by the compiled path)."""
    from functools import partial

    from stellar_arrow.build import tableset
    from stellar_arrow.build.tableset import TableSetOptions, build_ledger_tables
    from stellar_arrow.ledger import resolve_network
    from stellar_arrow.tables.operations import OperationsBuilder

    pubnet = resolve_network("pubnet")
    raws = _raw_ledgers()
    three = ("ledgers", "transactions", "token_transfers")
    variants = {
        "three tables": (three, OperationsBuilder),
        "four tables, operations by the reference": (
            (*three, "operations"),
            partial(OperationsBuilder, reference=True),
        ),
        "four tables, operations compiled": ((*three, "operations"), OperationsBuilder),
    }
    best = dict.fromkeys(variants, float("inf"))
    outputs: dict[str, list[Any]] = {}
    for _ in range(repeat):
        for variant, (tables, builder) in variants.items():
            tableset.OperationsBuilder = builder  # type: ignore[misc]
            options = TableSetOptions(tables, pubnet, decoder="compiled")
            try:
                t0 = time.process_time()
                outputs[variant] = [build_ledger_tables(options, raw).batches for raw in raws]
                best[variant] = min(best[variant], time.process_time() - t0)
            finally:
                tableset.OperationsBuilder = OperationsBuilder  # type: ignore[misc]
    before, after = (outputs[v] for v in list(variants)[1:])
    assert all(a["operations"].equals(b["operations"]) for a, b in zip(before, after, strict=True))
    return {variant: seconds / len(raws) for variant, seconds in best.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    from stellar_arrow.tables.details import compiled_details_module
    from stellar_arrow.tables.operations import OperationsBuilder
    from stellar_arrow.xdr import gc_paused

    if compiled_details_module() is None:
        raise SystemExit("tables/_details is not built (tools/build_ext.py)")
    with gc_paused():
        ledgers = _ledgers()
        best = dict.fromkeys(VARIANTS, float("inf"))
        batches: dict[str, list[Any]] = {}
        for _ in range(args.repeat):
            for variant, options in VARIANTS.items():
                out = []
                t0 = time.process_time()
                for view, txs in ledgers:
                    builder = OperationsBuilder(**options)
                    builder.add(view, txs)
                    out.append(builder.finish())
                best[variant] = min(best[variant], time.process_time() - t0)
                batches[variant] = out
    for variant in VARIANTS:
        assert all(a.equals(b) for a, b in zip(batches[variant], batches["reference"], strict=True)), variant
    n = len(ledgers)
    rows = sum(b.num_rows for b in batches["reference"])
    print(
        f"{n} ledgers of {LAKE.relative_to(ROOT)}, {rows} operations; best of {args.repeat} passes, CPU time"
    )
    print(f"{'operations builder (add + finish)':<36} {'ms/ledger':>10} {'us/operation':>13} {'speed-up':>9}")
    for variant in VARIANTS:
        seconds = best[variant]
        ratio = best["reference"] / seconds
        print(f"{variant:<36} {seconds / n * 1e3:10.2f} {seconds / rows * 1e6:13.2f} {ratio:8.2f}x")
    print("build_ledger_tables, compiled decoder (decode, view, checks, batches)   ms/ledger")
    for variant, seconds in whole_ledger(args.repeat).items():
        print(f"  {variant:<70} {seconds * 1e3:8.2f}")


if __name__ == "__main__":
    main()
