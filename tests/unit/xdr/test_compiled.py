"""The compiled decoder: the default when built, a clean fallback when not, and on damaged input
exactly the pure-Python decoder's answer (the same value, or the same typed error)."""

from __future__ import annotations

import random
import struct
import subprocess
import sys
import textwrap

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.errors import XdrDecodeError
from stellar_arrow.ledger.network import PUBNET
from stellar_arrow.xdr import decode_ledger_close_meta, model
from stellar_arrow.xdr.choice import (
    compiled_available,
    compiled_decode,
    compiled_module,
    decode_ledger_close_meta_compiled,
    ledger_decoder,
    resolve_decoder,
)
from tests.unit.xdr.deep import assert_same


def same_outcome(data: bytes, ledger_sequence: int | None = None) -> None:
    """Compiled and pure-Python decoders agree on ``data``: equal values, or both the typed error."""
    try:
        expected = decode_ledger_close_meta(data, ledger_sequence=ledger_sequence)
    except XdrDecodeError as exc:
        with pytest.raises(XdrDecodeError) as caught:
            decode_ledger_close_meta_compiled(data, ledger_sequence=ledger_sequence)
        assert caught.value.ledger_sequence == exc.ledger_sequence
        return
    assert_same(decode_ledger_close_meta_compiled(data, ledger_sequence=ledger_sequence), expected)


@pytest.fixture(scope="module")
def small_ledgers(corpus_ledgers: list[tuple[str, bytes]]) -> list[bytes]:
    return [lcm for _, lcm in corpus_ledgers if len(lcm) < 12_000]


@pytest.fixture(scope="module")
def big_ledger(corpus_ledgers: list[tuple[str, bytes]]) -> bytes:
    return next(b for n, b in corpus_ledgers if "63092982" in n)


def test_the_default_decoder_is_the_compiled_one() -> None:
    assert compiled_available(), "scripts/setup builds the compiled decoder (tools/build_ext.py)"
    assert resolve_decoder() == "compiled"
    assert ledger_decoder() is decode_ledger_close_meta_compiled
    tables = TableSet(TableSetOptions(tables=("ledgers", "transactions"), network=PUBNET))
    assert tables._decoder is decode_ledger_close_meta_compiled
    assert ledger_decoder("python") is decode_ledger_close_meta
    assert ledger_decoder("fast") is decode_ledger_close_meta  # the former name


def test_without_the_extension_python_is_used_with_one_warning(small_ledgers: list[bytes]) -> None:
    script = textwrap.dedent(
        f"""
        import logging, sys
        sys.modules["stellar_arrow.xdr._compiled"] = None  # the import fails, as when never built
        logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(message)s")
        from stellar_arrow.ledger.network import PUBNET
        from stellar_arrow.build import TableSet, TableSetOptions
        from stellar_arrow.xdr.choice import decode_ledger_close_meta, ledger_decoder, resolve_decoder
        assert resolve_decoder() == "python" and resolve_decoder("compiled") == "python"
        assert ledger_decoder() is decode_ledger_close_meta
        tables = TableSet(TableSetOptions(tables=("ledgers",), network=PUBNET))
        tables.add(bytes.fromhex("{small_ledgers[0].hex()}"))
        print(tables.finish()["ledgers"].num_rows)
        """
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "1"
    warnings = [line for line in done.stderr.splitlines() if line.startswith("WARNING")]
    assert len(warnings) == 1 and "compiled XDR decoder is not built" in warnings[0], done.stderr


def test_unknown_decoder_names_are_refused() -> None:
    from stellar_arrow.errors import ConfigError

    with pytest.raises(ConfigError, match="unknown decoder 'turbo'"):
        resolve_decoder("turbo")
    with pytest.raises(ConfigError, match="decoder"):
        TableSetOptions(tables=("ledgers",), network=PUBNET, decoder="turbo")


def test_every_truncation_is_a_typed_error(small_ledgers: list[bytes], big_ledger: bytes) -> None:
    for lcm in small_ledgers[:3]:
        for cut in range(len(lcm)):
            with pytest.raises(XdrDecodeError) as caught:
                decode_ledger_close_meta_compiled(lcm[:cut], ledger_sequence=9)
            assert caught.value.ledger_sequence == 9
    for cut in random.Random(7).sample(range(len(big_ledger)), 300):
        with pytest.raises(XdrDecodeError):
            decode_ledger_close_meta_compiled(big_ledger[:cut])


@settings(max_examples=400, deadline=None, suppress_health_check=list(HealthCheck))
@given(data=st.data())
def test_byte_flips_decode_as_the_python_decoder_does(
    data: st.DataObject, small_ledgers: list[bytes]
) -> None:
    lcm = bytearray(data.draw(st.sampled_from(small_ledgers)))
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(lcm) - 1))
        lcm[pos] ^= data.draw(st.integers(1, 255))
    same_outcome(bytes(lcm), ledger_sequence=5)


def test_byte_flips_of_a_big_ledger(big_ledger: bytes) -> None:
    rng = random.Random(11)
    for _ in range(40):
        damaged = bytearray(big_ledger)
        for _ in range(rng.randint(1, 3)):
            damaged[rng.randrange(len(damaged))] ^= rng.randint(1, 255)
        same_outcome(bytes(damaged))


