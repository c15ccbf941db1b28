"""Every corpus transaction reconciles; derived and unified modes agree where core wrote its own events.

One test per corpus file: its ledgers are decoded once and go through every check (strict derived-mode
reconciliation, the derived/unified cross-check and unified reconciliation, ledger event order, Arrow batch).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
import pytest

from stellar_arrow.build import TableSet, TableSetOptions
from stellar_arrow.ledger import PUBNET, TESTNET, Network
from stellar_arrow.ttp import Fee, compare_modes, events_from_ledger, events_to_batch, verify_ledger
from tests.integration.ttp.conftest import corpus_names, decoded_ledgers, network_of

pytestmark = pytest.mark.xdist_group(name="ttp_corpus")

# ledgers whose meta carries core's own CAP-67 events (EMIT_CLASSIC_EVENTS; backfilled before protocol 23)
UNIFIED_LEDGERS = {51000294, 57500008, 60659332, 848581, 848582, 1283415, *range(63092982, 63093002)}


def check_order(lcm: Any, network: Network) -> None:
    header = lcm.value.ledger_header.header
    events = events_from_ledger(lcm, network)
    n_tx = len(lcm.value.tx_processing)
    charges = events[:n_tx]
    assert all(isinstance(e, Fee) and e.amount >= 0 for e in charges)
    assert [e.meta.transaction_index for e in charges] == list(range(1, n_tx + 1))
    assert [e.meta.event_index for e in events] == list(range(len(events)))
    rest = events[n_tx:]
    if header.ledger_version >= 23:  # all refunds at the very end
        refunds = [i for i, e in enumerate(rest) if isinstance(e, Fee)]
        assert refunds == list(range(len(rest) - len(refunds), len(rest)))
    assert all(e.meta.operation_index is not None for e in rest if not isinstance(e, Fee))
    assert all(e.meta.ledger_sequence == header.ledger_seq for e in events)
    batch = events_to_batch(events)
    assert batch.num_rows == len(events)
    assert batch.column("operation_index").null_count == sum(isinstance(e, Fee) for e in events)
    check_operation_types(lcm, network, batch)


def check_operation_types(lcm: Any, network: Network, batch: pa.RecordBatch) -> None:
    """Each event's ``operation_type`` is the ``type_string`` of the ``operations`` row with the same ledger,
    transaction and operation index; fee events (charges and refunds) have none."""
    tables = TableSet(TableSetOptions(tables=("operations",), network=network, verify_hashes=False))
    tables.add_decoded(lcm)
    ops = tables.finish()["operations"].to_pydict()
    kinds = {
        (seq, tx, op): kind
        for seq, tx, op, kind in zip(
            ops["ledger_sequence"],
            ops["transaction_index"],
            ops["operation_index"],
            ops["type_string"],
            strict=True,
        )
    }
    for row in batch.select(
        ["ledger_sequence", "transaction_index", "operation_index", "event_type", "operation_type"]
    ).to_pylist():
        if row["event_type"] == "fee":
            assert row["operation_type"] is None, row
        else:
            key = (row["ledger_sequence"], row["transaction_index"], row["operation_index"])
            assert row["operation_type"] == kinds[key], row


@pytest.mark.parametrize("name", corpus_names())
def test_corpus_file(name: str) -> None:
    network = network_of(name)
    for lcm in decoded_ledgers(name):
        seq = lcm.value.ledger_header.header.ledger_seq
        mismatches = verify_ledger(lcm, network, strict=True)
        assert mismatches == [], "\n".join(map(str, mismatches[:20]))
        compared, differences = compare_modes(lcm, network)
        assert differences == [], "\n".join(map(str, differences[:10]))
        assert compared == (len(lcm.value.tx_processing) if seq in UNIFIED_LEDGERS else 0), seq
        if seq in UNIFIED_LEDGERS:
            unified = verify_ledger(lcm, network, mode="unified", strict=True)
            assert unified == [], "\n".join(map(str, unified[:20]))
        check_order(lcm, network)


@pytest.mark.parametrize(
    ("name", "network"),
    [("pubnet-0053312000.lcmbatch.xdr.zst", PUBNET), ("testnet-0001283415.xdr", TESTNET)],
)
def test_stellar_sdk_decoded_model_gives_the_same_events(name: str, network: Network) -> None:
    from stellar_arrow.source.files import read_ledger_file
    from stellar_arrow.xdr import decode_ledger_close_meta, sdk_decode
    from tests.conftest import CORPUS

    (raw,) = read_ledger_file(CORPUS / name)
    ours = events_from_ledger(decode_ledger_close_meta(raw), network)
    assert ours and events_from_ledger(sdk_decode("LedgerCloseMeta", raw), network) == ours
