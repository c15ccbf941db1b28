"""A ledger of another network is the same error on every path, and the core takes a Network, not a string."""

from __future__ import annotations

import pytest

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.errors import NetworkMismatchError
from stellar_arrow.ledger import PUBNET, TESTNET, ledger_view, pair_transactions
from stellar_arrow.ttp import events_from_ledger, token_transfers_batch, verify_ledger_bytes
from stellar_arrow.xdr import decode_ledger_close_meta

from .realdata import P26_FIRST, p26

MESSAGE = (
    r"ledger 63092982: transaction #1 hash [0-9a-f]{64} matches no envelope hashed under network 'testnet'"
)


def test_wrong_network_is_one_error_on_the_ttp_and_the_tables_path() -> None:
    raw = p26(P26_FIRST)
    lcm = decode_ledger_close_meta(raw)
    with pytest.raises(NetworkMismatchError, match=MESSAGE) as ttp_error:
        events_from_ledger(lcm, TESTNET)
    with pytest.raises(NetworkMismatchError, match=MESSAGE):
        token_transfers_batch(lcm, TESTNET)
    with pytest.raises(NetworkMismatchError, match=MESSAGE):
        verify_ledger_bytes(raw, TESTNET)
    tables = TableSet(TableSetOptions(("ledgers", "transactions", "token_transfers"), TESTNET))
    with pytest.raises(NetworkMismatchError, match=MESSAGE) as tables_error:
        tables.add(raw)
    assert str(ttp_error.value) == str(tables_error.value)
    assert ttp_error.value.ledger_sequence == tables_error.value.ledger_sequence == P26_FIRST


def test_the_right_network_pairs_the_same_transactions_on_both_paths() -> None:
    lcm = decode_ledger_close_meta(p26(P26_FIRST))
    txs = pair_transactions(ledger_view(lcm), PUBNET)
    fees = [e for e in events_from_ledger(lcm, PUBNET) if e.event_type == "fee" and e.amount >= 0]
    assert [(t.hash_hex, t.transaction_index) for t in txs] == [
        (e.meta.tx_hash, e.meta.transaction_index) for e in fees[: len(txs)]
    ]


@pytest.mark.parametrize("network", [PUBNET.passphrase, "pubnet", PUBNET.network_id])
def test_a_passphrase_string_is_refused_with_a_hint(network: object) -> None:
    lcm = decode_ledger_close_meta(p26(P26_FIRST))
    with pytest.raises(TypeError, match=r"network must be a stellar_arrow.ledger.Network"):
        events_from_ledger(lcm, network)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"network must be a stellar_arrow.ledger.Network"):
        pair_transactions(ledger_view(lcm), network)  # type: ignore[arg-type]
