"""Token transfer event throughput on the 20 protocol-26 pubnet ledgers 63092982-63093001.

Usage:
    .venv/bin/python bench/bench_ttp.py [--repeat N]
    .venv/bin/python bench/bench_ttp.py --instructions [--stages derive,batch,ttp,ttp-python] [--ledgers 20]

Stages (process CPU time, best of N; ledgers are decoded once up front unless the stage says otherwise):

* derive: ``events_from_ledger`` on decoded ledgers (derived mode) - derivation alone;
* derive + batch: the same plus ``events_to_batch`` (the token_transfers Arrow rows);
* unified: ``events_from_ledger(..., "unified")`` (reading core's own CAP-67 events);
* verify: ``verify_ledger`` (derivation + per-tx balance reconciliation), and with ``strict=True``;
* ttp compiled / ttp python: ``token_transfers_batch`` with and without the compiled rows
  (``ttp/_fast.pyx``; the Python derivation when the extension is not built);
* lake -> Parquet: ``DataLakeLedgerSource`` over ``data/lakes/pubnet-p26`` + decode + derive + batch + one
  Parquet file (wall clock).

Instruction mode (``--instructions``, needs valgrind; ``--decoder compiled`` by default): deterministic
counts, on the ledgers decoded (and paired) once up front: ``derive`` (``events_from_ledger``, pairing
passed in), ``batch`` (``events_to_batch`` of events derived once), ``ttp`` (``token_transfers_batch``,
what ``TableSet`` runs: with the compiled decoder the compiled rows of ``ttp/_fast.pyx``, else the Python
derivation and batch) and ``ttp-python`` (``token_transfers_batch`` by the Python derivation, whatever the
decoder). The process runs under
``valgrind --tool=cachegrind`` once with 1 pass of every stage over the first ``--ledgers`` of the 20
ledgers, and once per stage with 3 passes of it; (3 - 1) / 2 / ledgers is the stage's cost per ledger
(start-up, imports, decoding and warm-up cancel out).
"""

from __future__ import annotations

import argparse
import gzip
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from stellar_arrow.ledger import resolve_network
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.ttp import (
    TOKEN_TRANSFERS_SCHEMA,
    events_from_ledger,
    events_to_batch,
    token_transfers_batch,
    transaction_events,
    verify_transaction,
)
from stellar_arrow.ttp.compiled import compiled_available, declined
from stellar_arrow.xdr import decode_ledger_close_meta

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "data" / "corpus"
LAKE = ROOT / "data" / "lakes" / "pubnet-p26"
PUBNET = resolve_network("pubnet")


def load() -> list[Any]:
    files = sorted(CORPUS.glob("pubnet-00630929*.xdr.gz")) + sorted(CORPUS.glob("pubnet-00630930*.xdr.gz"))
    return [decode_ledger_close_meta(gzip.decompress(f.read_bytes())) for f in files]


def timed(label: str, fn: Callable[[Any], int], ledgers: list[Any], repeat: int) -> None:
    best = float("inf")
    events = 0
    for _ in range(repeat):
        t0 = time.process_time()
        events = sum(fn(lcm) for lcm in ledgers)
        best = min(best, time.process_time() - t0)
    print(
        f"{label:<34} {len(ledgers) / best:9.1f} ledgers/s {events / best:11,.0f} events/s  ({events} events)"
    )


def reconciled(lcm: Any, *, strict: bool) -> int:
    """Derive and reconcile every tx; the number of events checked (a mismatch would abort the bench)."""
    events = 0
    for t in transaction_events(lcm, PUBNET):
        if verify_transaction(t, strict=strict):
            raise SystemExit(f"mismatch in ledger {lcm.value.ledger_header.header.ledger_seq}")
        events += len(t.all)
    return events


def lake_to_parquet() -> None:
    t0 = time.perf_counter()
    events = 0
    with tempfile.TemporaryDirectory() as tmp, DataLakeLedgerSource(str(LAKE)) as lake:
        writer = pq.ParquetWriter(Path(tmp) / "token_transfers.parquet", TOKEN_TRANSFERS_SCHEMA)
        count = 0
        for raw in lake.ledgers(63092982, 63093001):
            batch = events_to_batch(
                events_from_ledger(decode_ledger_close_meta(raw.ledger_close_meta), PUBNET)
            )
            writer.write_table(pa.Table.from_batches([batch]))
            events += batch.num_rows
            count += 1
        writer.close()
    wall = time.perf_counter() - t0
    print(
        f"{'lake -> token_transfers Parquet':<34} {count / wall:9.1f} ledgers/s "
        f"{events / wall:11,.0f} events/s (wall clock, decode included)"
    )


INSTRUCTION_STAGES = ("derive", "batch", "ttp", "ttp-python")


