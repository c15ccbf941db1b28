"""Lazy parts of the compiled decoder: validated at decode time exactly as a full decode validates
them, built on first read into exactly the full decoder's values, and not built by the tables."""

from __future__ import annotations

import copy
import pickle
import random
from collections.abc import Iterator
from typing import Any

import pytest

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.errors import XdrDecodeError
from stellar_arrow.ledger.network import PUBNET
from stellar_arrow.xdr import decode_ledger_close_meta, gc_paused
from stellar_arrow.xdr.choice import compiled_module, decode_ledger_close_meta_compiled
from tests.unit.xdr.deep import assert_same

module = compiled_module()
pytestmark = pytest.mark.skipif(module is None, reason="the compiled decoder is not built")


def lazy_parts(value: Any) -> Iterator[tuple[Any, int, Any]]:
    """``(holder, index, Lazy)`` of every part of a decoded tree not built yet (reading nothing)."""
    todo = [value]
    while todo:
        v = todo.pop()
        if isinstance(v, tuple):
            for i, item in enumerate(tuple.__iter__(v)):
                if type(item) is module.Lazy:
                    yield v, i, item
                else:
                    todo.append(item)
        elif type(v) is list:
            todo.extend(v)


def outcome(data: bytes, lazy: bool) -> tuple[str, str | None, int | None] | Any:
    """The value (a model tuple) or the failure as a plain tuple ``(class name, text, end)``."""
    try:
        with gc_paused():
            value, end = module.d_LedgerCloseMeta(data, 0, lazy)
    except Exception as exc:  # compared as (class, text) below
        return (type(exc).__name__, str(exc), None)
    return value if end == len(data) else ("trailing", None, end)


def typed_error(data: bytes) -> XdrDecodeError | None:
    try:
        decode_ledger_close_meta_compiled(data, ledger_sequence=3)
    except XdrDecodeError as exc:
        return exc
    return None


@pytest.fixture(scope="module")
def big_ledger(corpus_ledgers: list[tuple[str, bytes]]) -> bytes:
    return next(b for n, b in corpus_ledgers if "63092982" in n)


