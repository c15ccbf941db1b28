"""The cast and helpers of the table-driven token-transfer tests, on top of :mod:`stellar_arrow.testing`.

Ledgers are built with the shipped builder (:class:`~stellar_arrow.testing.Tx`,
:class:`~stellar_arrow.testing.LedgerBuilder`, the XDR constructors of
:mod:`stellar_arrow.testing.xdr_values`): real ``LedgerCloseMeta`` XDR encoded by stellar-sdk, which the tests
decode with our own decoder. This module adds the named accounts and the event-deriving shortcuts.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stellar_sdk import Network

from stellar_arrow.ledger import resolve_network
from stellar_arrow.testing import LedgerBuilder, Tx
from stellar_arrow.testing.xdr_values import (
    account_entry,
    account_id,
    asset,
    asset_topic,
    balance,
    cb_entry,
    cb_id,
    contract_event,
    created,
    i64,
    keypair,
    m_address,
    muxed,
    op,
    op_result,
    pool_entry,
    pool_share_trustline_entry,
    removed,
    sac_id,
    sc_account,
    sc_contract,
    sc_i128,
    sc_map,
    sc_str,
    sym,
    trustline_asset,
    trustline_entry,
    updated,
)
from stellar_arrow.ttp import events_from_ledger
from stellar_arrow.ttp.events import Event
from stellar_arrow.xdr import decode_ledger_close_meta

__all__ = [
    "ALICE",
    "BOB",
    "CAROL",
    "FEEBUMPER",
    "ISSUER",
    "ISSUER2",
    "NETWORK",
    "NETWORK_ID",
    "PASSPHRASE",
    "Tx",
    "account_entry",
    "account_id",
    "asset",
    "asset_topic",
    "balance",
    "cb_entry",
    "cb_id",
    "contract_event",
    "created",
    "decoded",
    "derive",
    "i64",
    "ledger_xdr",
    "m_address",
    "muxed",
    "op",
    "op_events",
    "op_result",
    "pool_entry",
    "pool_share_trustline_entry",
    "removed",
    "sac_id",
    "sc_account",
    "sc_contract",
    "sc_i128",
    "sc_map",
    "sc_str",
    "sym",
    "trustline_asset",
    "trustline_entry",
    "updated",
]

PASSPHRASE = Network.TESTNET_NETWORK_PASSPHRASE
NETWORK = resolve_network(PASSPHRASE)
NETWORK_ID = NETWORK.network_id

ALICE, BOB, CAROL, ISSUER, ISSUER2, FEEBUMPER = (keypair(i) for i in range(1, 7))


def ledger_xdr(
    txs: Sequence[Tx],
    *,
    protocol: int = 22,
    seq: int = 1000,
    close_time: int = 1_700_000_000,
    tx_set_order: Sequence[int] | None = None,
) -> bytes:
    """One ledger holding ``txs`` in apply order (the tx set lists them in ``tx_set_order``)."""
    builder = LedgerBuilder(seq, PASSPHRASE, protocol=protocol, close_time=close_time)
    return builder.ledger(txs, tx_set_order=tx_set_order)


def decoded(txs: Sequence[Tx], **kwargs: Any) -> Any:
    return decode_ledger_close_meta(ledger_xdr(txs, **kwargs))


def derive(txs: Sequence[Tx], **kwargs: Any) -> list[Event]:
    return events_from_ledger(decoded(txs, **kwargs), NETWORK)


def op_events(txs: Sequence[Tx], **kwargs: Any) -> list[Event]:
    """Events without fee events."""
    return [e for e in derive(txs, **kwargs) if e.event_type != "fee"]
