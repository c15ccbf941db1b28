"""Table schemas and builders on real ledgers: declared schemas, TOIDs, order, details JSON."""

from __future__ import annotations

import json
from functools import cache

import pyarrow as pa
import pytest
import stellar_sdk
from stellar_sdk import Asset, MuxedAccount
from stellar_sdk import xdr as sdk_xdr

from stellar_arrow.build import TableSet, TableSetOptions, table_schema
from stellar_arrow.ledger import parse_toid, resolve_network
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.tables import (
    LEDGERS_SCHEMA,
    OPERATIONS_SCHEMA,
    SCHEMA_VERSION,
    TRANSACTIONS_SCHEMA,
    schema_table_name,
)
from tests.conftest import CORPUS

P26 = 63092982
ALL = ("ledgers", "transactions", "operations")


@cache
def _p26_raw() -> bytes:
    (raw,) = read_ledger_file(CORPUS / f"pubnet-{P26:010d}.xdr.gz")
    return raw


def _tables(include_xdr: bool = False) -> dict[str, pa.RecordBatch]:
    tables = TableSet(TableSetOptions(ALL, resolve_network("pubnet"), include_xdr=include_xdr))
    tables.add(_p26_raw())
    return tables.finish()


def test_schemas_are_versioned_and_builders_follow_them() -> None:
    declared = {"ledgers": LEDGERS_SCHEMA, "transactions": TRANSACTIONS_SCHEMA}
    declared["operations"] = OPERATIONS_SCHEMA
    for name, schema in declared.items():
        assert schema_table_name(schema) == name
        assert schema.metadata[b"stellar_arrow.schema_version"] == str(SCHEMA_VERSION).encode()
    plain, with_xdr = _tables(), _tables(include_xdr=True)
    for name in ALL:
        assert plain[name].schema.equals(table_schema(name), check_metadata=True)
        assert with_xdr[name].schema.equals(table_schema(name, include_xdr=True), check_metadata=True)
    assert set(with_xdr["transactions"].schema.names) - set(plain["transactions"].schema.names) == {
        "tx_envelope",
        "tx_result",
        "tx_meta",
    }
    assert "ledger_header" in with_xdr["ledgers"].schema.names
    assert with_xdr["ledgers"].schema.field("closed_at").type == pa.timestamp("us", tz="UTC")


def test_ids_are_toids_in_apply_order() -> None:
    tables = _tables()
    txs = tables["transactions"].to_pylist()
    assert [parse_toid(t["id"]) for t in txs] == [(P26, i, 0) for i in range(1, len(txs) + 1)]
    ops = tables["operations"].to_pylist()
    tx_by_id = {t["id"]: t for t in txs}
    per_tx: dict[int, list[int]] = {}
    for op in ops:
        seq, tx_index, op_index = parse_toid(op["id"])
        assert (seq, tx_index) == (P26, op["transaction_index"]) and op_index == op["operation_index"]
        tx = tx_by_id[op["transaction_id"]]
        assert op["transaction_hash"] == tx["transaction_hash"] and op["successful"] == tx["successful"]
        per_tx.setdefault(tx_index, []).append(op_index)
    assert all(indexes == list(range(1, len(indexes) + 1)) for indexes in per_tx.values())
    counts = {t["transaction_index"]: t["operation_count"] for t in txs}
    assert {i: len(v) for i, v in per_tx.items()} == counts


def _asset(asset: Asset) -> str:
    return "native" if asset.is_native() else f"{asset.code}:{asset.issuer}"


def _account(account: MuxedAccount | str) -> str:
    if isinstance(account, str):
        return account
    return account.account_muxed or account.account_id


def _stroops(amount: object) -> int:
    return stellar_sdk.Operation.to_xdr_amount(amount)  # type: ignore[arg-type]


