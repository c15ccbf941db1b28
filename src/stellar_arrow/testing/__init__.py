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

Example: three ledgers through the pure core into a sink that commits every two ledgers:

>>> from stellar_arrow.ledger import TESTNET
>>> from stellar_arrow.testing.xdr_values import keypair
>>> from stellar_arrow.ttp import TOKEN_TRANSFERS_SCHEMA, token_transfers_batch
>>> from stellar_arrow.xdr import decode_ledger_close_meta
>>> builder = LedgerBuilder(first_sequence=100, network_passphrase=TESTNET.passphrase)
>>> source = MemoryLedgerSource(lcm for _, lcm in builder.chain(3, [payment(keypair(1), keypair(2), 50)]))
>>> sink = MemorySink({"token_transfers": TOKEN_TRANSFERS_SCHEMA}, commit_every=2)
>>> for seq, lcm in source.ledgers(100, 102):
...     lcm = decode_ledger_close_meta(lcm)
...     sink.write_batch("token_transfers", token_transfers_batch(lcm, TESTNET))
...     _ = sink.advance(seq)
>>> sink.snapshot(), sink.committed("token_transfers").num_rows
(102, 4)
>>> sink.close(); sink.snapshot(), sink.committed("token_transfers")["event_type"].to_pylist()[-2:]
(103, ['fee', 'transfer'])
"""

from __future__ import annotations

from stellar_arrow.testing.ledgers import LedgerBuilder, Tx, payment
from stellar_arrow.testing.sinks import MemoryReader, MemorySink
from stellar_arrow.testing.sources import MemoryLedgerSource

__all__ = ["LedgerBuilder", "MemoryLedgerSource", "MemoryReader", "MemorySink", "Tx", "payment"]
