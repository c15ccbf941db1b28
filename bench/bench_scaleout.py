"""Scale-out of an export on Dask: one process vs a local cluster of 1 and 2 workers, on the sample lake.

Usage: .venv/bin/python bench/bench_scaleout.py [--repeat N] [--chunk-size N] [--rounds N]

Each configuration exports the 20 pubnet protocol-26 ledgers of the sample lake `--rounds` times into fresh
folders (ledgers, transactions, token_transfers; Parquet) and reports wall-clock ledgers/s (best of N), the
efficiency of 2 workers against 1 (speed-up / 2), and per-worker ledgers/s. The cluster is started once per
worker count (its start-up is not counted: a backfill pays it once); every round writes every chunk.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

from distributed import Client, LocalCluster

from stellar_arrow.config import Settings, load_settings
from stellar_arrow.export import run_export
from stellar_arrow.scaleout import run_export_on_cluster

LAKE = Path(__file__).resolve().parent.parent / "data" / "lakes" / "pubnet-p26"
FIRST, LAST = 63092982, 63093001
TABLES = ("ledgers", "transactions", "token_transfers")


def _settings(out: Path, chunk_size: int) -> Settings:
    return load_settings(
        source={"datalake_uri": str(LAKE), "start_ledger": FIRST, "end_ledger": LAST},
        export={"output_dir": str(out), "tables": TABLES, "chunk_size": chunk_size},
    )


def _rate(seconds: float, rounds: int) -> float:
    return rounds * (LAST - FIRST + 1) / seconds


def _one_process(chunk_size: int, rounds: int, repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            for i in range(rounds):
                run_export(_settings(Path(tmp) / str(i), chunk_size))
            best = min(best, time.perf_counter() - t0)
    return _rate(best, rounds)


def _cluster(workers: int, chunk_size: int, rounds: int, repeat: int) -> float:
    best = float("inf")
    with (
        LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=":0") as cluster,
        Client(cluster) as client,
    ):
        with tempfile.TemporaryDirectory() as warm:  # imports and caches in every worker
            run_export_on_cluster(_settings(Path(warm), chunk_size), client)
        for _ in range(repeat):
            with tempfile.TemporaryDirectory() as tmp:
                t0 = time.perf_counter()
                for i in range(rounds):
                    run_export_on_cluster(_settings(Path(tmp) / str(i), chunk_size), client)
                best = min(best, time.perf_counter() - t0)
    return _rate(best, rounds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--chunk-size", type=int, default=2)
    args = parser.parse_args()
    one = _one_process(args.chunk_size, args.rounds, args.repeat)
    w1 = _cluster(1, args.chunk_size, args.rounds, args.repeat)
    w2 = _cluster(2, args.chunk_size, args.rounds, args.repeat)
    print(f"sample lake {FIRST}-{LAST}, tables {','.join(TABLES)}, chunk size {args.chunk_size}")
    print(f"{'one process (export)':<34} {one:8.1f} ledgers/s")
    print(f"{'Dask local cluster, 1 worker':<34} {w1:8.1f} ledgers/s   per worker {w1:6.1f}")
    print(f"{'Dask local cluster, 2 workers':<34} {w2:8.1f} ledgers/s   per worker {w2 / 2:6.1f}")
    print(f"speed-up 2 vs 1 worker: {w2 / w1:.2f}x, efficiency {w2 / w1 / 2:.0%}")


if __name__ == "__main__":
    main()
