"""Fakes and builders for testing code built on stellar-arrow, shipped with the library.

Each seam of the pipeline has an in-memory stand-in that keeps the real contract, so tests exercise real
code on both sides of it:

* :class:`MemoryLedgerSource` — a :class:`~stellar_arrow.source.base.LedgerSource` over ledgers held in
  memory (bytes, corpus files, or built with :class:`LedgerBuilder`): ordered ranges, ``LedgerMissingError``
  for a hole, tip following with :meth:`~MemoryLedgerSource.publish`, ``opener()`` for services that open
  one source per stream.
* :class:`MemorySink` — a :class:`~stellar_arrow.sink.base.Sink` (what the sink loop writes through) that
  collects committed tables (:meth:`~MemorySink.committed`), reports its resume state
  (:meth:`~MemorySink.snapshot`: the next ledger to write), restarts as after a crash
  (:meth:`~MemorySink.restart`) and serves the API through :meth:`~MemorySink.reader`.
* :class:`LedgerBuilder` with :class:`Tx` and :func:`payment` — small valid ``LedgerCloseMeta`` bytes
  (hashes, tx set and results hashes, hash chain), encoded with stellar-sdk; the XDR value constructors
  (``keypair``, ``balance``, ``op``, ...) live in :mod:`stellar_arrow.testing.xdr_values`.

Example: three ledgers through the pure core into a sink, then resumed::

    from stellar_arrow.ledger import TESTNET
    from stellar_arrow.testing import LedgerBuilder, MemoryLedgerSource, MemorySink, payment
    from stellar_arrow.testing.xdr_values import keypair
    from stellar_arrow.ttp import token_transfers_batch, TOKEN_TRANSFERS_SCHEMA

    builder = LedgerBuilder(first_sequence=100, network_passphrase=TESTNET.passphrase)
    source = MemoryLedgerSource(lcm for _, lcm in builder.chain(3, [payment(keypair(1), keypair(2), 50)]))
    sink = MemorySink({"token_transfers": TOKEN_TRANSFERS_SCHEMA})
    for seq, lcm in source.ledgers(100, 102):
        sink.write_batch("token_transfers", token_transfers_batch(lcm, TESTNET.passphrase))
        sink.advance(seq)
    assert sink.snapshot() == 103 and sink.committed("token_transfers").num_rows == 6
"""

from __future__ import annotations

from stellar_arrow.testing.ledgers import LedgerBuilder, Tx, payment
from stellar_arrow.testing.sinks import MemoryReader, MemorySink
from stellar_arrow.testing.sources import MemoryLedgerSource

__all__ = ["LedgerBuilder", "MemoryLedgerSource", "MemoryReader", "MemorySink", "Tx", "payment"]
