"""Cost of the one filter model on the sample's token transfers: parse, pyarrow mask, DuckDB predicate.

Usage: .venv/bin/python bench/bench_filters.py [--repeat N]

Derives the 12,864 events of the 20 sample ledgers once, then for a few filters prints the best-of-N
process CPU time of: parsing the JSON filter, ``filter_rows`` on the whole table, ``filter_rows`` ledger
by ledger (as the processor and the sink apply it), and the same filter as a DuckDB ``WHERE`` over an
Arrow view (as the REST store runs it). Times are CPU time, so other load on the machine disturbs them less.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import duckdb
import pyarrow as pa

from stellar_arrow.ledger.network import PUBNET
from stellar_arrow.query import filter_from_json, filter_rows, sql_where
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.ttp.processor import token_transfers_batch
from stellar_arrow.xdr import decode_ledger_close_meta

LAKE = Path(__file__).resolve().parent.parent / "data" / "lakes" / "pubnet-p26"
FIRST, LAST = 63092982, 63093001
FILTERS: dict[str, dict[str, object]] = {
    "event_types=[mint]": {"event_types": ["mint"]},
    "assets=[native, USDC]": {
        "assets": ["native", "USDC:GA5ZSEJYB37JRC5AVCIA5MOP4RHTM335X2KGX3IHOJAPP5RE34K4KZVN"]
    },
    "min_amount=100": {"min_amount": "100"},
    "six conditions": {
        "event_types": ["transfer", "mint"],
        "assets": ["native"],
        "min_amount": "0.5",
        "max_amount": "1000000",
        "from_ledger": FIRST + 2,
        "start_time": "2020-01-01T00:00:00Z",
    },
}


def best_cpu(repeat: int, work: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.process_time()
        work()
        best = min(best, time.process_time() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args()
    with DataLakeLedgerSource(str(LAKE)) as lake:
        batches = [
            token_transfers_batch(decode_ledger_close_meta(r.ledger_close_meta), PUBNET)
            for r in lake.ledgers(FIRST, LAST)
        ]
    table = pa.Table.from_batches(batches)
    db = duckdb.connect(":memory:")
    db.register("rows", table)
    print(f"{table.num_rows} events in {len(batches)} ledgers; best of {args.repeat}, CPU ms")
    print(f"{'filter':24} {'kept':>6} {'parse':>7} {'table':>7} {'per ledger':>11} {'duckdb':>7}")
    for name, doc in FILTERS.items():
        rules = filter_from_json(doc)
        where, params = sql_where(rules)
        kept = filter_rows(table, rules).num_rows
        ((got,),) = db.sql(f"SELECT count(*) FROM rows {where}", params=params).fetchall()
        assert got == kept, (name, got, kept)
        parse = best_cpu(args.repeat, lambda doc=doc: filter_from_json(doc))
        whole = best_cpu(args.repeat, lambda rules=rules: filter_rows(table, rules))
        per = best_cpu(args.repeat, lambda rules=rules: [filter_rows(b, rules) for b in batches])
        sql = f"SELECT * FROM rows {where}"
        duck = best_cpu(args.repeat, lambda s=sql, p=params: db.sql(s, params=p).to_arrow_table())
        print(
            f"{name:24} {kept:6d} {parse * 1e3:7.3f} {whole * 1e3:7.2f} {per * 1e3:11.2f} {duck * 1e3:7.2f}"
        )


if __name__ == "__main__":
    main()
