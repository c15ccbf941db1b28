"""The ledger builder makes ledgers every reader accepts: our decoder, stellar-sdk, hashes, chain, events."""

from __future__ import annotations

import pytest
from stellar_sdk import xdr as sdk_xdr

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.errors import HashChainError, NetworkMismatchError
from stellar_arrow.ledger import (
    PUBNET,
    TESTNET,
    ChainLink,
    ChainValidator,
    check_ledger_hashes,
    ledger_view,
    pair_transactions,
)
from stellar_arrow.testing import LedgerBuilder, payment
from stellar_arrow.testing.xdr_values import keypair
from stellar_arrow.ttp import token_transfers_batch
from stellar_arrow.ttp.report import verify_ledger_bytes
from stellar_arrow.xdr import decode_ledger_close_meta

ALICE, BOB, ISSUER = keypair(1), keypair(2), keypair(5)


def _link(raw: bytes) -> ChainLink:
    view = ledger_view(decode_ledger_close_meta(raw))
    return ChainLink(view.ledger_sequence, view.ledger_hash, view.previous_ledger_hash)


@pytest.mark.parametrize("protocol", [21, 22, 23])
def test_built_ledgers_pass_every_check_and_reconcile(protocol: int) -> None:
    builder = LedgerBuilder(first_sequence=500, protocol=protocol)
    txs = [payment(ALICE, BOB, 25), payment(BOB, ALICE, 7, code="USD", issuer=ISSUER)]
    chain = list(builder.chain(3, txs))
    assert [seq for seq, _ in chain] == [500, 501, 502] and builder.sequence == 503
    validator = ChainValidator()
    for seq, raw in chain:
        lcm = decode_ledger_close_meta(raw)
        assert int(lcm.v) == (2 if protocol >= 23 else 1)
        sdk = sdk_xdr.LedgerCloseMeta.from_xdr_bytes(raw)  # the oracle reads the same bytes
        assert sdk.to_xdr_bytes() == raw
        view = ledger_view(lcm)
        check_ledger_hashes(view)
        validator.check(_link(raw))
        paired = pair_transactions(view, TESTNET)
        assert [t.transaction_index for t in paired] == [1, 2] and view.ledger_sequence == seq
        report = verify_ledger_bytes(raw, TESTNET)
        assert report.mismatches == () and report.events == 4
        events = token_transfers_batch(lcm, TESTNET).to_pydict()
        assert events["event_type"] == ["fee", "fee", "transfer", "transfer"]
        assert events["amount_raw"][2:] == ["25", "7"]
        assert events["asset"][3] == f"credit_alphanum4:USD:{ISSUER.public_key}"


def test_close_times_grow_and_tables_build() -> None:
    builder = LedgerBuilder(first_sequence=10, close_time=1_700_000_000, close_interval=6)
    raws = [raw for _, raw in builder.chain(2, [payment(ALICE, BOB, 1)])]
    tables = TableSet(TableSetOptions(tables=("ledgers", "transactions", "operations"), network=TESTNET))
    for raw in raws:
        tables.add(raw)  # decodes, checks hashes, pairs by network, builds rows
    batches = tables.finish()
    closed = batches["ledgers"].column("closed_at").to_pylist()
    assert (closed[1] - closed[0]).total_seconds() == 6
    assert batches["operations"].column("type_string").to_pylist() == ["payment", "payment"]


def test_the_chain_and_the_network_are_really_checked() -> None:
    first, other = LedgerBuilder(first_sequence=1), LedgerBuilder(first_sequence=1)
    a1, a2 = first.ledger(), first.ledger()
    other.ledger()
    b2 = other.ledger([payment(ALICE, BOB, 1)])  # a testnet ledger with one transaction
    validator = ChainValidator()
    validator.check(_link(a1))
    validator.check(_link(a2))
    with pytest.raises(HashChainError, match="ledger 2"):
        ChainValidator(_link(a1)).check(_link(LedgerBuilder(first_sequence=2).ledger()))
    with pytest.raises(NetworkMismatchError):
        pair_transactions(ledger_view(decode_ledger_close_meta(b2)), PUBNET)
