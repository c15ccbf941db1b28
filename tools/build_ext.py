"""Build the compiled XDR decoder (``stellar_arrow/xdr/_compiled.pyx`` -> ``_compiled.<abi>.so``).

Usage: .venv/bin/python tools/build_ext.py [--force] [--asan]

Run by ``scripts/setup``. Cython (pinned in ``pyproject.toml``) translates the generated ``.pyx`` to
C, and the C compiler Python was built with compiles it with Python's own flags into the package
folder, next to the ``.pyx`` (the ``.so`` is not committed). Nothing is rebuilt when the ``.so`` is
newer than the ``.pyx`` and this script (``--force`` rebuilds). ``--asan`` builds with
AddressSanitizer for the long fuzz run (``tests/fuzz/README.md``) and writes the module under
``build/asan/`` instead, leaving the normal build alone.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PYX = ROOT / "src" / "stellar_arrow" / "xdr" / "_compiled.pyx"
BUILD = ROOT / "build"


def target(asan: bool) -> Path:
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    folder = BUILD / "asan" / "stellar_arrow" / "xdr" if asan else PYX.parent
    return folder / f"_compiled{suffix}"


def up_to_date(so: Path) -> bool:
    return so.exists() and so.stat().st_mtime >= max(PYX.stat().st_mtime, Path(__file__).stat().st_mtime)


def build(asan: bool) -> Path:
    from Cython.Compiler.Main import CompilationOptions, compile_single

    so = target(asan)
    so.parent.mkdir(parents=True, exist_ok=True)
    c_file = BUILD / ("_compiled_asan.c" if asan else "_compiled.c")
    c_file.parent.mkdir(parents=True, exist_ok=True)
    result = compile_single(
        str(PYX),
        CompilationOptions(output_file=str(c_file), language_level=3),
        full_module_name="stellar_arrow.xdr._compiled",
    )
    if result.num_errors:
        raise SystemExit(f"cython failed on {PYX}")
    cc = shlex.split(sysconfig.get_config_var("CC") or "cc")
    flags = ["-shared", "-fPIC", "-O2", "-fwrapv", "-fno-strict-aliasing", "-DNDEBUG"]
    if asan:
        flags = ["-shared", "-fPIC", "-O1", "-g", "-fsanitize=address", "-fno-omit-frame-pointer", "-fwrapv"]
    include = sysconfig.get_paths()["include"]
    tmp = so.with_suffix(".tmp")
    cmd = [*cc, *flags, f"-I{include}", str(c_file), "-o", str(tmp)]
    subprocess.run(cmd, check=True)
    tmp.replace(so)
    return so


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--force", action="store_true", help="rebuild even when up to date")
    parser.add_argument("--asan", action="store_true", help="AddressSanitizer build under build/asan/")
    args = parser.parse_args()
    so = target(args.asan)
    if not args.force and up_to_date(so):
        print(f"{so.relative_to(ROOT)} is up to date")
        return
    print(f"building {so.relative_to(ROOT)} (Cython + C compiler, about a minute)", flush=True)
    build(args.asan)
    print(f"built {so.relative_to(ROOT)}")


if __name__ == "__main__":
    sys.exit(main())
