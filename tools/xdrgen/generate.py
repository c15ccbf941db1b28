"""Write the generated modules of ``stellar_arrow.xdr`` from the schema.

``python -m tools.xdrgen`` (from the repository root) rewrites, next to ``stellar_arrow/xdr``:

* ``model.py`` and ``model.pyi`` (:mod:`.model_source`);
* ``_decoders.py``, the pure-Python decoder and skip-walker (:mod:`.decoders`);
* ``_compiled.pyx``, the same decoder as Cython source (:mod:`.cython_source`), compiled by
  ``tools/build_ext.py`` (run by ``scripts/setup``).

A test regenerates them and compares them with the committed ones.
"""

from __future__ import annotations

import sys
from pathlib import Path

import stellar_arrow.xdr
from stellar_arrow.xdr.definitions import Schema, load_schema
from tools.xdrgen.cython_source import cython_source
from tools.xdrgen.decoders import decoders_source
from tools.xdrgen.model_source import HEADER, model_sources

__all__ = ["XDR_DIR", "generate", "main"]

XDR_DIR = Path(stellar_arrow.xdr.__file__).parent
"""Where the generated modules live."""


def generate(schema: Schema | None = None) -> dict[str, str]:
    """Return ``{file name: source}`` of the generated modules."""
    schema = schema or load_schema()
    header = HEADER.format(sha=schema.source_sha256)
    model_py, model_pyi = model_sources(schema)
    return {
        "model.py": model_py,
        "model.pyi": model_pyi,
        "_decoders.py": decoders_source(schema, header),
        "_compiled.pyx": cython_source(schema, header),
    }


def main() -> None:
    """Write the generated modules that changed (Python ones compiled first; each replaced atomically)."""
    outputs = generate()
    for name, text in outputs.items():
        if name.endswith(".py"):
            compile(text, name, "exec")
    for name, text in outputs.items():
        if (XDR_DIR / name).exists() and (XDR_DIR / name).read_text() == text:
            continue  # unchanged: keep its timestamp (tools/build_ext.py rebuilds on a newer .pyx)
        tmp = XDR_DIR / f".{name}.tmp"
        tmp.write_text(text)
        tmp.replace(XDR_DIR / name)
        sys.stdout.write(f"wrote {XDR_DIR / name} ({len(text.splitlines())} lines)\n")
