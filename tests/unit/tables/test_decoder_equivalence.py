"""Tables built with the compiled and the pure-Python decoders equal, field by field, those built from
stellar-sdk's decoding."""

from __future__ import annotations

import pytest

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.ledger import resolve_network
from stellar_arrow.source.files import read_ledger_file
from tests.conftest import CORPUS

pytestmark = pytest.mark.xdist_group(name="sdk-oracle")

# Small and mid-sized ledgers covering LCM V0/V1/V2, TransactionMeta V2/V3/V4, V0 and fee-bump
# envelopes, classic and parallel Soroban phases (stellar-sdk needs ~2 s for a 1 MB ledger).
CASES = [
    ("pubnet-v0-samples-p2-p19.b64.txt", "pubnet"),
    ("pubnet-0053312000.lcmbatch.xdr.zst", "pubnet"),
    ("pubnet-0060659332.lcmbatch.xdr", "pubnet"),
    ("testnet-0000000997.lcmbatch.xdr.zst", "testnet"),
    ("testnet-0000004873.xdr", "testnet"),
    ("testnet-0000848581.xdr", "testnet"),
    ("testnet-0001283415.xdr", "testnet"),
]
TABLES = ("ledgers", "transactions", "operations")


def _build(lcms: list[bytes], network: str, decoder: str) -> dict[str, list[dict[str, object]]]:
    options = TableSetOptions(TABLES, resolve_network(network), include_xdr=True, decoder=decoder)
    tables = TableSet(options)
    for raw in lcms:
        tables.add(raw)
    return {name: batch.to_pylist() for name, batch in tables.finish().items()}


@pytest.mark.parametrize(("name", "network"), CASES, ids=[c[0] for c in CASES])
def test_compiled_python_and_sdk_tables_are_identical(name: str, network: str) -> None:
    lcms = read_ledger_file(CORPUS / name)
    fast = _build(lcms, network, "python")
    sdk = _build(lcms, network, "sdk")
    assert _build(lcms, network, "compiled") == fast
    for table in TABLES:
        assert len(fast[table]) == len(sdk[table]), table
        for row_fast, row_sdk in zip(fast[table], sdk[table], strict=True):
            assert row_fast == row_sdk, (table, row_fast.get("id"))
    assert len(fast["ledgers"]) == len(lcms)
    assert sum(r["operation_count"] for r in fast["transactions"]) == len(fast["operations"])  # type: ignore[misc]
