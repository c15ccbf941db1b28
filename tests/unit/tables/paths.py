"""What the tests of the compiled table rows share: the sample lakes and their networks, the networks of
the corpus files, ledgers with random bit flips that still decode and pair, and bit-for-bit batch equality."""

from __future__ import annotations

import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from stellar_arrow.errors import StellarArrowError
from stellar_arrow.ledger import Network, resolve_network
from stellar_arrow.ledger.view import ledger_view, pair_transactions
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.keys import parse_object_name
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.xdr import decode_ledger_close_meta
from stellar_arrow.xdr.choice import decode_ledger_close_meta_compiled
from tests.conftest import CORPUS, REPO

PASSPHRASES = {
    "pubnet": "Public Global Stellar Network ; September 2015",
    "testnet": "Test SDF Network ; September 2015",
    "synthetic-standalone": "Standalone Network ; February 2017",
    "synthetic-applyload": "Apply Load",
}
LAKES = REPO / "data" / "lakes"
LAKE_NETWORKS = {
    "pubnet-p26": "pubnet",
    "pubnet-p26-batch4": "pubnet",
    "pubnet-history": "pubnet",
    "testnet/2025-06-18": "testnet",
    "testnet/2025-10-02": "testnet",
    "testnet/2026-03-02": "testnet",
    "standalone-p23": "standalone",
}


def network_of(name: str) -> Network:
    return resolve_network(next(p for prefix, p in PASSPHRASES.items() if name.startswith(prefix)))


def ipc_bytes(batch: pa.RecordBatch) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, batch.schema) as writer:
        writer.write_batch(batch)
    return bytes(sink.getvalue().to_pybytes())


def assert_identical(compiled: pa.RecordBatch, python: pa.RecordBatch, where: str) -> None:
    assert compiled.schema.equals(python.schema, check_metadata=True), where
    for name in python.schema.names:
        assert compiled.column(name).equals(python.column(name)), f"{where}: column {name}"
    assert ipc_bytes(compiled) == ipc_bytes(python), where  # same buffers, validity bitmaps included


def lake_ledgers(source: DataLakeLedgerSource) -> Iterator[tuple[int, bytes]]:
    """Every ledger of a sample lake, object by object (some lakes are sparse)."""
    names = sorted(p.name for p in Path(source.uri).rglob("*.xdr.zst*"))
    for parsed in filter(None, map(parse_object_name, names)):
        batch = source.read_batch(source.schema.batch_key(parsed.low))
        for seq in range(batch.start_sequence, batch.end_sequence + 1):
            yield seq, batch.ledger(seq, object_name=source.uri)


def flipped_ledgers(network: Network, rng: random.Random, *, rounds: int) -> Iterator[tuple[Any, list[Any]]]:
    """``(view, transactions)`` of small testnet ledgers with one to three random bits flipped, ``rounds``
    copies of each, decoded by both decoders; copies that do not decode or pair (the tables never see
    them) are skipped."""
    ledgers = [
        read_ledger_file(CORPUS / f"testnet-{seq:010d}.xdr")[0] for seq in (4478, 4873, 848581, 1283415)
    ]
    for raw in ledgers:
        for _ in range(rounds):
            data = bytearray(raw)
            for _ in range(rng.randint(1, 3)):
                position = rng.randrange(len(data))
                data[position] ^= 1 << rng.randrange(8)
            for decode in (decode_ledger_close_meta_compiled, decode_ledger_close_meta):
                try:
                    view = ledger_view(decode(bytes(data)))
                    yield view, pair_transactions(view, network)
                except (StellarArrowError, ValueError):
                    continue
