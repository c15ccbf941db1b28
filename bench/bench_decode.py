"""Decode throughput on the 20 protocol-26 pubnet ledgers: stellar-sdk vs the generated decoders.

Usage: .venv/bin/python bench/bench_decode.py [--repeat N] [--sdk-passes N] [--baseline FILE]

Prints ledgers/s and MB/s for: stellar-sdk full decode (default GC, as is), the compiled decoder
(``--decoder compiled``, full materialisation, GC paused around each ledger as the pipeline does), the
pure-Python generated decoder (full, GC paused the same way), the pure-Python decoder with
the "tables" profile (metas' ledger-entry changes and events skipped), and the skip-walker.
Times are process CPU time, best of N passes (``--sdk-passes`` for stellar-sdk), so other load on
the machine disturbs them less; the decoders take turns pass by pass, so the ratios are measured in
the same run.

``--baseline FILE`` also loads another generated ``_decoders.py`` (for example a copy of the
previous version kept under /tmp) and times it against the current one, alternating the two pass by
pass in the same process, so both see the same machine load; it prints the best rate of each and
the median of the per-pass ratios.
"""

from __future__ import annotations

import argparse
import gc
import gzip
import importlib.util
import statistics
import time
from collections.abc import Callable
from pathlib import Path
from types import ModuleType
from typing import Any

from stellar_arrow.xdr import _decoders, decode_ledger_close_meta, profile, skip
from stellar_arrow.xdr.choice import compiled_available, decode_ledger_close_meta_compiled
from stellar_arrow.xdr.profile import TABLES_PROFILE, decoder_for

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"


def load() -> list[bytes]:
    files = sorted(CORPUS.glob("pubnet-00630929*.xdr.gz")) + sorted(CORPUS.glob("pubnet-00630930*.xdr.gz"))
    return [gzip.decompress(f.read_bytes()) for f in files]


Decoders = dict[str, tuple[Callable[[bytes], Any], int]]


def measure(decoders: Decoders, ledgers: list[bytes]) -> dict[str, float]:
    """Best total CPU time of each decoder over all ledgers, passes taken in turn.

    ``decoders`` maps a label to (function, passes). Round ``p`` runs one pass of each decoder that
    has more than ``p`` passes, so all of them sample the whole run's machine load (this machine is
    shared) and the ratios are measured in the same run. (Passes, not single ledgers, take turns:
    right after stellar-sdk has decoded a ledger, with its 25 MB of objects freed, the generated
    decoder runs about 30% slower on the next one; taking turns ledger by ledger would measure that.)
    """
    totals: dict[str, list[float]] = {label: [] for label in decoders}
    for p in range(max(passes for _, passes in decoders.values())):
        for label, (fn, passes) in decoders.items():
            if p < passes:
                t0 = time.process_time()
                for data in ledgers:
                    fn(data)
                totals[label].append(time.process_time() - t0)
    return {label: min(times) for label, times in totals.items()}


def _module(path: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location("baseline_decoders", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _entry_points(module: ModuleType) -> dict[str, Callable[[bytes, int], Any]]:
    """Full decoder, tables-profile decoder and skip-walker of one generated module (GC paused)."""
    saved = vars(profile)["_decoders"]
    setattr(profile, "_decoders", module)  # noqa: B010  # build the profile over this module
    try:
        tables = profile._namespace(TABLES_PROFILE)["d_LedgerCloseMeta"]
    finally:
        setattr(profile, "_decoders", saved)  # noqa: B010
    return {
        "full": module.d_LedgerCloseMeta,
        "tables profile": tables,
        "skip-walker": module.s_LedgerCloseMeta,
    }


def compare(baseline: str, ledgers: list[bytes], repeat: int) -> None:
    """Current vs baseline generated module, interleaved pass by pass."""
    old, new = _entry_points(_module(baseline)), _entry_points(_decoders)
    print(f"\ncurrent decoder vs baseline {baseline} ({repeat} alternating passes each):")
    for what in old:
        times: dict[str, list[float]] = {"baseline": [], "current": []}
        gc.disable()
        try:
            for n in range(repeat):
                order = [("baseline", old[what]), ("current", new[what])]
                for name, fn in order if n % 2 == 0 else order[::-1]:
                    t0 = time.process_time()
                    for data in ledgers:
                        fn(data, 0)
                    times[name].append(time.process_time() - t0)
                    gc.collect()
        finally:
            gc.enable()
        ratio = statistics.median(b / c for b, c in zip(times["baseline"], times["current"], strict=True))
        n = len(ledgers)
        print(
            f"  {what:<16} baseline {n / min(times['baseline']):7.2f} ledgers/s   "
            f"current {n / min(times['current']):7.2f} ledgers/s   speed-up {ratio:.2f}x (median of passes)"
        )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sdk-passes", type=int, default=1)
    parser.add_argument("--baseline", help="another generated _decoders.py to time against this one")
    args = parser.parse_args()
    ledgers = load()
    if not compiled_available():
        raise SystemExit("the compiled decoder is not built: run scripts/setup")
    print(f"{len(ledgers)} ledgers, {sum(map(len, ledgers)) / 1e6:.2f} MB of XDR")
    from stellar_sdk import xdr as sdk_xdr

    tables = decoder_for(TABLES_PROFILE)
    labels = {
        "sdk": "stellar-sdk LedgerCloseMeta.from_xdr_bytes",
        "compiled": "compiled decoder, full",
        "full": "generated decoder, full",
        "tables": "generated decoder, tables profile",
        "skip": "generated skip-walker",
    }
    best = measure(
        {
            "sdk": (sdk_xdr.LedgerCloseMeta.from_xdr_bytes, args.sdk_passes),
            "compiled": (decode_ledger_close_meta_compiled, args.repeat),
            "full": (decode_ledger_close_meta, args.repeat),
            "tables": (tables, args.repeat),
            "skip": (lambda d: skip("LedgerCloseMeta", d), args.repeat),
        },
        ledgers,
    )
    mb = sum(map(len, ledgers)) / 1e6
    rate = {label: len(ledgers) / t for label, t in best.items()}
    for label, t in best.items():
        print(f"{labels[label]:<44} {rate[label]:8.2f} ledgers/s {mb / t:8.2f} MB/s")
    ratio = {label: r / rate["sdk"] for label, r in rate.items()}
    print(f"ratio full/sdk {ratio['full']:.1f}x  ", end="")
    print(f"tables-profile/sdk {ratio['tables']:.1f}x  skip/sdk {ratio['skip']:.1f}x")
    print(f"compiled/python full decode {rate['compiled'] / rate['full']:.1f}x")
    if args.baseline:
        compare(args.baseline, ledgers, max(args.repeat, 2) * 2)


if __name__ == "__main__":
    main()
