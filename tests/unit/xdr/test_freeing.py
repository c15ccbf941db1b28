"""Freeing compiled model values: bounded free lists that recycle freed values, and chains of any
depth freed without running out of C stack."""

from __future__ import annotations

import struct
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from stellar_arrow.xdr import model
from stellar_arrow.xdr.choice import compiled_module
from tests.unit.xdr.deep import assert_same

FREE_LIST_LIMIT = 8 << 20


def _module() -> Any:
    module = compiled_module()
    if module is None:
        pytest.skip("the compiled decoder is not built")
    return module


def _ballot(module: Any, counter: int) -> Any:
    """An ``SCPBallot`` built by the compiled decoder."""
    return module.decode("SCPBallot", struct.pack(">II", counter, 1) + b"v\0\0\0")[0]


def _full(module: Any, data: bytes) -> Any:
    """The full decode of ``data`` (every part built at once)."""
    value, end = module.d_LedgerCloseMeta(data, 0, False)
    assert end == len(data)
    return value


@pytest.fixture(scope="module")
def big_ledger(corpus_ledgers: list[tuple[str, bytes]]) -> bytes:
    return next(b for n, b in corpus_ledgers if "63092982" in n)


def test_freed_values_are_kept_up_to_the_bound_and_given_back(big_ledger: bytes) -> None:
    module = _module()
    if not module.FREE_LISTS:
        pytest.skip("no free lists on this Python")
    module.clear_free_lists()
    assert module.free_list_sizes() == {} and module.free_list_bytes() == 0
    value = _full(module, big_ledger)
    del value
    sizes = module.free_list_sizes()
    assert set(sizes) >= {2, 3}, sizes  # unions (discriminant, value) and small structs
    assert all(0 < n < 20 and count > 0 for n, count in sizes.items())
    assert 0 < module.free_list_bytes() <= FREE_LIST_LIMIT
    ballots = [_ballot(module, i) for i in range(200_000)]  # 14 MB of values
    del ballots
    assert FREE_LIST_LIMIT - 100 < module.free_list_bytes() <= FREE_LIST_LIMIT  # the lists stop at the bound
    module.clear_free_lists()
    assert module.free_list_sizes() == {} and module.free_list_bytes() == 0


def test_recycled_values_decode_exactly_as_fresh_ones(big_ledger: bytes) -> None:
    """Values built from the free lists (classes, sizes and slots all set anew) equal the ones built
    from fresh memory, and every class gets back the references its values took."""
    module = _module()
    module.clear_free_lists()
    fresh = _full(module, big_ledger)
    scratch = _full(module, big_ledger)
    refs = sys.getrefcount(model.LedgerEntryChange), sys.getrefcount(model.TransactionMetaV4)
    del scratch  # fills the free lists
    assert module.free_list_bytes() > 0 or not module.FREE_LISTS
    recycled = _full(module, big_ledger)
    assert_same(recycled, fresh)
    assert (sys.getrefcount(model.LedgerEntryChange), sys.getrefcount(model.TransactionMetaV4)) == refs
    ballot = model.SCPBallot((7, b"x"))  # built by the Python path from a recycled slot or not
    assert ballot.counter == 7 and ballot.value == b"x" and type(ballot) is model.SCPBallot
    del fresh, recycled
    module.clear_free_lists()


def test_values_of_several_classes_share_a_free_list() -> None:
    module = _module()
    if not module.FREE_LISTS:
        pytest.skip("no free lists on this Python")
    module.clear_free_lists()
    values = [model.SCPBallot((i, b"v")) for i in range(100)]  # built by the Python path
    del values
    assert module.free_list_sizes() == {2: 100}
    bounds = [module.decode("TimeBounds", struct.pack(">QQ", 10**6 + i, 10**7 + i))[0] for i in range(60)]
    assert module.free_list_sizes() == {2: 40}  # the compiled decoder reuses the ballots' memory
    assert [(b.min_time, b.max_time) for b in bounds[:2]] == [(10**6, 10**7), (10**6 + 1, 10**7 + 1)]
    assert {type(b) for b in bounds} == {model.TimeBounds}
    module.clear_free_lists()


DEEP_CHAIN = """
import sys
from stellar_arrow.xdr import model
from stellar_arrow.xdr.choice import compiled_module
module = compiled_module()
assert module is not None
value = None
for i in range({depth}):
    value = model.{cls}((i, value))
del value
print("freed", module.free_list_bytes() <= 8 << 20)
"""


@pytest.mark.parametrize("cls", ["SCPBallot", "Price"])
def test_a_chain_of_a_million_nested_values_frees_without_crashing(cls: str) -> None:
    """Each value frees the next one inside its own free: without a bound on that nesting a long
    chain overflows the C stack (SIGSEGV); past 50 nested frees the rest is freed afterwards."""
    _module()
    script = textwrap.dedent(DEEP_CHAIN.format(depth=1_000_000, cls=cls))
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, (result.returncode, result.stderr[-2000:])
    assert result.stdout.split() == ["freed", "True"]


def test_a_deep_chain_frees_every_value_and_its_class_references() -> None:
    module = _module()
    refs = sys.getrefcount(model.SCPBallot)
    value: Any = None
    for i in range(20_000):
        value = model.SCPBallot((i, [value]))  # through lists as well
    value = model.SCPBallot((0, value))
    during = sys.getrefcount(model.SCPBallot)
    del value
    after = sys.getrefcount(model.SCPBallot)
    assert during > refs + 20_000
    assert after == refs
    module.clear_free_lists()


def test_the_stress_script_runs_clean() -> None:
    """A short run of ``tests/fuzz/stress_compiled.py`` (its long run is under ASan: tests/fuzz/README.md)."""
    _module()
    script = Path(__file__).resolve().parents[2] / "fuzz" / "stress_compiled.py"
    cmd = [sys.executable, str(script), "--rounds", "60", "--seed", "3"]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "60 rounds: no finding" in result.stdout
