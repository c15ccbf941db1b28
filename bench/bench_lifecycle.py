"""Lifecycle: compaction of a sink output committed one ledger per commit, and what it saves readers.

Writes the first ``--ledgers`` of the 20 real pubnet ledgers 63092982-63093001 into a sink with
``batch_rows=1`` (one commit per ledger: one small file per table and partition per ledger), then times
``Lifecycle.apply`` (compaction only: the clock is set at the data's close time) and a DuckDB ``count(*)`` +
``sum`` over the live ``token_transfers`` files before and after. Figures are noisy on a shared machine:
compare the ratios of one run.

    .venv/bin/python bench/bench_lifecycle.py --ledgers 20
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def main() -> None:
    from stellar_arrow.config import LifecycleSettings, SinkSettings
    from stellar_arrow.lifecycle import Lifecycle, fixed_clock
    from stellar_arrow.sink import DatasetSink, read_commits
    from stellar_arrow.sink.manifest import live_files
    from tests.unit.lifecycle.sample import newest_close
    from tests.unit.sink.realdata import ledger_tables, schemas

    parser = argparse.ArgumentParser()
    parser.add_argument("--ledgers", type=int, default=20)
    parser.add_argument("--partition-by", default="date,event_type")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-lifecycle-"))
    options = SinkSettings(partition_by=tuple(args.partition_by.split(",")), batch_rows=1)  # type: ignore[arg-type]
    with DatasetSink(root, schemas(), options) as sink:
        for seq, per in ledger_tables()[: args.ledgers]:
            for table, rows in per.items():
                sink.write_batch(table, rows)
            sink.advance(seq)

    def files() -> list[str]:
        live = live_files(read_commits(root)).values()
        return [str(root / m.path) for m in live if m.table == "token_transfers"]

    def query() -> float:
        listed = ", ".join(f"'{p}'" for p in files())
        started = time.perf_counter()
        for _ in range(5):
            duckdb.sql(f"SELECT count(*), sum(amount_raw::HUGEINT) FROM read_parquet([{listed}])").fetchall()
        return (time.perf_counter() - started) / 5

    total = sum(m.bytes for m in live_files(read_commits(root)).values())
    before_files, before_query = len(files()), query()
    life = Lifecycle(root, LifecycleSettings(), clock=fixed_clock(newest_close()))
    started = time.perf_counter()
    _, report = life.apply()
    took = time.perf_counter() - started
    merged = sum(len(a.files) for a in report.done if a.kind == "compact")
    print(
        f"compaction: {merged} files ({total / 1e6:.1f} MB, all tables) in {took:.2f} s "
        f"-> {merged / took:.0f} files/s, {total / 1e6 / took:.1f} MB/s"
    )
    print(f"token_transfers files: {before_files} -> {len(files())}")
    after_query = query()
    print(
        f"DuckDB count+sum over token_transfers: {before_query * 1e3:.1f} ms -> {after_query * 1e3:.1f} ms "
        f"({before_query / after_query:.1f}x)"
    )


if __name__ == "__main__":
    main()
