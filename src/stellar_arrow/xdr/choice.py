"""Which decoder turns ledger bytes into model values: ``compiled``, ``python`` or ``sdk``.

* ``compiled``: the Cython decoder generated from the schema (``_compiled.pyx``, built by
  ``scripts/setup``); the default when it is built. When it is not (no C compiler at set-up time,
  a source checkout never set up), the ``python`` decoder is used instead and one warning says so.
* ``python``: the pure-Python generated decoder (``_decoders.py``), the reference and fallback.
* ``sdk``: stellar-sdk's objects converted to the same model (slow; the oracle of the tests).

All three build the same ``stellar_arrow.xdr.model`` values and raise the same
:class:`~stellar_arrow.errors.XdrDecodeError`. ``fast`` (the former name of ``python``) is still
accepted.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Callable
from types import ModuleType
from typing import Any, Final, Literal, Protocol, cast, get_args

from stellar_arrow.errors import ConfigError
from stellar_arrow.xdr.decoding import _as_bytes, decode_ledger_close_meta, run_decoder
from stellar_arrow.xdr.model import LedgerCloseMeta

__all__ = [
    "DECODERS",
    "DecoderName",
    "LedgerDecoder",
    "compiled_available",
    "compiled_decode",
    "compiled_module",
    "decode_ledger_close_meta_compiled",
    "default_decoder",
    "ledger_decoder",
    "resolve_decoder",
]

DecoderName = Literal["compiled", "python", "sdk"]
DECODERS: Final[tuple[DecoderName, ...]] = get_args(DecoderName)
_ALIASES: Final = {"fast": "python"}

log = logging.getLogger(__name__)
_state: dict[str, Any] = {}


class LedgerDecoder(Protocol):
    def __call__(
        self, data: bytes | bytearray | memoryview, *, ledger_sequence: int | None = None
    ) -> LedgerCloseMeta: ...


def compiled_module() -> ModuleType | None:
    """The compiled extension, or None when it is not built (looked up once)."""
    if "module" not in _state:
        try:
            _state["module"] = importlib.import_module("stellar_arrow.xdr._compiled")
        except ImportError as exc:
            _state["module"] = None
            _state["why"] = str(exc)
    return cast("ModuleType | None", _state["module"])


def compiled_available() -> bool:
    return compiled_module() is not None


def default_decoder() -> DecoderName:
    """``compiled`` when the extension is built, else ``python``."""
    return "compiled" if compiled_available() else "python"


def resolve_decoder(name: str | None = None) -> DecoderName:
    """The decoder to use for ``name`` (None: the default); ``compiled`` falls back to ``python``
    with one warning per process when the extension is not built."""
    if name is None:
        name = "compiled"
    name = _ALIASES.get(name, name)
    if name not in DECODERS:
        msg = f"unknown decoder {name!r}; choose one of {', '.join(DECODERS)}"
        raise ConfigError(msg, key="decoder")
    if name == "compiled" and not compiled_available():
        if not _state.get("warned"):
            _state["warned"] = True
            log.warning(
                "the compiled XDR decoder is not built (%s); using the pure-Python decoder, several "
                "times slower: run scripts/setup (needs a C compiler and the Python headers) to build it",
                _state.get("why", "import failed"),
            )
        return "python"
    return name


def decode_ledger_close_meta_compiled(
    data: bytes | bytearray | memoryview, *, ledger_sequence: int | None = None
) -> LedgerCloseMeta:
    """Decode one ``LedgerCloseMeta`` with the compiled decoder (which must be built)."""
    module = compiled_module()
    if module is None:
        msg = "the compiled XDR decoder is not built: run scripts/setup"
        raise ConfigError(msg, key="decoder")
    value: LedgerCloseMeta = run_decoder(
        module.d_LedgerCloseMeta, _as_bytes(data), "LedgerCloseMeta", ledger_sequence
    )
    return value


def compiled_decode(
    type_name: str, data: bytes | bytearray | memoryview, *, ledger_sequence: int | None = None
) -> Any:
    """Decode one value of XDR type ``type_name`` filling ``data`` with the compiled decoder."""
    module = compiled_module()
    if module is None:
        msg = "the compiled XDR decoder is not built: run scripts/setup"
        raise ConfigError(msg, key="decoder")
    if type_name not in module.INDEX:
        msg = f"unknown XDR type {type_name!r}"
        raise ValueError(msg)

    def one(buf: bytes, offset: int) -> tuple[Any, int]:
        result: tuple[Any, int] = module.decode(type_name, buf, offset)
        return result

    return run_decoder(one, _as_bytes(data), type_name, ledger_sequence)


def _sdk(data: bytes | bytearray | memoryview, *, ledger_sequence: int | None = None) -> LedgerCloseMeta:
    from stellar_arrow.xdr.sdk import sdk_decode

    value: LedgerCloseMeta = sdk_decode("LedgerCloseMeta", bytes(data))
    return value


def ledger_decoder(name: str | None = None) -> LedgerDecoder:
    """The ``LedgerCloseMeta`` decoder called ``name`` (see :func:`resolve_decoder`)."""
    chosen = resolve_decoder(name)
    table: dict[str, Callable[..., LedgerCloseMeta]] = {
        "compiled": decode_ledger_close_meta_compiled,
        "python": decode_ledger_close_meta,
        "sdk": _sdk,
    }
    return cast(LedgerDecoder, table[chosen])
