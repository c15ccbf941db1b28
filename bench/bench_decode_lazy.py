"""The compiled decoder's lazy parts: full decode vs decode as the pipeline uses it, in instructions.

Usage:
    .venv/bin/python bench/bench_decode_lazy.py [--modes python,eager,lazy,forced,pipe-eager,pipe-lazy]
    .venv/bin/python bench/bench_decode_lazy.py --counts [--verify]
    .venv/bin/python bench/bench_decode_lazy.py --timing [--repeat N]

Instruction mode (needs valgrind): for ledger 63092982 each mode runs once with 1 unit and once with
6 under ``valgrind --tool=callgrind``; (6 - 1) / 5 is the cost of one unit, start-up and imports
cancelled out. A unit always frees what it built. Modes:

* ``python``: the pure-Python decoder, decode + free;
* ``eager``: the compiled decoder with every part built at once (``lazy=False``): the full decode;
* ``forced``: the compiled lazy decode, then every lazy part built (``build_all``), then free;
* ``lazy``: the compiled lazy decode + free (no part read);
* ``pipe-eager`` / ``pipe-lazy`` / ``pipe-python``: decode, then the ``ledgers``, ``transactions`` and
  ``token_transfers`` tables of the ledger (``TableSet.add_decoded``), then free: decode as the
  pipeline uses it.

``--counts``: over the 20 protocol-26 ledgers, how many lazy parts the decode deferred and how many the
three tables (and, with ``--verify``, the token-transfer reconciliation) built.

``--timing``: process CPU time of decode + free over the 20 protocol-26 ledgers, the ``python``,
``eager`` and ``lazy`` modes each in a process of its own; the best of ``--repeat`` passes (noisy on a
shared machine: compare the ratios of one run).

Child processes run with ``PYTHONHASHSEED=0`` (stable counts) and import pyarrow only for the
``pipe-*`` modes.
"""

from __future__ import annotations

import argparse
import gzip
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "corpus"
FIRST, LAST = 63092982, 63093001
TABLES = ("ledgers", "transactions", "token_transfers")
MODES = ("python", "eager", "forced", "lazy", "pipe-python", "pipe-eager", "pipe-lazy")


def _raw(sequence: int) -> bytes:
    return gzip.decompress((CORPUS / f"pubnet-{sequence:010d}.xdr.gz").read_bytes())


def _decode(mode: str) -> Any:
    from stellar_arrow.xdr import decode_ledger_close_meta
    from stellar_arrow.xdr.choice import compiled_module

    module = compiled_module()
    if mode.endswith("python"):
        return decode_ledger_close_meta
    lazy = mode in ("lazy", "forced", "pipe-lazy")
    assert module is not None

    def decode(raw: bytes) -> Any:
        value, end = module.d_LedgerCloseMeta(raw, 0, lazy)
        assert end == len(raw)
        if mode == "forced":
            module.build_all(value)
        return value

    return decode


def _tables(mode: str) -> Any:
    """For the ``pipe-*`` modes: a function building the three tables of a decoded ledger (the
    others never import pyarrow, whose start-up would only slow the runs under valgrind)."""
    if not mode.startswith("pipe"):
        return None
    from stellar_arrow.build import TableSet, TableSetOptions
    from stellar_arrow.ledger import resolve_network

    pubnet = resolve_network("pubnet")
    decoder = "python" if mode.endswith("python") else "compiled"

    def tables(lcm: Any) -> None:
        table_set = TableSet(TableSetOptions(TABLES, pubnet, decoder=decoder))
        table_set.add_decoded(lcm)
        table_set.finish()

    return tables


def child_units(mode: str, units: int) -> None:
    from stellar_arrow.xdr import gc_paused

    decode = _decode(mode)
    tables = _tables(mode)
    raw = _raw(FIRST)

    def unit() -> None:
        lcm = decode(raw)
        if tables is not None:
            tables(lcm)
        del lcm

    with gc_paused():
        unit()  # warm-up: caches, interned values
        for _ in range(units):
            unit()


