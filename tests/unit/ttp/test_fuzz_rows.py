"""A bounded coverage-guided fuzz run (atheris) of the compiled rows (``ttp/_fast``, ``tables/_compiled``,
``tables/_details``) against the Python derivation and builders (``tests/fuzz/fuzz_rows.py``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from stellar_arrow.ledger import resolve_network
from stellar_arrow.ledger.view import ledger_view, pair_transactions
from stellar_arrow.tables.schema import compiled_tables
from stellar_arrow.ttp import compiled as ttp_compiled
from stellar_arrow.ttp.processor import token_transfers_batch
from stellar_arrow.xdr import gc_paused
from stellar_arrow.xdr.choice import compiled_available, decode_ledger_close_meta_compiled
from tests.conftest import run_bounded_fuzz

HARNESS = Path(__file__).resolve().parents[2] / "fuzz" / "fuzz_rows.py"
# the first byte of an input chooses the network: index in the harness's NETWORKS
NETWORK_BYTE = {"pubnet": 0, "testnet": 1, "synthetic-standalone": 2}

pytestmark = pytest.mark.skipif(
    not (compiled_available() and ttp_compiled.compiled_available() and compiled_tables()),
    reason="extensions not built (scripts/setup)",
)


def _seeds(corpus_ledgers: list[tuple[str, bytes]]) -> list[bytes]:
    """The small ledgers of a known network (fast runs; one with offers), each behind its network byte."""
    out = []
    for name, lcm in corpus_ledgers:
        network = next((b for prefix, b in NETWORK_BYTE.items() if name.startswith(prefix)), None)
        if network is not None and len(lcm) < 50_000:
            out.append(bytes([network]) + lcm)
    return out


def test_the_seeds_reach_the_tables(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    """Each seed pairs under the network its first byte names, and together they give rows to compare."""
    names = ("pubnet", "testnet", "standalone")
    transactions = rows = 0
    operations: set[str] = set()
    for seed in _seeds(corpus_ledgers):
        network = resolve_network(names[seed[0]])
        with gc_paused():
            lcm = decode_ledger_close_meta_compiled(seed[1:])
            transactions += len(pair_transactions(ledger_view(lcm), network))
            batch = token_transfers_batch(lcm, network, compiled=True)
        rows += batch.num_rows
        operations |= set(batch.column("operation_type").drop_null().to_pylist())
    assert transactions >= 30 and rows >= 50
    assert operations >= {"payment", "create_account", "account_merge", "manage_sell_offer"}


def test_atheris_finds_nothing_in_a_bounded_run(
    corpus_ledgers: list[tuple[str, bytes]], tmp_path: Path
) -> None:
    for n, seed in enumerate(_seeds(corpus_ledgers)):
        (tmp_path / f"seed{n}").write_bytes(seed)
    run_bounded_fuzz(HARNESS, tmp_path, seconds=20)
