"""Build the project's compiled extensions (Cython ``.pyx`` -> C -> ``<module>.<abi>.so``).

Usage: .venv/bin/python tools/build_ext.py [--force] [--asan] [--only MODULE]

Run by ``scripts/setup``. Cython (pinned in ``pyproject.toml``) translates each ``.pyx`` of
``EXTENSIONS`` to C, and the C compiler Python was built with compiles it with Python's own flags
into the package folder, next to the ``.pyx`` (the ``.so`` files are not committed). A module is not
rebuilt when its ``.so`` is newer than its ``.pyx``, the ``.pxd``/``.pxi`` files beside it and this
script (``--force`` rebuilds). ``--asan`` builds with AddressSanitizer for the long fuzz run
(``tests/fuzz/README.md``) and writes the modules under ``build/asan/`` instead, leaving the normal
build alone. Every extension has a pure-Python counterpart that the project falls back to when the
``.so`` is absent.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import sysconfig
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src"
BUILD = ROOT / "build"

# module name -> its .pyx (one line per extension)
EXTENSIONS: dict[str, Path] = {
    "stellar_arrow.xdr._strkey": SRC / "stellar_arrow" / "xdr" / "_strkey.pyx",
    "stellar_arrow.xdr._compiled": SRC / "stellar_arrow" / "xdr" / "_compiled.pyx",
    "stellar_arrow.ttp._fast": SRC / "stellar_arrow" / "ttp" / "_fast.pyx",
    "stellar_arrow.tables._compiled": SRC / "stellar_arrow" / "tables" / "_compiled.pyx",
    "stellar_arrow.tables._details": SRC / "stellar_arrow" / "tables" / "_details.pyx",
}

# declarations every extension may ``cimport`` (a change rebuilds them all)
SHARED_DECLARATIONS: list[Path] = [SRC / "stellar_arrow" / "xdr" / "_strkey.pxd"]


def target(module: str, asan: bool) -> Path:
    suffix = sysconfig.get_config_var("EXT_SUFFIX") or ".so"
    *package, name = module.split(".")
    folder = BUILD / "asan" / Path(*package) if asan else SRC / Path(*package)
    return folder / f"{name}{suffix}"


def _inputs(pyx: Path) -> list[Path]:
    beside = [p for p in pyx.parent.iterdir() if p.suffix in (".pxd", ".pxi")]
    return [pyx, Path(__file__), *beside, *SHARED_DECLARATIONS]


def up_to_date(module: str, so: Path) -> bool:
    pyx = EXTENSIONS[module]
    return so.exists() and so.stat().st_mtime >= max(p.stat().st_mtime for p in _inputs(pyx))


def build(module: str, asan: bool) -> Path:
    from Cython.Compiler.Main import CompilationOptions, compile_single

    pyx = EXTENSIONS[module]
    so = target(module, asan)
    so.parent.mkdir(parents=True, exist_ok=True)
    stem = module.replace(".", "_")
    c_file = BUILD / (f"{stem}_asan.c" if asan else f"{stem}.c")
    c_file.parent.mkdir(parents=True, exist_ok=True)
    result = compile_single(
        str(pyx),
        CompilationOptions(output_file=str(c_file), language_level=3, include_path=[str(SRC)]),
        full_module_name=module,
    )
    if result.num_errors:
        raise SystemExit(f"cython failed on {pyx}")
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
    parser.add_argument("--only", choices=sorted(EXTENSIONS), help="build this module alone")
    args = parser.parse_args()
    failed = []
    for module in [args.only] if args.only else list(EXTENSIONS):
        so = target(module, args.asan)
        if not args.force and up_to_date(module, so):
            print(f"{so.relative_to(ROOT)} is up to date")
            continue
        print(f"building {so.relative_to(ROOT)} (Cython + C compiler)", flush=True)
        try:
            build(module, args.asan)
        except (SystemExit, subprocess.CalledProcessError) as exc:
            print(f"failed to build {module}: {exc}", file=sys.stderr)
            failed.append(module)
            continue
        print(f"built {so.relative_to(ROOT)}")
    if failed:
        raise SystemExit(f"not built: {', '.join(failed)} (the pure-Python code is used instead)")


if __name__ == "__main__":
    sys.exit(main())
