"""Load on one sink process: concurrent Flight streams and WebSocket replays, REST latency, peak RSS.

The scenario of ``tests/integration/load`` (the 20 real sample ledgers committed by the sink's writer; the
sink in its own process; every Flight stream reads the whole ``token_transfers`` range, every WebSocket
client replays from cursor 0; one client times filtered REST queries meanwhile) run ``--repeat`` times,
printing the outcomes, REST p50/p95 and the sink's resting and peak RSS (``VmHWM``). ``--python`` runs the
sink with another interpreter (another checkout's install) for a before/after comparison in one run.

    .venv/bin/python bench/bench_load.py --streams 50 --replays 50 --repeat 3
    .venv/bin/python bench/bench_load.py --python /work/main/.venv/bin/python   # the code before
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tests.integration.load.scenario import SinkProcess, build_output, run_load


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--streams", type=int, default=50, help="concurrent Flight do_get streams")
    parser.add_argument("--replays", type=int, default=50, help="concurrent WebSocket replays from cursor 0")
    parser.add_argument("--repeat", type=int, default=1, help="runs, each with a fresh sink process")
    parser.add_argument("--python", default=sys.executable, help="interpreter that runs the sink")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-load-"))
    output = build_output(work / "out")
    for run in range(args.repeat):
        sink = SinkProcess(output, work, python=args.python)
        try:
            result = run_load(sink, streams=args.streams, replays=args.replays)
        finally:
            sink.stop()
        print(f"run {run + 1}: {result.summary()}", flush=True)


if __name__ == "__main__":
    main()