def _expected_details(op: stellar_sdk.Operation) -> dict[str, object] | None:
    """The details JSON expected for ``op``, from stellar-sdk's own operation object."""
    if isinstance(op, stellar_sdk.Payment):
        return {
            "destination": _account(op.destination),
            "asset": _asset(op.asset),
            "amount": _stroops(op.amount),
        }
    if isinstance(op, stellar_sdk.CreateAccount):
        return {"destination": op.destination, "starting_balance": _stroops(op.starting_balance)}
    if isinstance(op, stellar_sdk.ManageSellOffer | stellar_sdk.ManageBuyOffer):
        amount_key = "amount" if isinstance(op, stellar_sdk.ManageSellOffer) else "buy_amount"
        return {
            "selling": _asset(op.selling),
            "buying": _asset(op.buying),
            amount_key: _stroops(op.amount),
            "price": {"n": op.price.n, "d": op.price.d},
            "offer_id": op.offer_id,
        }
    if isinstance(op, stellar_sdk.PathPaymentStrictSend):
        return {
            "send_asset": _asset(op.send_asset),
            "send_amount": _stroops(op.send_amount),
            "destination": _account(op.destination),
            "dest_asset": _asset(op.dest_asset),
            "dest_min": _stroops(op.dest_min),
            "path": [_asset(a) for a in op.path],
        }
    if isinstance(op, stellar_sdk.PathPaymentStrictReceive):
        return {
            "send_asset": _asset(op.send_asset),
            "send_max": _stroops(op.send_max),
            "destination": _account(op.destination),
            "dest_asset": _asset(op.dest_asset),
            "dest_amount": _stroops(op.dest_amount),
            "path": [_asset(a) for a in op.path],
        }
    return None


def test_operation_details_match_stellar_sdk() -> None:
    """details and source of payments, offers, path payments, account creations: as stellar-sdk reads them."""
    pubnet = "Public Global Stellar Network ; September 2015"
    lcm = sdk_xdr.LedgerCloseMeta.from_xdr_bytes(_p26_raw())
    tables = _tables()
    ops = {op["id"]: op for op in tables["operations"].to_pylist()}
    txs = {t["transaction_hash"]: t for t in tables["transactions"].to_pylist()}
    checked: dict[str, int] = {}
    for phase in lcm.v2.tx_set.v1_tx_set.phases:
        for component in phase.v0_components or []:
            for env in component.txs_maybe_discounted_fee.txs:
                parsed = stellar_sdk.TransactionBuilder.from_xdr(env.to_xdr(), pubnet)
                if isinstance(parsed, stellar_sdk.FeeBumpTransactionEnvelope):
                    parsed_tx = parsed.transaction.inner_transaction_envelope.transaction
                else:
                    parsed_tx = parsed.transaction
                tx = txs[parsed.hash_hex()]
                for index, op in enumerate(parsed_tx.operations, start=1):
                    expected = _expected_details(op)
                    if expected is None:
                        continue
                    row = ops[tx["id"] + index]
                    assert json.loads(row["details"]) == expected, (tx["transaction_hash"], index)
                    source = tx["account"] if op.source is None else op.source.account_id
                    assert row["source_account"] == source
                    checked[row["type_string"]] = checked.get(row["type_string"], 0) + 1
    assert set(checked) == {
        "payment",
        "create_account",
        "manage_sell_offer",
        "manage_buy_offer",
        "path_payment_strict_send",
        "path_payment_strict_receive",
    }
    assert sum(checked.values()) > 500


def test_invoke_host_function_details_are_json_with_exact_integers() -> None:
    rows = [op for op in _tables()["operations"].to_pylist() if op["type_string"] == "invoke_host_function"]
    assert rows
    for row in rows:
        details = json.loads(row["details"])
        assert details["host_function"]["type"].startswith("HOST_FUNCTION_TYPE_")
        assert row["operation_trace_code"].startswith("INVOKE_HOST_FUNCTION_")


@pytest.mark.parametrize("table", ["nope", "token_transfer"])
def test_unknown_table_is_a_config_error(table: str) -> None:
    from stellar_arrow.errors import ConfigError

    with pytest.raises(ConfigError, match=table):
        TableSetOptions((table,), resolve_network("pubnet"))
