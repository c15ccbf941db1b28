"""Source throughput on the bundled sample lakes: fetch, decompress, split; lake (local) and RPC (rpc-replay).

    .venv/bin/python bench/bench_source.py [--repeat 5]

Stages measured on the 20 pubnet protocol-26 ledgers 63092982-63093001 (wall clock, best of --repeat):
* fetch: read the 20 objects' bytes from the local lake (no decompression);
* decompress: zstd of those objects (one thread);
* lake source: DataLakeLedgerSource.ledgers() end to end (prefetch threads, fetch + decompress + split);
* lake source, 4-ledger batches: the same over pubnet-p26-batch4 (18 ledgers; the split walks each LCM);
* rpc source: RpcLedgerSource.ledgers() against ``stellar-arrow rpc-replay`` in a separate process (HTTP on
  loopback, JSON + base64 both ways), for several page sizes.
MB/s counts raw (uncompressed) LedgerCloseMeta bytes unless the row says "compressed".
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from stellar_arrow.source.files import decompress_zstd
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.source.rpc import RpcLedgerSource

REPO = Path(__file__).resolve().parent.parent
LAKE = REPO / "data" / "lakes" / "pubnet-p26"
FIRST, LAST = 63092982, 63093001


def best(repeat: int, run: Callable[[], object]) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return min(times)


def row(name: str, ledgers: int, megabytes: float, seconds: float) -> None:
    rate, throughput, total = ledgers / seconds, megabytes / seconds, seconds * 1000
    print(f"| {name} | {ledgers} | {rate:,.1f} | {throughput:,.1f} | {total:,.1f} |")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    source = DataLakeLedgerSource(str(LAKE))
    keys = [source.schema.batch_key(seq).key for seq in range(FIRST, LAST + 1)]
    store = source._store  # the benchmark looks inside on purpose: fetch alone
    objects = [store.read(key) for key in keys]
    compressed_mb = sum(map(len, objects)) / 1e6
    raw = [decompress_zstd(data, object_name=key) for data, key in zip(objects, keys, strict=True)]
    raw_mb = sum(map(len, raw)) / 1e6
    n = len(keys)
    print(f"20 ledgers {FIRST}-{LAST}: {compressed_mb:.2f} MB compressed, {raw_mb:.2f} MB raw XDR\n")
    print("| stage | ledgers | ledgers/s | MB/s | ms total |")
    print("|---|---|---|---|---|")
    row(
        "fetch (local lake, compressed MB)",
        n,
        compressed_mb,
        best(args.repeat, lambda: [store.read(k) for k in keys]),
    )
    row(
        "decompress (zstd, 1 thread)",
        n,
        raw_mb,
        best(args.repeat, lambda: [decompress_zstd(d, object_name="o") for d in objects]),
    )
    for workers in (1, 4):
        lake = DataLakeLedgerSource(str(LAKE), workers=workers, buffer_size=max(4, workers * 2))
        row(
            f"lake source, local, {workers} worker(s)",
            n,
            raw_mb,
            best(args.repeat, lambda lake=lake: list(lake.ledgers(FIRST, LAST))),  # type: ignore[misc]
        )
    batch4 = DataLakeLedgerSource(str(LAKE.parent / "pubnet-p26-batch4"), workers=2, buffer_size=4)
    batch4_mb = sum(len(lcm) for _, lcm in batch4.ledgers(FIRST, 63092999)) / 1e6
    row(
        "lake source, local, 4-ledger batches",
        18,
        batch4_mb,
        best(args.repeat, lambda: list(batch4.ledgers(FIRST, 63092999))),
    )

    command = [
        str(Path(sys.executable).parent / "stellar-arrow"),
        "rpc-replay",
        "--lake",
        str(LAKE),
        "--port",
        "0",
    ]
    server = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    try:
        assert server.stdout is not None
        url = ""
        while not url:
            line = server.stdout.readline()
            if not line:
                raise SystemExit("rpc-replay did not start")
            if "listening on " in line:
                url = line.split("listening on ", 1)[1].strip()
        for page_size in (5, 20):
            with RpcLedgerSource(url, page_size=page_size) as rpc:
                list(rpc.ledgers(FIRST, LAST))  # warm the server's batch cache
                row(
                    f"rpc source via rpc-replay, page size {page_size}",
                    n,
                    raw_mb,
                    best(args.repeat, lambda rpc=rpc: list(rpc.ledgers(FIRST, LAST))),  # type: ignore[misc]
                )
    finally:
        server.terminate()
        server.wait(10)


if __name__ == "__main__":
    main()
