"""Every corpus ledger decodes and its facts match values computed independently with stellar-sdk."""

from __future__ import annotations

import pytest

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.errors import LedgerHashMismatchError
from stellar_arrow.ledger import (
    check_ledger_hashes,
    ledger_header_hash,
    ledger_view,
    pair_transactions,
    resolve_network,
    toid,
)
from stellar_arrow.xdr import decode_ledger_close_meta
from stellar_arrow.xdr.profile import TABLES_PROFILE, decoder_for

from .oracle import LedgerFacts, passphrase_of

pytestmark = pytest.mark.xdist_group(name="sdk-oracle")

# stellar/go's load-test generator merges synthetic transactions into real ledgers without
# updating the header, so txSetHash/txSetResultHash of these two no longer match their content.
MERGED_LOAD_TEST = {85, 88}


def test_every_corpus_ledger_decodes_with_consistent_hashes(corpus_ledgers: list[tuple[str, bytes]]) -> None:
    assert len(corpus_ledgers) == 70
    decode = decoder_for(TABLES_PROFILE)  # full decoding of every ledger is tests/unit/xdr's job
    for name, raw in corpus_ledgers:
        view = ledger_view(decode(raw))
        assert ledger_header_hash(view.header) == view.ledger_hash, name
        if name.startswith("synthetic-standalone") and view.ledger_sequence in MERGED_LOAD_TEST:
            with pytest.raises(LedgerHashMismatchError, match=f"ledger {view.ledger_sequence}: header txSet"):
                check_ledger_hashes(view)
        else:
            check_ledger_hashes(view)
        passphrase = passphrase_of(name)
        if passphrase is not None:
            txs = pair_transactions(view, resolve_network(passphrase))
            assert [t.transaction_index for t in txs] == list(range(1, len(view.processing) + 1))


def _tables(raw: bytes, passphrase: str) -> dict[str, list[dict[str, object]]]:
    options = TableSetOptions(
        tables=("ledgers", "transactions"), network=resolve_network(passphrase), verify_hashes=False
    )
    tables = TableSet(options)
    tables.add(raw)
    return {name: batch.to_pylist() for name, batch in tables.finish().items()}


def _check_coverage(oracle: list[tuple[str, bytes, LedgerFacts]]) -> None:
    facts = [f for _, _, f in oracle]
    assert {f.protocol_version for f in facts} >= {2, 9, 11, 17, 19, 20, 21, 22, 23, 24, 25, 26, 28}
    txs = [t for f in facts for t in f.transactions]
    assert any(t.fee_bump for t in txs) and any(not t.successful for t in txs)
    assert len(txs) > 1500


def test_ledger_and_transaction_facts_match_stellar_sdk(oracle: list[tuple[str, bytes, LedgerFacts]]) -> None:
    _check_coverage(oracle)  # the subset holds every protocol, both networks, fee bumps and failures
    checked_txs = 0
    for name, raw, facts in oracle:
        view = ledger_view(decode_ledger_close_meta(raw))
        assert view.ledger_sequence == facts.sequence, name
        assert view.ledger_hash.hex() == facts.ledger_hash == facts.header_sha256, name
        assert view.previous_ledger_hash.hex() == facts.previous_ledger_hash, name
        assert view.close_time == facts.close_time, name
        result_hashes = [p.result.transaction_hash.hex() for p in view.processing]
        if facts.transactions:
            assert result_hashes == [t.tx_hash for t in facts.transactions]
        passphrase = passphrase_of(name.split("#")[0])
        if passphrase is None:
            continue
        tables = _tables(raw, passphrase)
        (ledger,) = tables["ledgers"]
        assert ledger["id"] == toid(facts.sequence) == facts.sequence << 32
        assert ledger["sequence"] == facts.sequence
        assert ledger["ledger_hash"] == facts.ledger_hash
        assert ledger["previous_ledger_hash"] == facts.previous_ledger_hash
        assert int(ledger["closed_at"].timestamp()) == facts.close_time  # type: ignore[attr-defined]
        assert ledger["protocol_version"] == facts.protocol_version
        assert ledger["transaction_count"] == len(facts.transactions)
        assert ledger["successful_transaction_count"] == facts.successful_count
        assert ledger["failed_transaction_count"] == len(facts.transactions) - facts.successful_count
        assert ledger["operation_count"] == facts.successful_operation_count
        assert ledger["tx_set_operation_count"] == facts.operation_count
        rows = tables["transactions"]
        assert len(rows) == len(facts.transactions), name
        for row, tx in zip(rows, facts.transactions, strict=True):
            expected = {
                "transaction_hash": tx.tx_hash,
                "transaction_index": tx.transaction_index,
                "id": (facts.sequence << 32) | (tx.transaction_index << 12),
                "fee_charged": tx.fee_charged,
                "result_code": tx.result_code,
                "successful": tx.successful,
                "operation_count": tx.operation_count,
                "account": tx.account,
                "max_fee": tx.max_fee,
                "envelope_type": "tx_fee_bump" if tx.fee_bump else row["envelope_type"],
            }
            assert {k: row[k] for k in expected} == expected, (name, tx.tx_hash)
            checked_txs += 1
    assert checked_txs > 1500
