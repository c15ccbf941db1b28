"""Write ``src/stellar_arrow/tables/_details.pyx``: the compiled operation ``details`` renderers.

Usage: .venv/bin/python tools/gen_details.py [--check]

The text comes from the generator ``tables/details_codegen.py`` (Cython mode); ``--check`` exits non-zero
when the file on disk is not what the generator gives (the tests check the same).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYX = ROOT / "src" / "stellar_arrow" / "tables" / "_details.pyx"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare instead of writing")
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT / "src"))
    from stellar_arrow.tables.details_codegen import details_pyx

    text = details_pyx()
    if args.check:
        if not PYX.exists() or PYX.read_text() != text:
            raise SystemExit(f"{PYX.relative_to(ROOT)} is stale: run tools/gen_details.py")
        return
    PYX.write_text(text)
    print(f"wrote {PYX.relative_to(ROOT)} ({len(text.splitlines())} lines)")


if __name__ == "__main__":
    main()
