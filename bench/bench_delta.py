"""Sink commit cost with and without the Delta output, measured in one run (ratios are what count).

The 20 real pubnet ledgers 63092982-63093001 from the corpus are fed to a ``DatasetSink`` committing every
ledger (``batch_rows=1``: 20 commits of the four tables, date partitions), once writing Parquet only and
once Parquet + Delta (one Delta append per table and commit), alternately ``--rounds`` times; the medians of
wall and process CPU time (all threads, delta-rs's included) are printed.

    .venv/bin/python bench/bench_delta.py --rounds 3
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from stellar_arrow.config import SinkSettings
from stellar_arrow.sink import DatasetSink
from tests.unit.sink.realdata import ledger_tables, schemas


def run(formats: tuple[str, ...]) -> tuple[float, float]:
    root = Path(tempfile.mkdtemp(prefix="bench-delta-"))
    options = SinkSettings(
        output_formats=formats, partition_by=("date",), batch_rows=1, flush_interval_s=3600
    )
    try:
        wall, cpu = time.perf_counter(), time.process_time()
        with DatasetSink(root, schemas(), options) as sink:
            for seq, tables in ledger_tables():
                for table, rows in tables.items():
                    sink.write_batch(table, rows)
                sink.advance(seq)
        return time.perf_counter() - wall, time.process_time() - cpu
    finally:
        shutil.rmtree(root)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    ledger_tables()  # decode once, outside the measurement
    results: dict[str, list[tuple[float, float]]] = {"parquet": [], "parquet+delta": []}
    for _ in range(args.rounds):
        results["parquet"].append(run(("parquet",)))
        results["parquet+delta"].append(run(("parquet", "delta")))
    base = statistics.median(c for _, c in results["parquet"])
    for name, runs in results.items():
        wall = statistics.median(w for w, _ in runs)
        cpu = statistics.median(c for _, c in runs)
        print(f"{name:14s} 20 commits: wall {wall:.2f} s, CPU {cpu:.2f} s ({cpu / base:.1f}x Parquet alone)")


if __name__ == "__main__":
    main()
