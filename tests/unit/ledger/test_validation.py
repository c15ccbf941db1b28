"""Network check, header hashes and the hash chain on real ledgers (and real ledgers altered in one place)."""

from __future__ import annotations

import pytest

from stellar_arrow.errors import HashChainError, LedgerGapError, LedgerHashMismatchError, NetworkMismatchError
from stellar_arrow.ledger import (
    ChainLink,
    ChainValidator,
    check_ledger_hashes,
    detect_network,
    ledger_view,
    pair_transactions,
    resolve_network,
)
from stellar_arrow.source.header import read_ledger_header
from stellar_arrow.xdr import decode_ledger_close_meta

from .realdata import P26_FIRST, P26_LAST, lcm_of_testnet, p26, relinked, with_fee_charged_changed


def _link(raw: bytes) -> ChainLink:
    header = read_ledger_header(raw)  # the source's header slicer: no full decode needed here
    return ChainLink(header.ledger_sequence, header.ledger_hash, header.previous_ledger_hash)


def test_resolve_network_names_and_passphrases() -> None:
    assert resolve_network("pubnet").passphrase == "Public Global Stellar Network ; September 2015"
    assert resolve_network("TESTNET").name == "testnet"
    custom = resolve_network("My Private Net ; 2026")
    assert custom.passphrase == "My Private Net ; 2026" and custom.name == "My Private Net ; 2026"
    assert len(custom.network_id) == 32


def test_pubnet_ledger_checked_as_testnet_is_rejected() -> None:
    view = ledger_view(decode_ledger_close_meta(p26(P26_FIRST)))
    assert len(pair_transactions(view, resolve_network("pubnet"))) == 305
    with pytest.raises(NetworkMismatchError, match=r"ledger 63092982: transaction #1 hash .* 'testnet'"):
        pair_transactions(view, resolve_network("testnet"))


def test_testnet_ledger_checked_as_pubnet_is_rejected() -> None:
    view = ledger_view(decode_ledger_close_meta(lcm_of_testnet(997)))
    with pytest.raises(NetworkMismatchError, match="ledger 997"):
        pair_transactions(view, resolve_network("pubnet"))


def test_detect_network() -> None:
    networks = [resolve_network(n) for n in ("pubnet", "testnet", "futurenet", "standalone")]
    testnet_view = ledger_view(decode_ledger_close_meta(lcm_of_testnet(848581)))
    pubnet_view = ledger_view(decode_ledger_close_meta(p26(P26_LAST)))
    assert detect_network(testnet_view, networks).name == "testnet"  # type: ignore[union-attr]
    assert detect_network(pubnet_view, networks).name == "pubnet"  # type: ignore[union-attr]
    assert detect_network(pubnet_view, networks[1:]) is None


def test_consecutive_ledgers_form_a_chain() -> None:
    chain = ChainValidator()
    for seq in range(P26_FIRST, P26_LAST + 1):
        chain.check(_link(p26(seq)))
    assert chain.last is not None and chain.last.ledger_sequence == P26_LAST


def test_skipped_ledger_is_a_gap() -> None:
    chain = ChainValidator(_link(p26(P26_FIRST)))
    with pytest.raises(LedgerGapError, match=r"ledger 63092984 follows ledger 63092982.*63092983-63092983"):
        chain.check(_link(p26(P26_FIRST + 2)))


def test_ledgers_out_of_order_are_rejected() -> None:
    chain = ChainValidator(_link(p26(P26_FIRST + 1)))
    with pytest.raises(LedgerGapError, match="out of order"):
        chain.check(_link(p26(P26_FIRST)))


def test_ledger_that_does_not_link_breaks_the_chain() -> None:
    broken = relinked(p26(P26_FIRST + 1), bytes(32))
    check_ledger_hashes(ledger_view(decode_ledger_close_meta(broken)))  # self-consistent...
    chain = ChainValidator(_link(p26(P26_FIRST)))
    with pytest.raises(HashChainError, match="ledger 63092983: previous_ledger_hash 0000"):
        chain.check(_link(broken))  # ...but not the successor of 63092982


def test_header_that_does_not_hash_to_the_ledger_hash_is_rejected() -> None:
    raw = p26(P26_FIRST)
    view = ledger_view(decode_ledger_close_meta(raw))
    tampered = raw.replace(view.ledger_hash, bytes(32), 1)
    with pytest.raises(LedgerHashMismatchError, match=r"ledger 63092982: LedgerHeaderHistoryEntry\.hash 00"):
        check_ledger_hashes(ledger_view(decode_ledger_close_meta(tampered)))


def test_result_that_does_not_match_tx_set_result_hash_is_rejected() -> None:
    tampered = with_fee_charged_changed(p26(P26_FIRST))
    with pytest.raises(LedgerHashMismatchError, match="ledger 63092982: header txSetResultHash"):
        check_ledger_hashes(ledger_view(decode_ledger_close_meta(tampered)))
