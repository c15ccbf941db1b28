"""Where the CPU of a one-process ``stellar-arrow run`` goes, thread by thread (needs ``perf``).

    .venv/bin/python bench/bench_run_threads.py [--repeat 3] [--frequency 2000]

``bench_run_cpu.py`` gives the total; this splits it. Each pass runs ``run --exit-when-done`` over the
bundled sample lake (20 pubnet protocol-26 ledgers, and a 1-ledger run, alternating) under
``perf record -e cpu-clock`` (a software clock: it works in VMs without hardware counters), which
samples every thread, also those that ended before the run did. Threads are told apart by their Linux
name (``comm``): the run is started through a small driver that gives every Python thread its
``threading`` name (``prctl(PR_SET_NAME)``, 15 characters, the ``stellar-arrow-`` prefix dropped) and
names a Flight handler thread after the service whose stream it serves (``source-get``,
``processor-get``, ``sink-get``): it runs that service's generator and serialises its batches.
``main`` is start-up (imports, settings, starting the services) and the summary. Threads that gRPC
starts keep gRPC's names (``grpcpp_sync_ser``: handler threads before they serve a stream, and
actions; ``event_engine``, ``grpc_global_tim``); ``python`` is any other unnamed thread (Arrow's
pools). Per thread: CPU ms per ledger of the 20-ledger run, of the 1-ledger run, and the marginal
(20-ledger - 1-ledger) / 19, medians of ``--repeat`` passes.
"""

from __future__ import annotations

import argparse
import collections
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

from bench_run_cpu import LAKE, LEDGERS, _config  # beside this script

# Runs inside the measured process: names the threads, then runs the CLI as ``stellar-arrow`` does.
DRIVER = r"""
import ctypes, sys, threading
_libc = ctypes.CDLL(None)
def _name(text):
    _libc.prctl(15, text.removeprefix("stellar-arrow-")[:15].encode(), 0, 0, 0)
_run = threading.Thread.run
def _named_run(self):
    _name(self.name)
    _run(self)
threading.Thread.run = _named_run
_name("main")
from stellar_arrow.flight.service import LedgerFlightServer
_messages = LedgerFlightServer._messages
def _named_messages(self, spec, request, cancel):
    _name(f"{self.service_name}-get")
    yield from _messages(self, spec, request, cancel)
LedgerFlightServer._messages = _named_messages
from stellar_arrow.cli import main
sys.argv = ["stellar-arrow", *sys.argv[1:]]
main()
"""


def one_pass(config: Path, tmp: Path, frequency: int) -> dict[str, float]:
    """CPU seconds per thread name of one ``run --exit-when-done`` (perf samples / frequency)."""
    data, out = tmp / "perf.data", tmp / "out"
    shutil.rmtree(out, ignore_errors=True)
    run = [
        sys.executable,
        "-c",
        DRIVER,
        "run",
        "--config",
        str(config),
        "--out",
        str(out),
        "--exit-when-done",
    ]
    perf = ["perf", "record", "-q", "-e", "cpu-clock", "-F", str(frequency), "-o", str(data), "--"]
    done = subprocess.run(perf + run, capture_output=True, text=True, timeout=600, check=False)
    if done.returncode != 0 or " committed in " not in done.stdout:
        sys.stdout.write(done.stdout[-3000:] + done.stderr[-3000:])
        msg = f"run exited {done.returncode}"
        raise SystemExit(msg)
    report = subprocess.run(
        ["perf", "report", "-i", str(data), "--stdio", "--sort", "comm", "-F", "sample,comm"],
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    ).stdout
    seconds: dict[str, float] = collections.defaultdict(float)
    for line in report.splitlines():
        fields = line.split(None, 1)
        if len(fields) == 2 and fields[0].isdigit():
            seconds[fields[1].strip()] += int(fields[0]) / frequency
    return seconds


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--frequency", type=int, default=2000, help="samples per CPU second")
    args = parser.parse_args(argv)
    if shutil.which("perf") is None:
        sys.exit("perf is not installed (Debian: linux-perf)")
    full: list[dict[str, float]] = []
    single: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        common = {"verify_events": False, "workers": None, "processes": "one"}
        configs = (
            _config(tmp / "full.yaml", ledgers=LEDGERS, **common),
            _config(tmp / "one.yaml", ledgers=1, **common),
        )
        for _ in range(args.repeat):  # alternating: both see the same machine
            full.append(one_pass(configs[0], tmp, args.frequency))
            single.append(one_pass(configs[1], tmp, args.frequency))
    threads = sorted(
        {t for p in full + single for t in p}, key=lambda t: -statistics.median(p.get(t, 0) for p in full)
    )

    def median_ms(passes: list[dict[str, float]], thread: str | None) -> float:
        return 1000 * statistics.median(
            sum(p.values()) if thread is None else p.get(thread, 0.0) for p in passes
        )

    print(
        f"stellar-arrow run --exit-when-done, one process, over {LAKE.name}: CPU by thread (perf cpu-clock)"
    )
    print(f"medians of {args.repeat} passes; ms of CPU")
    print(f"{'thread':18s} {'20 ledgers':>11s} {'1 ledger':>9s} {'marginal/ledger':>16s}")
    for thread in [*threads, None]:
        many, one = median_ms(full, thread), median_ms(single, thread)
        label = "total" if thread is None else thread
        print(f"{label:18s} {many:11.0f} {one:9.0f} {(many - one) / (LEDGERS - 1):16.1f}")


if __name__ == "__main__":
    main()
