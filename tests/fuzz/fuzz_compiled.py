"""Coverage-guided differential fuzzing of the compiled XDR decoder with atheris (libFuzzer).

Each input is one byte choosing an XDR type (``TYPES``) followed by the bytes to decode. The
compiled decoder and the pure-Python one must agree: equal values (classes included), or both
``XdrDecodeError``; any other exception, a different value or a crash is a finding. The C extension
is built by gcc without clang's coverage instrumentation, so the fuzzer is guided by the branches of
the pure-Python decoder (instrumented here), which follow the same schema arm by arm.

    .venv/bin/python tests/fuzz/fuzz_compiled.py -max_total_time=20 CORPUS_DIR

Under AddressSanitizer (docs/decode.md, "Safety"): build with ``tools/build_ext.py --asan``, point
``FUZZ_EXTENSION`` at the module it writes under ``build/asan/`` and use ``--replay ROUNDS DIR...``
(the preloaded ASan runtime takes atheris's coverage hooks; tests/fuzz/README.md).
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Any

import atheris
from mutations import replay_main  # beside this script

with atheris.instrument_imports(include=["stellar_arrow.xdr._decoders"]):
    from stellar_arrow.xdr import _decoders  # noqa: F401  # instrumented before anything imports it

if os.environ.get("FUZZ_EXTENSION"):  # load this build of the extension (the ASan one) instead
    spec = importlib.util.spec_from_file_location("stellar_arrow.xdr._compiled", os.environ["FUZZ_EXTENSION"])
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["stellar_arrow.xdr._compiled"] = module
    spec.loader.exec_module(module)


from stellar_arrow.errors import XdrDecodeError
from stellar_arrow.xdr import decode
from stellar_arrow.xdr.choice import compiled_decode

TYPES = ("LedgerCloseMeta", "SCVal", "TransactionEnvelope", "TransactionMeta", "LedgerEntryChange")


def same(a: Any, b: Any) -> bool:
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple | list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def one_input(data: bytes) -> None:
    if not data:
        return
    type_name, body = TYPES[data[0] % len(TYPES)], data[1:]
    try:
        expected = decode(type_name, body)
    except XdrDecodeError:
        try:
            compiled_decode(type_name, body)
        except XdrDecodeError:
            return
        raise AssertionError(f"{type_name}: the compiled decoder accepted what Python refuses") from None
    try:
        value = compiled_decode(type_name, body)
    except XdrDecodeError as exc:  # the one known difference: the compiled depth limit is lower
        if "nests too deeply" in str(exc):
            return
        raise
    if not same(value, expected):
        raise AssertionError(f"{type_name}: the compiled decoder built a different value")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--replay":  # under ASan, which takes atheris's coverage
        replay_main(one_input, "fuzz-compiled", sys.argv[2:])
        return
    atheris.Setup(sys.argv, one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
