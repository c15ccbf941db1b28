"""Export throughput on the 20 protocol-26 pubnet ledgers of the sample lake, per stage and end to end.

Usage: .venv/bin/python bench/bench_export.py [--repeat N] [--skip-e2e] [--e2e-only]

Stages (process CPU time, best of N, one ledger at a time as the pipeline does):
fetch (object bytes from the local lake), decompress (zstd + batch split), decode (full, and the
tables profile used when token_transfers is not asked for), to-Arrow (the table builders and
validation, per table), write (Parquet with zstd). MB/s counts raw XDR except the fetch row
(compressed bytes). End to end (wall clock, each configuration in a fresh process): lake ->
Parquet with 0 (in-process), 1 and 2 worker processes, and the peak RSS of the parent and of the
largest worker.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.config import load_settings
from stellar_arrow.export import run_export
from stellar_arrow.ledger import resolve_network
from stellar_arrow.source.batch import split_ledger_close_meta_batch
from stellar_arrow.source.files import decompress_zstd
from stellar_arrow.source.keys import LakeSchema
from stellar_arrow.xdr import decode_ledger_close_meta, gc_paused
from stellar_arrow.xdr.choice import decode_ledger_close_meta_compiled
from stellar_arrow.xdr.profile import TABLES_PROFILE, decoder_for

LAKE = Path(__file__).resolve().parent.parent / "data" / "lakes" / "pubnet-p26"
FIRST, LAST = 63092982, 63093001
PUBNET = resolve_network("pubnet")


def _objects() -> list[Path]:
    schema = LakeSchema(1, 64000, "zst")
    return [LAKE / schema.batch_key(seq).key for seq in range(FIRST, LAST + 1)]


def _best(fn: Callable[[], object], repeat: int) -> float:
    best = float("inf")
    for _ in range(repeat):
        t0 = time.process_time()
        fn()
        best = min(best, time.process_time() - t0)
    return best


def _row(label: str, seconds: float, n: int, mb: float) -> None:
    print(f"{label:<58} {n / seconds:9.1f} ledgers/s {mb / seconds:9.1f} MB/s")


def _build_time(lcms: list[bytes], tables: tuple[str, ...], decode: Callable[[bytes], object]) -> float:
    """CPU seconds spent in the table builders (decode excluded), one ledger at a time."""
    total = 0.0
    for raw in lcms:
        with gc_paused():
            lcm = decode(raw)
            t0 = time.process_time()
            table_set = TableSet(TableSetOptions(tables, PUBNET))
            table_set.add_decoded(lcm)  # type: ignore[arg-type]
            table_set.finish()
            total += time.process_time() - t0
            del lcm
    return total


def stages(repeat: int) -> dict[str, pa.Table]:
    paths = _objects()
    n = len(paths)
    blobs = [p.read_bytes() for p in paths]
    compressed_mb = sum(map(len, blobs)) / 1e6
    lcms = [
        split_ledger_close_meta_batch(
            decompress_zstd(b, object_name=str(p)), object_name=str(p)
        ).ledger_close_metas[0]
        for b, p in zip(blobs, paths, strict=True)
    ]
    mb = sum(map(len, lcms)) / 1e6
    print(f"{n} ledgers {FIRST}-{LAST}: {compressed_mb:.2f} MB of zstd objects, {mb:.2f} MB of raw XDR")
    _row(
        "fetch (local object bytes; MB/s of compressed bytes)",
        _best(lambda: [p.read_bytes() for p in paths], repeat),
        n,
        compressed_mb,
    )
    _row(
        "decompress (zstd + batch split)",
        _best(
            lambda: [
                split_ledger_close_meta_batch(decompress_zstd(b, object_name="x"), object_name="x")
                for b in blobs
            ],
            repeat,
        ),
        n,
        mb,
    )

    def decode_all(decode: Callable[[bytes], object]) -> None:
        for raw in lcms:
            with gc_paused():
                decode(raw)

    tables_decoder = decoder_for(TABLES_PROFILE)
    _row(
        "decode, compiled, full (the default decoder)",
        _best(lambda: decode_all(decode_ledger_close_meta_compiled), repeat),
        n,
        mb,
    )
    _row(
        "decode, pure Python, full (needed by token_transfers)",
        _best(lambda: decode_all(decode_ledger_close_meta), repeat),
        n,
        mb,
    )
    _row(
        "decode, pure Python, tables profile (ledgers/transactions/operations)",
        _best(lambda: decode_all(tables_decoder), repeat),
        n,
        mb,
    )
    to_arrow: list[tuple[str, ...]] = [("ledgers",), ("transactions",), ("operations",), ("token_transfers",)]
    for tables in to_arrow:
        decode = decode_ledger_close_meta if "token_transfers" in tables else tables_decoder
        best = min(_build_time(lcms, tables, decode) for _ in range(repeat))
        _row(f"to-Arrow: {'+'.join(tables)} (validation included)", best, n, mb)
    every = tuple(t for (t,) in to_arrow)
    table_set = TableSet(TableSetOptions(every, PUBNET))
    for raw in lcms:
        table_set.add(raw)
    built = {name: pa.Table.from_batches([batch]) for name, batch in table_set.finish().items()}
    with tempfile.TemporaryDirectory() as tmp:
        for name, table in built.items():
            seconds = _best(
                lambda t=table, n_=name: pq.write_table(t, Path(tmp) / f"{n_}.parquet", compression="zstd"),
                repeat,
            )
            _row(f"write: {name} Parquet ({table.num_rows} rows)", seconds, n, mb)
    return built


def _high_water_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def e2e_child(workers: int, tables: tuple[str, ...], decoder: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        # 4 fetch threads and 20 ledgers read ahead: what export used before it read the settings model
        request = load_settings(
            source={
                "datalake_uri": str(LAKE),
                "start_ledger": FIRST,
                "end_ledger": LAST,
                "concurrent_readers": 4,
                "buffer_size": 20,
            },
            export={
                "output_dir": tmp,
                "tables": tables,
                "chunk_size": 20,
                "workers": workers,
                "decoder": decoder,
            },
        )
        t0, c0 = time.perf_counter(), time.process_time()
        summary = run_export(request)
        seconds, cpu = time.perf_counter() - t0, time.process_time() - c0
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "seconds": seconds,
        "ledgers": summary.ledgers_exported,
        "rss_mb": _high_water_mb(),  # VmHWM: ru_maxrss would also count the bench process that exec'd this
        "worker_rss_mb": usage.ru_maxrss / 1024 if workers else 0.0,
        "parent_cpu": cpu,
        "worker_cpu": usage.ru_utime + usage.ru_stime,
    }
    print(json.dumps(result))


def e2e(repeat: int) -> None:
    configs = [("ledgers", "transactions", "token_transfers"), ("ledgers", "transactions", "operations")]
    for tables in configs:
        for workers, decoder in ((0, "python"), (0, "compiled"), (1, "compiled"), (2, "compiled")):
            runs = []
            for _ in range(repeat):
                cmd = [sys.executable, __file__, "--e2e-child", str(workers), "--tables", ",".join(tables)]
                cmd += ["--decoder", decoder]
                out = subprocess.run(cmd, capture_output=True, text=True, check=True).stdout
                runs.append(json.loads(out.strip().splitlines()[-1]))
            best = min(runs, key=lambda r: r["seconds"])
            rate = best["ledgers"] / best["seconds"]
            # what the CPU work allows on otherwise idle cores: the busiest of the parent and the workers
            busiest = max(best["parent_cpu"], best["worker_cpu"] / max(workers, 1))
            cpu_rate = best["ledgers"] / busiest
            where = "in-process" if workers == 0 else f"{workers} worker process(es)"
            label = f"end to end -> {'+'.join(tables)}, {decoder}, {where}"
            print(
                f"{label:<70} {rate:6.1f} ledgers/s (CPU-bound {cpu_rate:5.1f})  peak RSS parent"
                f" {best['rss_mb']:.0f} MB, worker {best['worker_rss_mb']:.0f} MB"
            )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--skip-e2e", action="store_true")
    parser.add_argument("--e2e-child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("--tables", default="ledgers,transactions", help=argparse.SUPPRESS)
    parser.add_argument("--decoder", default="compiled", help=argparse.SUPPRESS)
    parser.add_argument("--e2e-only", action="store_true", help="only the end-to-end runs")
    args = parser.parse_args()
    if args.e2e_child is not None:
        e2e_child(args.e2e_child, tuple(args.tables.split(",")), args.decoder)
        return
    if not args.e2e_only:
        stages(args.repeat)
    if not args.skip_e2e:
        e2e(args.repeat)


if __name__ == "__main__":
    main()