def test_lazy_parts_are_built_into_the_full_decoders_values(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    """Every meta version of the corpus (one ledger of each file: the whole corpus is compared by
    test_compiled and test_differential, whose equality builds the lazy parts too)."""
    firsts = {name.split("#")[0]: lcm for name, lcm in reversed(corpus_ledgers)}
    for lcm in firsts.values():
        expected = decode_ledger_close_meta(lcm)
        built = module.build_all(decode_ledger_close_meta_compiled(lcm))
        if len(lcm) > 1_000_000:
            assert_same(built, expected)  # classes too, on one big protocol-26 ledger
        assert built == expected
        assert module.d_LedgerCloseMeta(lcm, 0, False)[0] == expected
        assert decode_ledger_close_meta_compiled(lcm) == expected  # equality builds what it compares


def test_build_all_builds_every_part_from_any_node_of_a_tree(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    """``build_all`` follows each class's plan (only the fields that can hold a lazy part), from the
    root, from a node inside, and through lists and plain tuples holding decoded values."""
    names = ("pubnet-0063092982", "pubnet-0057500008", "pubnet-0051000294")  # LedgerCloseMeta v2, v1, v1
    ledgers = [lcm for name, lcm in corpus_ledgers if name.startswith(names)]
    assert len(ledgers) == 3
    for lcm in ledgers:
        value = decode_ledger_close_meta_compiled(lcm)
        before = sum(1 for _ in lazy_parts(value))
        assert before > 0
        inner = value.value.tx_processing[0]  # a TransactionResultMeta(V1): fee_processing is lazy
        assert module.build_all(inner) is inner
        assert not list(lazy_parts(inner))
        assert 0 < sum(1 for _ in lazy_parts(value)) < before
        assert module.build_all([(value,)])[0][0] is value
        assert not list(lazy_parts(value))
        assert_same(value, decode_ledger_close_meta(lcm))
        assert module.build_all(value.value.ledger_header) is value.value.ledger_header  # nothing lazy


def test_a_part_is_built_once_on_first_read_and_behaves_as_a_list(big_ledger: bytes) -> None:
    expected = decode_ledger_close_meta(big_ledger)
    lcm = decode_ledger_close_meta_compiled(big_ledger)
    module.reset_lazy_counts()
    tx = lcm.v2.tx_processing[0]
    assert type(tuple.__getitem__(tx, 2)) is module.Lazy  # fee_processing, not built yet
    changes = tx.fee_processing
    assert type(changes) is list and changes is tx.fee_processing
    assert changes == expected.v2.tx_processing[0].fee_processing
    assert module.lazy_counts()["TransactionResultMetaV1.fee_processing"] == (0, 1)
    meta = lcm.v2.tx_processing[5].tx_apply_processing.value
    assert repr(meta) == repr(expected.v2.tx_processing[5].tx_apply_processing.value)
    assert meta.to_dict().keys() == set(meta.FIELDS)
    with pytest.raises(TypeError):
        hash(lcm.v2.tx_processing[1])
    with pytest.raises(AttributeError):
        tx.fee_processing = []  # type: ignore[misc]
    fresh = decode_ledger_close_meta_compiled(big_ledger)
    assert pickle.loads(pickle.dumps(fresh)) == expected
    one = decode_ledger_close_meta_compiled(big_ledger).v2.tx_processing[7]
    assert copy.deepcopy(one) == expected.v2.tx_processing[7]
    holder = decode_ledger_close_meta_compiled(big_ledger).v2.tx_processing[3]
    assert list(holder) == list(expected.v2.tx_processing[3])
    assert holder[1] == expected.v2.tx_processing[3][1]


def test_damage_inside_lazy_parts_fails_at_decode_time_as_a_full_decode(big_ledger: bytes) -> None:
    """Truncations and byte flips inside lazy parts: the lazy decode raises what the full compiled
    decode raises (same class and text, so the same XdrDecodeError), and agrees with Python."""
    spans = [z.span for _, _, z in lazy_parts(decode_ledger_close_meta_compiled(big_ledger))]
    assert len(spans) > 1000
    rng = random.Random(14)
    checked_with_python = 0
    for start, end in rng.sample(spans, 12):
        for cut in {start + 4, rng.randrange(start, end)}:
            truncated = big_ledger[:cut]
            assert outcome(truncated, True) == outcome(truncated, False)
            error = typed_error(truncated)
            assert error is not None and error.ledger_sequence == 3
        for _ in range(3):
            damaged = bytearray(big_ledger)
            damaged[rng.randrange(start, end)] ^= rng.randint(1, 255)
            data = bytes(damaged)
            lazy, full = outcome(data, True), outcome(data, False)
            if type(full) is tuple:
                assert lazy == full
                error = typed_error(data)
                assert error is not None and error.ledger_sequence == 3
            else:
                assert module.build_all(lazy) == full
            if checked_with_python < 4:  # the pure-Python decoder is slow: a sample
                checked_with_python += 1
                if type(full) is tuple:
                    with pytest.raises(XdrDecodeError):
                        decode_ledger_close_meta(data)
                else:
                    assert_same(module.build_all(lazy), decode_ledger_close_meta(data))


def test_the_tables_build_few_lazy_parts(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    """The laziness cannot silently regress: the ledgers and transactions tables build no lazy part,
    and with token_transfers only the few the derivation reads (soroban fees, pools, claimable
    balances, contract events)."""
    p26 = [lcm for name, lcm in corpus_ledgers if "6309298" in name][:4]
    cases = ((("ledgers", "transactions"), 0.0), (("ledgers", "transactions", "token_transfers"), 0.1))
    for tables, most in cases:
        module.reset_lazy_counts()
        table_set = TableSet(TableSetOptions(tables, PUBNET, decoder="compiled"))
        for lcm in p26:
            table_set.add(lcm)
        table_set.finish()
        made = sum(m for m, _ in module.lazy_counts().values())
        built = sum(b for _, b in module.lazy_counts().values())
        assert made > 1000
        assert built <= most * made, (tables, module.lazy_counts())
