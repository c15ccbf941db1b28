"""CPU seconds per ledger of ``stellar-arrow run --exit-when-done`` over the bundled sample lake.

    .venv/bin/python bench/bench_run_cpu.py [--repeat 3] [--verify-events] [--workers N] [--baseline SRC]
        [--python-decoder] [--processes one|separate|both] [--no-byte-compile]

Each pass runs the real command in a fresh process (``stellar-arrow run --config FILE --out TMP
--exit-when-done``; the config sets free loopback ports and the sample lake
``data/lakes/pubnet-p26``: 20 pubnet protocol-26 ledgers 63092982-63093001, ~1 MB of XDR each).

The total is exact: ``resource.getrusage(RUSAGE_CHILDREN)`` of this process, before and after, is the
user + sys CPU of the ``run`` process and every process below it that was waited for (the three
services, their worker pools). The per-process split is sampled from ``/proc`` every 20 ms (the last
slice of each process can be missed, so the parts add up to a little less than the total); a
service's figure includes its worker processes once they have exited. Wall time includes starting the
three Python processes: a 1-ledger run is timed too (alternating with the 20-ledger runs), and the
marginal CPU per ledger is (20-ledger CPU - 1-ledger CPU) / 19, start-up excluded.

Both checkouts' ``src`` are byte-compiled first (``compileall``), as an installed package is: with
``PYTHONDONTWRITEBYTECODE=1`` in the environment (as here) no ``.pyc`` would ever be written and every
pass would compile each module from source, inflating start-up. ``--no-byte-compile`` skips this.
"""

from __future__ import annotations

import argparse
import compileall
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
LAKE = REPO / "data" / "lakes" / "pubnet-p26"
LEDGERS = 20
_TICK = os.sysconf("SC_CLK_TCK")


FIRST = 63092982


def _config(
    path: Path,
    *,
    verify_events: bool,
    workers: int | None,
    ledgers: int,
    decoder: str = "compiled",
    processes: str | None = None,
) -> Path:
    processor: dict[str, object] = {"flight_port": 0}
    if verify_events:
        processor["verify_events"] = True
    if workers is not None:
        processor["workers"] = workers
    doc = {
        "source": {
            "flight_port": 0,
            "datalake_uri": str(LAKE),
            "start_ledger": FIRST,
            "end_ledger": FIRST + ledgers - 1,
            "decoder": decoder,
        },
        "processor": processor,
        "sink": {"flight_port": 0},
        "api": {"api_port": 0},
    }
    if processes is not None:
        doc["pipeline"] = {"processes": processes}
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


def _children() -> dict[int, list[int]]:
    tree: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        tree.setdefault(int(fields[1]), []).append(int(entry))
    return tree


def _sample(root: int, seen: dict[int, tuple[str, float]]) -> None:
    """Record user+sys (own, plus waited-for children) of every process below ``root``."""
    tree = _children()
    stack = [root]
    while stack:
        pid = stack.pop()
        stack.extend(tree.get(pid, []))
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
            cmd = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        own = (int(fields[11]) + int(fields[12])) / _TICK  # utime, stime
        waited = (int(fields[13]) + int(fields[14])) / _TICK  # cutime, cstime
        words = [w.decode(errors="replace") for w in cmd]
        if words == [""] and pid in seen:  # exited, not yet reaped: no command line any more
            label = seen[pid][0]
        elif "serve" in words:
            label = words[words.index("serve") + 1]
        elif "run" in words:
            label = "run (supervisor)"
        else:
            label = "worker"
        seen[pid] = (label, own + (waited if label != "run (supervisor)" else 0.0))


