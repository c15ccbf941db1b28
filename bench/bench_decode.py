"""Decode throughput on the 20 protocol-26 pubnet ledgers: stellar-sdk vs the generated decoder.

Usage: .venv/bin/python bench/bench_decode.py [--repeat N] [--sdk-passes N]

Prints ledgers/s and MB/s for: stellar-sdk full decode (default GC, as is), the generated decoder
(full materialisation, GC paused around each ledger as the pipeline does), the generated decoder with
the "tables" profile (metas' ledger-entry changes and events skipped), and the skip-walker.
Times are process CPU time (best of N), so other load on the machine disturbs them less; ratios are
measured in the same run.
"""

from __future__ import annotations

import argparse
import gzip
import time
from pathlib import Path

from stellar_arrow.xdr import decode_ledger_close_meta, skip
from stellar_arrow.xdr.profile import TABLES_PROFILE, decoder_for

CORPUS = Path(__file__).resolve().parent.parent / "data" / "corpus"


def load() -> list[bytes]:
    files = sorted(CORPUS.glob("pubnet-00630929*.xdr.gz")) + sorted(CORPUS.glob("pubnet-00630930*.xdr.gz"))
    return [gzip.decompress(f.read_bytes()) for f in files]


def timed(label: str, fn, ledgers: list[bytes], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        for data in ledgers:
            fn(data)
        best = min(best, time.process_time() - t0)
    mb = sum(map(len, ledgers)) / 1e6
    rate = len(ledgers) / best
    print(f"{label:<44} {rate:8.2f} ledgers/s {mb / best:8.2f} MB/s")
    return rate


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--sdk-passes", type=int, default=1)
    args = parser.parse_args()
    ledgers = load()
    print(f"{len(ledgers)} ledgers, {sum(map(len, ledgers)) / 1e6:.2f} MB of XDR")
    from stellar_sdk import xdr as sdk_xdr

    sdk = timed(
        "stellar-sdk LedgerCloseMeta.from_xdr_bytes",
        sdk_xdr.LedgerCloseMeta.from_xdr_bytes,
        ledgers,
        args.sdk_passes,
    )
    fast = timed("generated decoder, full", decode_ledger_close_meta, ledgers, args.repeat)
    tables = decoder_for(TABLES_PROFILE)
    prof = timed("generated decoder, tables profile", tables, ledgers, args.repeat)
    walk = timed("generated skip-walker", lambda d: skip("LedgerCloseMeta", d), ledgers, args.repeat)
    print(
        f"ratio full/sdk {fast / sdk:.1f}x  tables-profile/sdk {prof / sdk:.1f}x  skip/sdk {walk / sdk:.1f}x"
    )


if __name__ == "__main__":
    main()
