"""Every table, bit for bit, is the same whichever decoder built it, on every corpus ledger whose
network is known (the synthetic apply-load ledgers have an unknown passphrase: their decoded values
are compared in ``tests/unit/xdr/test_differential.py``); and the token transfers ``TableSet`` builds
from the transactions it already paired equal those derived from the ledger alone."""

from __future__ import annotations

import pyarrow as pa
import pytest

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.ledger import resolve_network
from stellar_arrow.ttp.processor import token_transfers_batch
from stellar_arrow.vocabulary import TABLES
from stellar_arrow.xdr import decode_ledger_close_meta, gc_paused

PREFIXES = ("pubnet", "testnet", "synthetic-standalone")  # corpus file names start with their network
NETWORKS = tuple(resolve_network(name) for name in ("pubnet", "testnet", "standalone"))


def _equal(left: pa.RecordBatch, right: pa.RecordBatch) -> bool:
    return left.schema.equals(right.schema, check_metadata=True) and left.equals(right)


def test_compiled_and_python_tables_are_identical(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    checked = 0
    for name, lcm in corpus_ledgers:
        if name.startswith("synthetic-applyload"):
            continue
        network = NETWORKS[next(i for i, p in enumerate(PREFIXES) if name.startswith(p))]
        built = {}
        for decoder in ("compiled", "python"):
            tables = TableSet(
                TableSetOptions(
                    TABLES, network, include_xdr=True, decoder=decoder, verify_hashes=False
                )  # the synthetic standalone headers do not hash
            )
            tables.add(lcm)
            built[decoder] = tables.finish()
        for table in TABLES:
            assert _equal(built["compiled"][table], built["python"][table]), (name, table)
        with gc_paused():
            alone = token_transfers_batch(decode_ledger_close_meta(lcm), network)
        assert _equal(built["compiled"]["token_transfers"], alone), name
        checked += 1
    assert checked >= 38  # 70 corpus ledgers less the 30 synthetic apply-load ones (and the empty)


@pytest.mark.parametrize("table", TABLES)
def test_every_table_has_rows_in_the_corpus(corpus_ledgers: list[tuple[str, bytes]], table: str) -> None:
    """The equality above is not vacuous: the busy P26 ledger fills every table."""
    lcm = next(b for n, b in corpus_ledgers if "63092982" in n)
    tables = TableSet(TableSetOptions((table,), resolve_network("pubnet")))
    tables.add(lcm)
    assert tables.finish()[table].num_rows > 0