def one_pass(
    config: Path, ledgers: int, pythonpath: str | None = None
) -> tuple[float, float, dict[str, float]]:
    """(wall s, CPU s of all processes, CPU s per role sampled) of one ``run --exit-when-done``."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seen: dict[int, tuple[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [str(REPO / ".venv" / "bin" / "stellar-arrow"), "run", "--config", str(config)]
        cmd += ["--out", str(Path(tmp) / "out"), "--exit-when-done"]
        env = {**os.environ, "GRPC_VERBOSITY": "ERROR"}
        if pythonpath is not None:  # another checkout's stellar_arrow (the --baseline)
            env["PYTHONPATH"] = pythonpath
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, cwd=tmp)
        done = threading.Event()

        def sampler() -> None:
            while not done.wait(0.02):
                _sample(proc.pid, seen)

        thread = threading.Thread(target=sampler, daemon=True)
        thread.start()
        output, _ = proc.communicate(timeout=300)
        wall = time.perf_counter() - started
        done.set()
        thread.join()
        if proc.returncode != 0 or _ledger_count(output.decode()) != ledgers:
            sys.stdout.write(output.decode())
            msg = f"run exited {proc.returncode} or did not commit {ledgers} ledgers"
            raise SystemExit(msg)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    roles: dict[str, float] = {}
    for label, seconds in seen.values():
        if label != "worker":  # a worker's CPU is in its service's cutime once it has exited
            roles[label] = roles.get(label, 0.0) + seconds
    return wall, cpu, roles


def _ledger_count(output: str) -> int:
    for line in output.splitlines():
        if line.startswith("ledgers ") and " committed in " in line:
            first, last = line.split()[1].split("..")
            return int(last) - int(first) + 1
    return 0


Pass = tuple[float, float, dict[str, float]]


def _report(label: str, runs: list[Pass], single_runs: list[Pass]) -> None:
    print(f"{label}: {len(runs)} passes of {LEDGERS} ledgers")
    for i, (wall, cpu, roles) in enumerate(runs, 1):
        parts = ", ".join(f"{role} {seconds:.2f}" for role, seconds in sorted(roles.items()))
        print(
            f"  pass {i}: wall {wall:.1f} s, CPU {cpu:.2f} s ({cpu / LEDGERS * 1000:.0f} ms/ledger); {parts}"
        )
    cpus = [cpu for _, cpu, _ in runs]
    median = statistics.median(cpus)
    singles = [cpu for _, cpu, _ in single_runs]
    fixed = statistics.median(singles)
    for i, (_, cpu, roles) in enumerate(single_runs, 1):
        parts = ", ".join(f"{role} {seconds:.2f}" for role, seconds in sorted(roles.items()))
        print(f"  1-ledger pass {i}: CPU {cpu:.2f} s; {parts}")
    print(
        f"  CPU per ledger, start-up included: best {min(cpus) / LEDGERS * 1000:.0f} ms, "
        f"median {median / LEDGERS * 1000:.0f} ms"
    )
    print(
        f"  1-ledger run: median {fixed:.2f} s CPU; marginal CPU per ledger "
        f"(median {LEDGERS}-ledger run - median 1-ledger run) / {LEDGERS - 1}: "
        f"{(median - fixed) / (LEDGERS - 1) * 1000:.0f} ms"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument(
        "--verify-events", action="store_true", help="also time runs with processor.verify_events: true"
    )
    parser.add_argument("--workers", type=int, default=None, help="set processor.workers")
    parser.add_argument(
        "--baseline",
        metavar="SRC",
        help="also time another checkout's code (its src/ directory, e.g. from git archive), alternating",
    )
    parser.add_argument(
        "--processes",
        choices=("one", "separate", "both"),
        default=None,
        help="pipeline.processes of the runs (default: the setting's default); both: alternate the two",
    )
    parser.add_argument(
        "--python-decoder",
        action="store_true",
        help="also time this checkout with source.decoder: python (the pure-Python path), alternating",
    )
    parser.add_argument(
        "--no-byte-compile",
        action="store_true",
        help="do not byte-compile the checkouts' src first (passes may then compile modules from source)",
    )
    args = parser.parse_args(argv)
    if not args.no_byte_compile:
        for src in (REPO / "src", *([Path(args.baseline)] if args.baseline else [])):
            compileall.compile_dir(src, quiet=1, workers=1)
    with tempfile.TemporaryDirectory() as tmp:
        variants: dict[str, tuple[Path, Path, str | None]] = {}
        modes = ("one", "separate") if args.processes == "both" else (args.processes,)
        for (label, verify, path, decoder), processes in (
            (variant, mode)
            for variant in (
                ("this checkout, default settings (compiled decoder)", False, None, "compiled"),
                ("this checkout, source.decoder: python", False, None, "python"),
                ("this checkout, processor.verify_events: true", True, None, "compiled"),
                (f"baseline {args.baseline}, default settings", False, args.baseline, "compiled"),
            )
            for mode in modes
        ):
            if (verify and not args.verify_events) or (label.startswith("baseline") and path is None):
                continue
            if decoder == "python" and not args.python_decoder:
                continue
            if processes is not None and not label.startswith("baseline"):
                label = f"{label}, pipeline.processes: {processes}"
            name = str(len(variants))
            common = {
                "verify_events": verify,
                "workers": args.workers,
                "decoder": decoder,
                "processes": None if label.startswith("baseline") else processes,
            }
            full = _config(Path(tmp) / f"{name}.yaml", ledgers=LEDGERS, **common)  # type: ignore[arg-type]
            one = _config(Path(tmp) / f"{name}-1.yaml", ledgers=1, **common)  # type: ignore[arg-type]
            variants[label] = (full, one, path)
        runs: dict[str, list[Pass]] = {label: [] for label in variants}
        singles: dict[str, list[Pass]] = {label: [] for label in variants}
        for _ in range(args.repeat):  # variants take turns, so all see the same machine
            for label, (full, one, path) in variants.items():
                runs[label].append(one_pass(full, LEDGERS, path))
                singles[label].append(one_pass(one, 1, path))
    print(f"stellar-arrow run --exit-when-done over {LAKE.name} (user+sys of every process)")
    for label in variants:
        _report(label, runs[label], singles[label])


if __name__ == "__main__":
    main()
