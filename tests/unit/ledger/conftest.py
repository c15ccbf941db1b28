"""Session fixtures: stellar-sdk oracle facts for a representative subset of the corpus (computed once)."""

from __future__ import annotations

import pytest

from tests.conftest import CORPUS

from .oracle import LedgerFacts, ledger_facts, passphrase_of

# A representative subset: one P26 pubnet ledger of the 20, one of the 30 big apply-load ones, no standalone
# (stellar-sdk takes ~0.3-2.5 s per big ledger): all LCM arms, protocols 2-28, both networks, V0 and
# fee-bump envelopes, classic and parallel Soroban phases.
ORACLE_FILES = (
    "pubnet-0053312000.lcmbatch.xdr.zst",
    "pubnet-0057500008.xdr.gz",
    "pubnet-0060659332.lcmbatch.xdr",
    "pubnet-0063092982.xdr.gz",
    "pubnet-v0-samples-p2-p19.b64.txt",
    "testnet-0000000997.lcmbatch.xdr.zst",
    "testnet-0000000998.lcmbatch.xdr.zst",
    "testnet-0000000999.lcmbatch.xdr.zst",
    "testnet-0000004478.xdr",
    "testnet-0000004873.xdr",
    "testnet-0000848581.xdr",
    "testnet-0000848582.xdr",
    "testnet-0001283415.xdr",
)
APPLY_LOAD = "synthetic-applyload-p28-0000010048-0000010077.framed.xdr.zst"


@pytest.fixture(scope="session")
def oracle() -> list[tuple[str, bytes, LedgerFacts]]:
    """``(name#index, raw LCM, facts)`` for the subset (+ 1 apply-load ledger, header facts only)."""
    from stellar_arrow.source.files import read_ledger_file

    out: list[tuple[str, bytes, LedgerFacts]] = []
    for name in ORACLE_FILES:
        for index, raw in enumerate(read_ledger_file(CORPUS / name)):
            out.append((f"{name}#{index}", raw, ledger_facts(raw, passphrase_of(name))))
    for index, raw in enumerate(read_ledger_file(CORPUS / APPLY_LOAD)[:1]):
        out.append((f"{APPLY_LOAD}#{index}", raw, ledger_facts(raw, None)))
    return out
