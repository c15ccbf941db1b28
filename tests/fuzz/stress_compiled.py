"""Stress the compiled decoder's memory handling (free lists, deferred freeing, lazy parts) for a
run under AddressSanitizer (``tests/fuzz/README.md``).

Rounds of random work on the corpus ledgers, each checked against values decoded once at the start:
full and lazy decodes kept and freed in random orders (so freed values are recycled by later
decodes of other classes and sizes), lazy parts built by reads and by ``build_all`` while other
trees are freed, damaged copies that must raise the typed error or decode, chains of nested values
tens of thousands deep, and the free lists emptied at random moments. A use after free, a double
free or a wrong reference count shows up as an ASan report, a crash or a wrong value.

    .venv/bin/python tests/fuzz/stress_compiled.py [--rounds N] [--seed S]
"""

from __future__ import annotations

import argparse
import contextlib
import importlib.util
import os
import random
import sys
from pathlib import Path
from typing import Any

if os.environ.get("FUZZ_EXTENSION"):  # load this build of the extension (the ASan one) instead
    spec = importlib.util.spec_from_file_location("stellar_arrow.xdr._compiled", os.environ["FUZZ_EXTENSION"])
    assert spec is not None and spec.loader is not None
    loaded = importlib.util.module_from_spec(spec)
    sys.modules["stellar_arrow.xdr._compiled"] = loaded
    spec.loader.exec_module(loaded)

from stellar_arrow.errors import XdrDecodeError
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.xdr import model
from stellar_arrow.xdr.choice import compiled_module, decode_ledger_close_meta_compiled

CORPUS = Path(__file__).resolve().parents[2] / "data" / "corpus"


def ledgers() -> list[bytes]:
    """Every corpus ledger up to 400 kB, and the first 1.3 MB protocol-26 one."""
    out: list[bytes] = []
    for path in sorted(p for p in CORPUS.iterdir() if p.suffix != ".md" and not p.name.startswith(".")):
        out += [lcm for lcm in read_ledger_file(path) if len(lcm) < 400_000 or "63092982" in path.name]
    return out


def decode(module: Any, data: bytes, lazy: bool) -> Any:
    value, end = module.d_LedgerCloseMeta(data, 0, lazy)
    assert end == len(data)
    return value


def chain(depth: int, rng: random.Random) -> Any:
    """A chain of ``depth`` nested values, through lists now and then."""
    value: Any = None
    for i in range(depth):
        value = model.SCPBallot((i, [value] if rng.random() < 0.1 else value))
    return value


def stress(rounds: int, seed: int) -> None:
    module = compiled_module()
    assert module is not None, "the compiled decoder is not built"
    rng = random.Random(seed)
    data = ledgers()
    expected = [decode(module, lcm, False) for lcm in data]
    kept: list[Any] = []
    for round_ in range(rounds):
        index = rng.randrange(len(data))
        action = rng.randrange(6)
        if action == 0:  # a full decode, kept for a while
            kept.append((index, decode(module, data[index], False)))
        elif action == 1:  # a lazy decode, some parts read now, the rest by build_all later
            value = decode(module, data[index], True)
            for tx in value.value.tx_processing[: rng.randrange(4)]:
                assert isinstance(tx.fee_processing, list)
            kept.append((index, value))
        elif action == 2 and kept:  # free one kept tree (after checking it)
            i, value = kept.pop(rng.randrange(len(kept)))
            assert module.build_all(value) == expected[i]
            del value
        elif action == 3:  # a damaged copy: the typed error, or a value that builds completely
            damaged = bytearray(data[index])
            for _ in range(rng.randrange(1, 4)):
                damaged[rng.randrange(len(damaged))] ^= rng.randint(1, 255)
            cut = len(damaged) if rng.random() < 0.7 else rng.randrange(len(damaged))
            with contextlib.suppress(XdrDecodeError):
                module.build_all(decode_ledger_close_meta_compiled(bytes(damaged[:cut])))
        elif action == 4:  # a deep chain freed at once
            deep = chain(rng.randrange(1_000, 60_000), rng)
            del deep
        elif rng.random() < 0.3:
            module.clear_free_lists()
        if len(kept) > 6:
            i, value = kept.pop(0)
            assert module.build_all(value) == expected[i]
            del value
        if round_ % 50 == 0:
            sizes = module.intern_table_sizes()
            print(
                f"round {round_}: {len(kept)} kept, free lists {module.free_list_bytes()} bytes, "
                f"interned {sum(sizes.values())}",
                flush=True,
            )
    kept.clear()
    module.clear_free_lists()
    assert module.free_list_bytes() == 0
    print(f"{rounds} rounds: no finding ({module.__file__})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=300)
    parser.add_argument("--seed", type=int, default=14)
    args = parser.parse_args()
    stress(args.rounds, args.seed)


if __name__ == "__main__":
    main()
