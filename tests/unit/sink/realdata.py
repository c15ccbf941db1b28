"""Real pipeline tables for sink and API tests: pubnet ledgers 63092982-63093001 from the bundled corpus.

Built once per test process with the project's own decoders and table builders (no invented rows).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import pyarrow as pa

from stellar_arrow.build import TableSet, TableSetOptions, table_schema
from stellar_arrow.ledger.network import resolve_network
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.ttp.processor import token_transfers_batch
from stellar_arrow.xdr import decode_ledger_close_meta

CORPUS = Path(__file__).resolve().parents[3] / "data" / "corpus"
FIRST, LAST = 63092982, 63093001
TABLES = ("ledgers", "transactions", "operations", "token_transfers")


def schemas() -> dict[str, pa.Schema]:
    return {name: table_schema(name) for name in TABLES}


@lru_cache(maxsize=4)
def ledger_tables(first: int = FIRST, last: int = LAST) -> tuple[tuple[int, dict[str, pa.Table]], ...]:
    """Per ledger (in order): ``{table name: rows of that ledger}`` for all four tables."""
    network = resolve_network("pubnet")
    out = []
    for seq in range(first, last + 1):
        (raw,) = read_ledger_file(CORPUS / f"pubnet-{seq:010d}.xdr.gz")
        lcm = decode_ledger_close_meta(raw)
        tables = TableSet(TableSetOptions(tables=TABLES[:3], network=network))
        tables.add_decoded(lcm)
        batches = tables.finish()
        per = {name: pa.Table.from_batches([batch]) for name, batch in batches.items()}
        per["token_transfers"] = pa.Table.from_batches([token_transfers_batch(lcm, network)])
        out.append((seq, per))
    return tuple(out)


def whole(table: str, first: int = FIRST, last: int = LAST) -> pa.Table:
    """All rows of ``table`` over the range, in ledger order."""
    parts = [per[table] for _, per in ledger_tables(first, last)]
    return pa.concat_tables(parts)