def test_values_nested_past_the_limit_are_a_typed_error() -> None:
    """A hostile SCVal nested 100,000 deep (SCV_VEC of SCV_VEC...) cannot exhaust the C stack."""
    level = struct.pack(">iII", 16, 1, 1)  # SCV_VEC, optional present, one element
    deep = level * 100_000 + struct.pack(">i", 1)  # ... SCV_VOID
    with pytest.raises(XdrDecodeError, match="nests too deeply"):
        compiled_decode("SCVal", deep)
    shallow = level * 50 + struct.pack(">i", 1)
    assert compiled_decode("SCVal", shallow) == model.SCVal((16, [compiled_decode("SCVal", shallow[12:])]))


def test_hostile_lengths_and_padding_are_refused() -> None:
    symbol = b"\x00\x00\x00\x0f" + b"\x00\x00\x00\x03" + b"abc"
    assert compiled_decode("SCVal", symbol + b"\x00") == model.SCVal((15, b"abc"))
    with pytest.raises(XdrDecodeError, match="SCVal"):
        compiled_decode("SCVal", symbol + b"\x01")
    huge_count = struct.pack(">iII", 16, 1, 0xFFFFFFFF)  # a vector claiming 4 billion values
    with pytest.raises(XdrDecodeError, match="SCVal"):
        compiled_decode("SCVal", huge_count)
    huge_bytes = struct.pack(">iI", 13, 0xFFFFFFFC)  # SCV_BYTES of 4 GB
    with pytest.raises(XdrDecodeError):
        compiled_decode("SCVal", huge_bytes)
    with pytest.raises(XdrDecodeError, match="trailing"):
        compiled_decode("SCVal", struct.pack(">i", 1) + b"\0\0\0\0")
    for garbage in (b"", b"\x00", b"\xff" * 64, b"\x00\x00\x00\x07" + b"\xff" * 64):
        with pytest.raises(XdrDecodeError):
            decode_ledger_close_meta_compiled(garbage)


def test_shared_values_stay_bounded(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    module = compiled_module()
    assert module is not None
    for _name, lcm in corpus_ledgers[:12]:
        decode_ledger_close_meta_compiled(lcm)
    sizes = module.intern_table_sizes()
    assert sizes["PublicKey"] > 0
    assert all(0 <= n <= 2048 for n in sizes.values())


def test_shared_values_with_equal_hashes_stay_apart() -> None:
    """The intern tables hash three words of a key; symbols differing only outside them hash the
    same and must still come back as their own values."""
    module = compiled_module()
    assert module is not None

    def symbol(text: bytes) -> bytes:
        return struct.pack(">iI", model.SCValType.SCV_SYMBOL, len(text)) + text

    texts = [b"a" * 3 + bytes([65 + i]) + b"a" * 28 for i in range(40)]  # key byte 11: in no word
    for _ in range(2):  # decoded once fresh, once from the table
        values = [module.decode("SCVal", symbol(text))[0].value for text in texts]
        assert values == texts


def test_model_values_are_freed_by_the_shortcut_without_leaking(big_ledger: bytes) -> None:
    """Every model class (tuple subclass, no ``__dict__``) frees through the compiled module's
    shortcut; freeing a decoded ledger gives its classes back exactly the references it lent.
    Checked on classes whose values hold lists, so never sit in the shared-value tables (those
    keep references of their own, and other tests change what they hold)."""
    module = compiled_module()
    assert module is not None
    classes = [
        v
        for v in vars(model).values()
        if isinstance(v, type) and issubclass(v, tuple) and v.__module__ == model.__name__
    ]
    assert len(classes) == module.FAST_DEALLOC_CLASSES
    unshared = [
        model.LedgerCloseMeta,
        model.LedgerCloseMetaV2,
        model.TransactionMeta,
        model.TransactionMetaV4,
        model.OperationMetaV2,
        model.LedgerEntryChange,
        model.LedgerEntry,
        model.LedgerEntryData,
        model.AccountEntry,
        model.TransactionEnvelope,
        model.Transaction,
    ]
    before = [sys.getrefcount(cls) for cls in unshared]
    value = module.build_all(decode_ledger_close_meta_compiled(big_ledger))  # lazy parts built in place
    during = [sys.getrefcount(cls) for cls in unshared]
    assert all(d > b for d, b in zip(during, before, strict=True)), (before, during)  # held by instances
    del value
    assert [sys.getrefcount(cls) for cls in unshared] == before

    class Named(model.SCPBallot):  # a subclass made later keeps CPython's own freeing
        __slots__ = ()

    refs = sys.getrefcount(Named)
    values = [Named((i, b"v")) for i in range(1_000)]
    assert values[7].counter == 7 and type((1, 2)) is tuple
    del values
    assert sys.getrefcount(Named) == refs


def test_the_compiled_path_does_not_import_the_pure_python_decoders(
    corpus_ledgers: list[tuple[str, bytes]],
) -> None:
    """Three tables built with the compiled decoder: ``_decoders`` (0.3 s of imports) is not loaded."""
    data = next(lcm for name, lcm in corpus_ledgers if name.startswith("pubnet-0057500008"))
    script = textwrap.dedent(
        """
        import sys
        from stellar_arrow.build import TableSet, TableSetOptions
        from stellar_arrow.ledger.network import PUBNET
        tables = ("ledgers", "transactions", "token_transfers")
        options = TableSetOptions(tables=tables, network=PUBNET, decoder="compiled")
        TableSet(options).add(sys.stdin.buffer.read())
        assert "stellar_arrow.xdr._decoders" not in sys.modules, "the pure-Python decoders were imported"
        """
    )
    result = subprocess.run(
        [sys.executable, "-c", script], input=data, capture_output=True, timeout=120, check=False
    )
    assert result.returncode == 0, result.stderr.decode()[-2000:]