def child_passes(decoder: str, passes: dict[str, int], ledgers: int) -> None:
    """``passes[stage]`` runs of each stage over the first ``ledgers`` of the 20 (after a warm-up run)."""
    from stellar_arrow.ledger.view import ledger_view, pair_transactions
    from stellar_arrow.xdr import gc_paused
    from stellar_arrow.xdr.choice import decode_ledger_close_meta_compiled

    decode = decode_ledger_close_meta_compiled if decoder == "compiled" else decode_ledger_close_meta
    files = sorted(CORPUS.glob("pubnet-00630929*.xdr.gz")) + sorted(CORPUS.glob("pubnet-00630930*.xdr.gz"))
    with gc_paused():
        lcms = [decode(gzip.decompress(f.read_bytes())) for f in files[:ledgers]]
        paired = []
        for lcm in lcms:
            view = ledger_view(lcm)
            paired.append((view, pair_transactions(view, PUBNET)))
        work = list(zip(lcms, paired, strict=True))
        derived = [events_from_ledger(lcm, PUBNET, paired=p) for lcm, p in work]
        compiled = decoder == "compiled"
        for stage in INSTRUCTION_STAGES:
            for _ in range(1 + passes[stage]):  # the first run warms the caches
                if stage == "derive":
                    for lcm, p in work:
                        events_from_ledger(lcm, PUBNET, paired=p)
                elif stage == "ttp":
                    for lcm, p in work:
                        token_transfers_batch(lcm, PUBNET, paired=p, compiled=compiled)
                elif stage == "ttp-python":
                    for lcm, p in work:
                        token_transfers_batch(lcm, PUBNET, paired=p)
                else:
                    for events in derived:
                        events_to_batch(events)
    if declined():  # every figure of ``ttp`` must be the compiled rows' own
        raise SystemExit(f"the compiled rows declined ledgers: {dict(declined())}")


def instructions(stages: list[str], decoder: str, ledgers: int) -> None:
    """Instructions per ledger of each stage: (run with 3 passes of it - run with 1 pass of each) / 2."""

    def count(passes: dict[str, int]) -> int:
        spec = ",".join(str(passes[s]) for s in INSTRUCTION_STAGES)
        cmd = ["valgrind", "--tool=cachegrind", "--cache-sim=no", "--cachegrind-out-file=/dev/null"]
        cmd += [sys.executable, __file__, "--passes", decoder, spec, str(ledgers)]
        err = subprocess.run(cmd, capture_output=True, text=True, check=True).stderr
        line = next(x for x in err.splitlines() if "I" in x and "refs:" in x)
        return int(line.split()[-1].replace(",", ""))

    once = dict.fromkeys(INSTRUCTION_STAGES, 1)
    base = count(once)
    print(
        f"instructions per ledger, {ledgers} ledgers, {decoder} decoder"
        f" (valgrind cachegrind, (3 passes - 1 pass) / 2 / {ledgers})"
    )
    for stage in stages:
        per = (count({**once, stage: 3}) - base) / 2 / ledgers
        print(f"{stage:<8} {per / 1e6:8.2f} M")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--instructions", action="store_true", help="valgrind instruction counts")
    parser.add_argument("--stages", default="derive,batch,ttp,ttp-python", help="for --instructions")
    parser.add_argument("--decoder", default="compiled", choices=("compiled", "python"))
    parser.add_argument("--ledgers", type=int, default=20, help="for --instructions: the first N of the 20")
    parser.add_argument("--passes", nargs=3, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.passes:
        decoder, spec, ledgers = args.passes
        passes = dict(zip(INSTRUCTION_STAGES, map(int, spec.split(",")), strict=True))
        child_passes(decoder, passes, int(ledgers))
        return
    if args.instructions:
        instructions(args.stages.split(","), args.decoder, args.ledgers)
        return
    ledgers = load()
    print(
        f"{len(ledgers)} decoded ledgers, {sum(len(lcm.value.tx_processing) for lcm in ledgers)} transactions"
    )
    timed(
        "derive (events_from_ledger)", lambda lcm: len(events_from_ledger(lcm, PUBNET)), ledgers, args.repeat
    )
    timed(
        "derive + Arrow batch",
        lambda lcm: events_to_batch(events_from_ledger(lcm, PUBNET)).num_rows,
        ledgers,
        args.repeat,
    )
    for compiled in (True, False):
        label = "ttp " + ("compiled" if compiled and compiled_available() else "python")
        timed(
            f"{label} (token_transfers_batch)",
            lambda lcm, c=compiled: token_transfers_batch(lcm, PUBNET, compiled=c).num_rows,
            ledgers,
            args.repeat,
        )
    timed(
        "unified (core's CAP-67 events)",
        lambda lcm: len(events_from_ledger(lcm, PUBNET, "unified")),
        ledgers,
        args.repeat,
    )
    timed("verify (derive + reconcile)", lambda lcm: reconciled(lcm, strict=False), ledgers, args.repeat)
    timed("verify --strict", lambda lcm: reconciled(lcm, strict=True), ledgers, args.repeat)
    lake_to_parquet()


if __name__ == "__main__":
    main()