def instructions(modes: list[str]) -> None:
    def count(mode: str, units: int) -> int:
        with tempfile.TemporaryDirectory() as tmp:
            cmd = ["valgrind", "--tool=callgrind", f"--callgrind-out-file={tmp}/out"]
            cmd += [sys.executable, __file__, "--units", mode, str(units)]
            env = {**os.environ, "PYTHONHASHSEED": "0"}  # the same dict layouts, run after run
            err = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stderr
        line = next(x for x in err.splitlines() if "Collected" in x)
        return int(line.split()[-1])

    print(f"instructions per unit, ledger {FIRST} (valgrind callgrind, (6 units - 1 unit) / 5)")
    per = {}
    for mode in modes:
        per[mode] = (count(mode, 6) - count(mode, 1)) / 5
        print(f"{mode:<12} {per[mode] / 1e6:8.1f} M", flush=True)
    for a, b in (("python", "eager"), ("python", "forced"), ("python", "lazy")):
        if a in per and b in per:
            print(f"{a}/{b}: {per[a] / per[b]:.2f}x")
    for a, b in (("pipe-python", "pipe-eager"), ("pipe-python", "pipe-lazy"), ("pipe-eager", "pipe-lazy")):
        if a in per and b in per:
            print(f"{a}/{b}: {per[a] / per[b]:.2f}x")


def counts(verify: bool) -> None:
    from stellar_arrow.build import TableSet, TableSetOptions
    from stellar_arrow.ledger import resolve_network
    from stellar_arrow.xdr.choice import compiled_module

    module = compiled_module()
    assert module is not None
    pubnet = resolve_network("pubnet")
    module.reset_lazy_counts()
    table_set = TableSet(TableSetOptions(TABLES, pubnet, decoder="compiled", verify_events=verify))
    for sequence in range(FIRST, LAST + 1):
        table_set.add(_raw(sequence), sequence)
    table_set.finish()
    made = built = 0
    what = "tables + token_transfers" + (" + verify_events" if verify else "")
    print(f"lazy parts over ledgers {FIRST}-{LAST} ({what}): deferred, built")
    for name, (m, b) in module.lazy_counts().items():
        if m:
            print(f"  {name:<52} {m:7d} {b:7d}  {100 * b / m:5.1f}%")
        made, built = made + m, built + b
    print(f"  {'all':<52} {made:7d} {built:7d}  {100 * built / max(made, 1):5.1f}%")


def child_timing(mode: str, repeat: int) -> None:
    """Print the best process CPU time of ``repeat`` passes of decode + free over the 20 ledgers."""
    import time

    from stellar_arrow.xdr import gc_paused

    raws = [_raw(s) for s in range(FIRST, LAST + 1)]
    decode = _decode(mode)
    best = float("inf")
    for _ in range(repeat):
        with gc_paused():
            start = time.process_time()
            for raw in raws:
                value = decode(raw)
                del value
            best = min(best, time.process_time() - start)
    print(best)


def timing(repeat: int) -> None:
    """One process per mode (the modes neither share caches nor see each other's garbage)."""
    modes = ("python", "eager", "lazy")
    best = {}
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    for mode in modes:
        cmd = [sys.executable, __file__, "--timing-child", mode, str(repeat)]
        out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env).stdout
        best[mode] = float(out.split()[-1])
    for mode in modes:
        ms = best[mode] / (LAST - FIRST + 1) * 1000
        ratio = best["python"] / best[mode]
        print(f"{mode:<8} {ms:6.2f} ms/ledger (decode + free)   python/{mode}: {ratio:5.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--modes", default=",".join(MODES))
    parser.add_argument("--counts", action="store_true")
    parser.add_argument("--verify", action="store_true")
    parser.add_argument("--timing", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--units", nargs=2, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--timing-child", nargs=2, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.units:
        child_units(args.units[0], int(args.units[1]))
    elif args.timing_child:
        child_timing(args.timing_child[0], int(args.timing_child[1]))
    elif args.counts:
        counts(args.verify)
    elif args.timing:
        timing(args.repeat)
    else:
        instructions(args.modes.split(","))


if __name__ == "__main__":
    main()
