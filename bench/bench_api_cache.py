"""REST latency and memory of the API's file cache, interleaved so machine load hits every server alike.

Starts one server per variant (each in its own process, the sample data of ``bench_api.py``: 20 pubnet
ledgers, 309 small committed files plus 2 live ledgers) and sends the five filtered ``/api/v1/transfers``
queries to each in turn, one request at a time; prints per variant the median and p95 latency, the ratio of
medians to the first variant, and the server's RSS at the end. Variants: this checkout with the default file
cache, with the cache off (``--cache-bytes 0``), and, with ``--before DIR``, another checkout (e.g.
``git worktree add /tmp/before <rev>``) with its defaults, listed first.

    .venv/bin/python bench/bench_api_cache.py --requests 150 --before /tmp/before
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

HERE = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE / "bench"))

from bench_api import percentile, queries  # noqa: E402

RUNNER = """
import sys
root = sys.argv[1]
sys.path[:0] = [root + "/src", root, root + "/bench"]
import bench_api
class Out:
    def send(self, port): print(port, flush=True)
class Stop:
    def recv(self): sys.stdin.readline()
bench_api.serve(Out(), Stop(), *(int(a) for a in sys.argv[2:]))
"""


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--requests", type=int, default=150, help="requests per variant")
    parser.add_argument("--before", type=Path, help="another checkout to compare with (listed first)")
    args = parser.parse_args()
    variants: dict[str, list[str]] = {}
    if args.before is not None:
        variants[f"before ({args.before})"] = [str(args.before.resolve())]
    variants["file cache (default)"] = [str(HERE)]
    variants["file cache off"] = [str(HERE), "0"]
    procs = {
        name: subprocess.Popen(
            [sys.executable, "-c", RUNNER, *argv], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
        )
        for name, argv in variants.items()
    }
    latencies: dict[str, list[float]] = {name: [] for name in variants}
    memory: dict[str, float] = {}
    try:
        clients = {}
        for name, proc in procs.items():
            assert proc.stdout is not None
            clients[name] = httpx.Client(
                base_url=f"http://127.0.0.1:{proc.stdout.readline().strip()}", timeout=60
            )
        cases = queries()
        for client in clients.values():
            for _, url in cases * 3:  # warm-up
                client.get(url).raise_for_status()
        for i in range(args.requests):
            _, url = cases[i % len(cases)]
            for name, client in clients.items():
                t0 = time.perf_counter()
                client.get(url).raise_for_status()
                latencies[name].append((time.perf_counter() - t0) * 1000)
        memory = {name: rss_mb(proc.pid) for name, proc in procs.items()}
    finally:
        for proc in procs.values():
            if proc.stdin is not None:
                proc.stdin.write("\n")
                proc.stdin.flush()
        for proc in procs.values():
            proc.wait(60)
    first = statistics.median(next(iter(latencies.values())))
    for name, values in latencies.items():
        p50 = statistics.median(values)
        print(
            f"{name}: p50 {p50:.1f} ms, p95 {percentile(values, 0.95):.1f} ms, "
            f"p50 ratio {p50 / first:.2f}, RSS {memory.get(name, float('nan')):.0f} MB"
        )


if __name__ == "__main__":
    main()
