"""Corpus ledgers for the token-transfer tests: network per file, decoded one ledger at a time."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from stellar_arrow.ledger import Network, resolve_network
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.xdr import decode_ledger_close_meta
from tests.conftest import CORPUS

PASSPHRASES = {
    "pubnet": "Public Global Stellar Network ; September 2015",
    "testnet": "Test SDF Network ; September 2015",
    "synthetic-standalone": "Standalone Network ; February 2017",
    # stellar-core apply-load's passphrase, found by hashing the envelopes (not written down upstream)
    "synthetic-applyload": "Apply Load",
}
# the 30 apply-load ledgers are alike (492 txs, 482 Soroban, same shapes): check every 6th to stay fast
SAMPLE_EVERY = {"synthetic-applyload": 6}


def network_of(name: str) -> Network:
    return resolve_network(next(p for prefix, p in PASSPHRASES.items() if name.startswith(prefix)))


def corpus_names() -> list[str]:
    return sorted(p.name for p in CORPUS.iterdir() if p.suffix != ".md" and not p.name.startswith("."))


def decoded_ledgers(name: str) -> Iterator[Any]:
    """Decoded LedgerCloseMeta values of one corpus file, one at a time (a decoded ledger is ~9x its XDR)."""
    step = next((n for prefix, n in SAMPLE_EVERY.items() if name.startswith(prefix)), 1)
    for raw in read_ledger_file(CORPUS / name)[::step]:
        yield decode_ledger_close_meta(raw)
