"""Where a ledger's time goes, stage by stage, for the compiled and the pure-Python decoder paths.

Usage:
    .venv/bin/python bench/bench_stages.py [--repeat N]
    .venv/bin/python bench/bench_stages.py --instructions [--stages decode,tables,ledgers,transactions,export]
    add --python-tables to either: the compiled path with the pure-Python table builders (before/after)

Timing mode: the 20 protocol-26 pubnet ledgers of ``data/corpus`` (63092982-63093001) go through what
``export`` does in one process for ledgers + transactions + token_transfers, one ledger at a time as
``build.build_ledger_tables`` runs it: new builders (``init``), decode, ledger view + header-hash checks +
pairing (``view``), the ``ledgers`` and ``transactions`` builders, the token-transfer rows
(``token_transfers``: ``token_transfers_batch``, derivation and Arrow batch, compiled on the compiled
path as ``export`` runs it), the record batches of the ledger (``batches``),
freeing the decoded tree (``free``). Then the same 20 ledgers are exported from the sample lake
``data/lakes/pubnet-p26`` by ``run_export`` (chunk of 20, in-process): ``export job`` is that CPU
minus the stages, i.e. fetching, zstd, batch split, chain checks, concatenation, Parquet, manifest.
Each decoder path runs in its own fresh process (the pure-Python path never imports the extension,
as when it is not built), one pass at a time, the two paths taking turns ``--repeat`` times; per
stage the best pass (process CPU time) is kept. Prints ms per ledger, ledgers/s per stage and the
compiled/python ratios.

Instruction mode (``--instructions``, needs valgrind): deterministic counts, what to compare on a
busy machine. For ledger 63092982 and each stage (``decode``: one decode and the freeing of its
tree; ``tables``: everything after decoding for the three tables), the process runs once with 1
unit and once with 6 under ``valgrind --tool=callgrind``; the difference / 5 is the cost of one
unit (start-up and imports cancel out). Stages ``ledgers`` and ``transactions``: one builder of that
table filled with the ledger and finished (its record batch), after decoding, view and pairing.
Stage ``export`` (slow: minutes) counts, per ledger of the 20, ``run_export`` over the lake and
``build_ledger_tables`` over the same ledgers (2 passes - 1 pass); their difference is the export job
around the tables. Stage ``first-export``: the whole process (start-up, imports, one ``run_export`` of
the 20 ledgers), both paths.

On the compiled path the ``ledgers`` and ``transactions`` builders use the compiled table code
(``tables/_compiled.pyx``) as ``export`` does; ``--python-tables`` blocks that extension (as when it is
not built) so that the compiled decoder runs with the pure-Python builders, for a before/after.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "corpus"
FIRST, LAST = 63092982, 63093001
TABLES = ("ledgers", "transactions", "token_transfers")
LAKE = ROOT / "data" / "lakes" / "pubnet-p26"
STAGES = ("init", "decode", "view", "ledgers", "transactions", "token_transfers", "batches", "free")
PYTHON_TABLES = "--python-tables"


def _block_table_extension() -> None:
    """The compiled table code as if it were not built (the builders fall back to Python)."""
    sys.modules["stellar_arrow.tables._compiled"] = None  # type: ignore[assignment]


def _ledgers(first: int = FIRST, last: int = LAST) -> list[bytes]:
    import gzip

    return [
        gzip.decompress((CORPUS / f"pubnet-{s:010d}.xdr.gz").read_bytes()) for s in range(first, last + 1)
    ]


def _decoder(name: str) -> Any:
    if name == "compiled":
        from stellar_arrow.xdr.choice import decode_ledger_close_meta_compiled

        return decode_ledger_close_meta_compiled
    from stellar_arrow.xdr import decode_ledger_close_meta

    return decode_ledger_close_meta


def _export_lake(decoder: str) -> None:
    """``run_export`` of the 20 ledgers from the sample lake, in-process, one chunk."""
    from stellar_arrow.config import load_settings
    from stellar_arrow.export import run_export

    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(
            source={"datalake_uri": str(LAKE), "start_ledger": FIRST, "end_ledger": LAST},
            export={
                "output_dir": tmp,
                "tables": TABLES,
                "chunk_size": LAST - FIRST + 1,
                "workers": 0,
                "decoder": decoder,
            },
        )
        run_export(settings)


def child_pass(decoder: str) -> dict[str, float]:
    """One warm-up pass, then one measured pass; CPU seconds per stage over the 20 ledgers."""
    from stellar_arrow.build.tableset import _concat
    from stellar_arrow.ledger import resolve_network
    from stellar_arrow.ledger.validation import check_ledger_hashes
    from stellar_arrow.ledger.view import ledger_view, pair_transactions
    from stellar_arrow.tables.ledgers import LedgersBuilder
    from stellar_arrow.tables.transactions import TransactionsBuilder
    from stellar_arrow.ttp.processor import token_transfers_batch
    from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA
    from stellar_arrow.xdr import gc_paused

    pubnet = resolve_network("pubnet")
    decode = _decoder(decoder)
    compiled = decoder == "compiled"  # the compiled table code too, as export uses it (when built)
    lcms = _ledgers()
    clock = time.process_time
    totals = dict.fromkeys(STAGES, 0.0)
    for _ in range(2):
        totals = dict.fromkeys(STAGES, 0.0)
        for raw in lcms:
            with gc_paused():  # as build_ledger_tables: one pause from the builders to the batches
                t0 = clock()
                ledgers = LedgersBuilder(compiled=compiled)
                transactions = TransactionsBuilder(pubnet, compiled=compiled)
                t1 = clock()
                lcm = decode(raw)
                t2 = clock()
                view = ledger_view(lcm)
                check_ledger_hashes(view)
                txs = pair_transactions(view, pubnet)
                t3 = clock()
                ledgers.add(view, txs)
                t4 = clock()
                transactions.add(view, txs)
                t5 = clock()
                batch = token_transfers_batch(lcm, pubnet, paired=(view, txs), compiled=compiled)
                t6 = clock()
                ledgers.finish(), transactions.finish(), _concat([batch], TOKEN_TRANSFERS_SCHEMA)
                t7 = clock()
                del lcm, view, txs
                t8 = clock()
            times = (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t8 - t7)
            for stage, seconds in zip(STAGES, times, strict=True):
                totals[stage] += seconds
        export = float("inf")
        for _ in range(2):  # best of two: a difference of two noisy figures
            t0 = clock()
            _export_lake(decoder)
            export = min(export, clock() - t0)
        totals["export job"] = export - sum(totals[stage] for stage in STAGES)
    return totals


def timing(repeat: int, python_tables: bool) -> None:
    best: dict[str, dict[str, float]] = {"compiled": {}, "python": {}}
    for _ in range(repeat):
        for decoder in ("compiled", "python"):
            cmd = [sys.executable, __file__, "--child", decoder, *([PYTHON_TABLES] if python_tables else [])]
            out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
            run = json.loads(out.strip().splitlines()[-1])
            for stage, seconds in run.items():
                best[decoder][stage] = min(best[decoder].get(stage, float("inf")), seconds)
    n = LAST - FIRST + 1
    tables = "pure-Python table builders" if python_tables else "compiled table code"
    print(f"{n} ledgers {FIRST}-{LAST}, process CPU time, best of {repeat} passes per stage ({tables})")
    print(
        f"{'stage':<14} {'compiled ms/ledger':>19} {'python ms/ledger':>17}"
        f" {'compiled ledgers/s':>19} {'ratio':>7}"
    )
    for stage in (*STAGES, "export job", "total"):
        c = sum(best["compiled"].values()) if stage == "total" else best["compiled"][stage]
        p = sum(best["python"].values()) if stage == "total" else best["python"][stage]
        print(f"{stage:<14} {c / n * 1e3:19.2f} {p / n * 1e3:17.2f} {n / c:19.1f} {p / c:6.2f}x")
    print(
        "(export job: run_export of the same ledgers from data/lakes/pubnet-p26, best of 2, minus the stages"
        " above; a difference of two timings: use --instructions --stages export for a firm figure)"
    )


def child_units(decoder: str, stage: str, units: int) -> None:
    """``units`` decodes+frees (``decode``) or table builds (``tables``) of ledger 63092982."""
    from stellar_arrow.build import TableSet, TableSetOptions
    from stellar_arrow.ledger import resolve_network
    from stellar_arrow.xdr import gc_paused

    pubnet = resolve_network("pubnet")
    if stage in ("export", "build"):
        _export_units(decoder, stage, units)
        return
    decode = _decoder(decoder)
    (raw,) = _ledgers(FIRST, FIRST)
    if stage in ("ledgers", "transactions"):
        _builder_units(decoder, stage, units, decode(raw))
        return

    def tables(lcm: Any) -> None:
        table_set = TableSet(TableSetOptions(TABLES, pubnet, decoder=decoder))
        table_set.add_decoded(lcm)
        table_set.finish()

    with gc_paused():
        lcm = decode(raw)
        tables(lcm)  # warm-up: caches, interned values
        for _ in range(units):
            if stage == "decode":
                value = decode(raw)
                del value
            else:
                tables(lcm)


def _builder_units(decoder: str, stage: str, units: int, lcm: Any) -> None:
    """``units`` builders of table ``stage`` (``ledgers``/``transactions``), each filled with one ledger
    and finished."""
    from stellar_arrow.ledger import resolve_network
    from stellar_arrow.ledger.view import ledger_view, pair_transactions
    from stellar_arrow.tables.ledgers import LedgersBuilder
    from stellar_arrow.tables.transactions import TransactionsBuilder
    from stellar_arrow.xdr import gc_paused

    pubnet = resolve_network("pubnet")
    compiled = decoder == "compiled"
    view = ledger_view(lcm)
    transactions = pair_transactions(view, pubnet)

    def one() -> None:
        builder = (
            LedgersBuilder(compiled=compiled)
            if stage == "ledgers"
            else TransactionsBuilder(pubnet, compiled=compiled)
        )
        builder.add(view, transactions)
        builder.finish()

    with gc_paused():
        one()  # warm-up
        for _ in range(units):
            one()


def _export_units(decoder: str, stage: str, units: int) -> None:
    """``units`` passes over the 20 ledgers: ``run_export`` from the lake, or ``build_ledger_tables``."""
    from stellar_arrow.build import TableSetOptions, build_ledger_tables
    from stellar_arrow.ledger import resolve_network

    options = TableSetOptions(TABLES, resolve_network("pubnet"), decoder=decoder)
    lcms = _ledgers()
    for _ in range(units + 1):  # the first pass warms up
        if stage == "export":
            _export_lake(decoder)
        else:
            for seq, raw in enumerate(lcms, start=FIRST):
                build_ledger_tables(options, (seq, raw))


def instructions(stages: list[str], python_tables: bool) -> None:
    def count(decoder: str, stage: str, units: int) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out"]
            cmd += [sys.executable, __file__, "--units", decoder, stage, str(units)]
            cmd += [PYTHON_TABLES] if python_tables else []
            env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same hashes, dict layouts... in every run
            err = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stderr
        line = next(x for x in err.splitlines() if "Collected" in x)
        return int(line.split()[-1])

    tables = "pure-Python table builders" if python_tables else "compiled table code"
    print(f"instructions per unit, ledger {FIRST} (valgrind callgrind, (6 units - 1 unit) / 5; {tables})")
    n = LAST - FIRST + 1
    for stage in stages:
        if stage == "first-export":  # a whole process: start-up, imports and one run_export of the 20
            compiled, python = (count(d, "export", 0) / 1e9 for d in ("compiled", "python"))
            print(f"first-export compiled {compiled:.2f} G  python {python:.2f} G  {python / compiled:5.2f}x")
            continue
        if stage == "export":  # per ledger of the 20, compiled path only: (2 passes - 1 pass) / 20
            export, build = (
                (count("compiled", unit, 2) - count("compiled", unit, 1)) / n for unit in ("export", "build")
            )
            print(
                f"export   compiled, per ledger of {n}: run_export {export / 1e6:.1f} M, build_ledger_tables"
                f" {build / 1e6:.1f} M, export job {(export - build) / 1e6:.1f} M"
            )
            continue
        per = {d: (count(d, stage, 6) - count(d, stage, 1)) / 5 for d in ("compiled", "python")}
        ratio = per["python"] / per["compiled"]
        print(
            f"{stage:<8} compiled {per['compiled'] / 1e6:8.1f} M   python {per['python'] / 1e6:8.1f} M"
            f"   {ratio:5.2f}x"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--instructions", action="store_true", help="valgrind instruction counts")
    parser.add_argument(
        "--stages",
        default="decode,tables",
        help="for --instructions: decode, tables, ledgers, transactions, export, first-export",
    )
    parser.add_argument(
        PYTHON_TABLES, action="store_true", help="the compiled decoder with the pure-Python table builders"
    )
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--units", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.python_tables:
        _block_table_extension()
    if args.child:
        print(json.dumps(child_pass(args.child)))
    elif args.units:
        decoder, stage, units = args.units
        child_units(decoder, stage, int(units))
    elif args.instructions:
        instructions(args.stages.split(","), args.python_tables)
    else:
        timing(args.repeat, args.python_tables)


if __name__ == "__main__":
    main()
