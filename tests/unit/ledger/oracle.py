"""Ledger and transaction facts computed independently of stellar_arrow, from stellar-sdk objects.

Only stellar-sdk parses the bytes here (``LedgerCloseMeta.from_xdr_bytes``) and only stellar-sdk
hashes envelopes (``TransactionBuilder.from_xdr(...).hash_hex()``), so these facts are an
oracle for the fast decoder, the ledger views and the table builders.
"""

from __future__ import annotations

import hashlib
import warnings
from dataclasses import dataclass
from typing import Any

from stellar_sdk import FeeBumpTransactionEnvelope, MuxedAccount, TransactionBuilder
from stellar_sdk import xdr as sdk_xdr

PUBNET = "Public Global Stellar Network ; September 2015"
TESTNET = "Test SDF Network ; September 2015"
STANDALONE = "Standalone Network ; February 2017"


@dataclass(frozen=True)
class TxFacts:
    transaction_index: int
    tx_hash: str
    fee_charged: int
    result_code: int
    successful: bool
    operation_count: int
    account: str
    max_fee: int
    fee_bump: bool


@dataclass(frozen=True)
class LedgerFacts:
    sequence: int
    ledger_hash: str
    header_sha256: str
    previous_ledger_hash: str
    close_time: int
    protocol_version: int
    transactions: list[TxFacts]

    @property
    def successful_count(self) -> int:
        return sum(t.successful for t in self.transactions)

    @property
    def successful_operation_count(self) -> int:
        return sum(t.operation_count for t in self.transactions if t.successful)

    @property
    def operation_count(self) -> int:
        return sum(t.operation_count for t in self.transactions)


def _envelopes(body: Any, version: int) -> list[sdk_xdr.TransactionEnvelope]:
    if version == 0:
        return list(body.tx_set.txs)
    out: list[sdk_xdr.TransactionEnvelope] = []
    for phase in body.tx_set.v1_tx_set.phases:
        if phase.v == 0:
            for component in phase.v0_components:
                out.extend(component.txs_maybe_discounted_fee.txs)
        else:
            for stage in phase.parallel_txs_component.execution_stages:
                for cluster in stage.parallel_tx_execution_stage:
                    out.extend(cluster.dependent_tx_cluster)
    return out


def ledger_facts(raw: bytes, passphrase: str | None) -> LedgerFacts:
    """Facts of one ledger; transactions only when the passphrase is known."""
    lcm = sdk_xdr.LedgerCloseMeta.from_xdr_bytes(raw)
    body = {0: lcm.v0, 1: lcm.v1, 2: lcm.v2}[lcm.v]
    entry = body.ledger_header
    header = entry.header
    txs: list[TxFacts] = []
    if passphrase is not None:
        by_hash: dict[str, tuple[Any, sdk_xdr.TransactionEnvelope]] = {}
        for env in _envelopes(body, lcm.v):
            with warnings.catch_warnings():  # stellar-sdk warns about legacy operations (AllowTrust)
                warnings.simplefilter("ignore", DeprecationWarning)
                parsed = TransactionBuilder.from_xdr(env.to_xdr(), passphrase)
            by_hash[parsed.hash_hex()] = (parsed, env)
        for index, processing in enumerate(body.tx_processing, start=1):
            pair = processing.result
            tx_hash = pair.transaction_hash.hash.hex()
            parsed, env = by_hash[tx_hash]
            code = pair.result.result.code.value
            if isinstance(parsed, FeeBumpTransactionEnvelope):
                inner = parsed.transaction.inner_transaction_envelope.transaction
                max_fee = env.fee_bump.tx.fee.int64
            else:
                inner = parsed.transaction
                max_fee = (env.v1.tx.fee if env.v1 is not None else env.v0.tx.fee).uint32
            source = inner.source
            account = source.account_id if isinstance(source, MuxedAccount) else str(source)
            txs.append(
                TxFacts(
                    transaction_index=index,
                    tx_hash=tx_hash,
                    fee_charged=pair.result.fee_charged.int64,
                    result_code=code,
                    successful=code in (0, 1),
                    operation_count=len(inner.operations),
                    account=account,
                    max_fee=max_fee,
                    fee_bump=isinstance(parsed, FeeBumpTransactionEnvelope),
                )
            )
    return LedgerFacts(
        sequence=header.ledger_seq.uint32,
        ledger_hash=entry.hash.hash.hex(),
        header_sha256=hashlib.sha256(header.to_xdr_bytes()).hexdigest(),
        previous_ledger_hash=header.previous_ledger_hash.hash.hex(),
        close_time=header.scp_value.close_time.time_point.uint64,
        protocol_version=header.ledger_version.uint32,
        transactions=txs,
    )


def passphrase_of(name: str) -> str | None:
    """The network of a corpus file, from its name (see data/corpus/PROVENANCE.md)."""
    if name.startswith("pubnet-"):
        return PUBNET
    if name.startswith("testnet-"):
        return TESTNET
    if name.startswith("synthetic-standalone"):
        return STANDALONE
    return None  # apply-load: passphrase unknown
