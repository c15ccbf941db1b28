"""Mutations and the coverage-free replay shared by the fuzz harnesses (``fuzz_compiled.py``,
``fuzz_rows.py``). Inputs are one prefix byte (an XDR type or a network) followed by XDR.

Under the preloaded ASan runtime atheris loses its coverage hooks, so the ASan runs replay instead:
every input of the given folders, then random inputs made by :func:`aligned_changes` of one of them.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable
from pathlib import Path

WORDS = tuple(v.to_bytes(4, "big") for v in (0, 1, 2, 0x7FFF_FFFF, 0x8000_0000, 0xFFFF_FFFF))
HYPERS = tuple(
    v.to_bytes(8, "big", signed=True)
    for v in (0, 1, -1, 2**31, 2**32, 2**53 + 1, 2**62, 2**63 - 1, -(2**63), -(2**31))
)


def aligned_changes(data: bytes, rng: random.Random) -> bytes:
    """One to three changes that keep the length and the 4-byte alignment of the XDR after the prefix
    byte (a bit flipped, a word or a hyper replaced by an edge value): most results still decode and
    reach the code after the decoder instead of failing in it."""
    out = bytearray(data)
    for _ in range(rng.randint(1, 3)):
        choice = rng.random()
        if choice < 0.4:
            out[rng.randrange(1, len(out))] ^= 1 << rng.randrange(8)
        else:
            value = rng.choice(WORDS if choice < 0.7 else HYPERS)
            at = 1 + 4 * rng.randrange((len(out) - 1 - len(value)) // 4 + 1)
            out[at : at + len(value)] = value
    return bytes(out)


def replay(one_input: Callable[[bytes], None], name: str, rounds: int, seed: int, folders: list[str]) -> None:
    """Without coverage: every input of ``folders``, then ``rounds`` changed copies; a failing input is
    written to ``<name>-finding-N`` in the current folder before the error propagates."""
    inputs = [path.read_bytes() for folder in folders for path in sorted(Path(folder).iterdir())]
    if not inputs:
        sys.exit(f"{name}: no inputs in {', '.join(folders)}")
    rng = random.Random(seed)
    started = time.monotonic()
    for n, data in enumerate(inputs + [b""] * rounds):
        if n and n % 1000 == 0:
            print(f"{name}: {n} inputs in {time.monotonic() - started:.0f} s", file=sys.stderr, flush=True)
        if n >= len(inputs):
            data = rng.choice(inputs)
            if len(data) >= 9:
                data = aligned_changes(data, rng)
        try:
            one_input(data)
        except BaseException:
            Path(f"{name}-finding-{n}").write_bytes(data)
            print(f"{name}: input {n} written to {name}-finding-{n}", file=sys.stderr)
            raise
    elapsed = time.monotonic() - started
    done = f"replayed {len(inputs)} inputs and {rounds} changed ones in {elapsed:.0f} s"
    print(f"{name}: {done}", file=sys.stderr)


def replay_main(one_input: Callable[[bytes], None], name: str, argv: list[str]) -> None:
    """``--replay ROUNDS DIR... [--seed N]`` (``argv`` after ``--replay``)."""
    import argparse

    parser = argparse.ArgumentParser(prog=f"{name}.py --replay")
    parser.add_argument("rounds", type=int)
    parser.add_argument("folders", nargs="+")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args(argv)
    replay(one_input, name, args.rounds, args.seed, args.folders)
