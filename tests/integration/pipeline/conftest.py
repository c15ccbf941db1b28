"""The pipeline as real processes over the bundled sample lake, and the tables it must produce."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from stellar_arrow.build import TableSet, TableSetOptions, table_schema
from stellar_arrow.ledger import resolve_network
from stellar_arrow.sink import read_commits
from stellar_arrow.source.lake import DataLakeLedgerSource

PUBNET = "Public Global Stellar Network ; September 2015"
FIRST, LAST = 63092982, 63093001
TABLES = ("ledgers", "transactions", "operations", "token_transfers")


@pytest.fixture(scope="session")
def sample_lake(data_dir: Path) -> Path:
    return data_dir / "lakes" / "pubnet-p26"


@pytest.fixture(scope="session")
def expected_tables(sample_lake: Path) -> dict[str, pa.Table]:
    """Every table of the sample lake built directly, ledger by ledger, without Flight or a sink."""
    tables = TableSet(TableSetOptions(TABLES, resolve_network(PUBNET)))
    with DataLakeLedgerSource(str(sample_lake)) as lake:
        for seq, lcm in lake.ledgers(FIRST, LAST):
            tables.add(lcm, seq)
    return {t: pa.Table.from_batches([b], schema=table_schema(t)) for t, b in tables.finish().items()}


def read_output(out: Path) -> dict[str, pa.Table]:
    """Committed rows of every table, in commit order, read back through the commit log."""
    files: dict[str, list[Path]] = {}
    for record in read_commits(out):
        for manifest in record.files:
            if manifest.format == "parquet":
                files.setdefault(manifest.table, []).append(out / manifest.path)
    tables: dict[str, pa.Table] = {}
    for table, paths in files.items():
        schema = table_schema(table)
        parts = [pq.ParquetFile(p).read().select(schema.names).cast(schema) for p in paths]
        tables[table] = pa.concat_tables(parts)
    return tables


def assert_same_tables(got: dict[str, pa.Table], want: dict[str, pa.Table]) -> None:
    """Same tables, same rows, same order: no ledger missing, no row duplicated."""
    assert sorted(got) == sorted(want)
    for name, table in want.items():
        key = "sequence" if name == "ledgers" else "ledger_sequence"
        assert got[name].column(key).to_pylist() == table.column(key).to_pylist(), name
        assert got[name].equals(table), name
    # every parquet file on disk is committed (no orphan from a killed commit)


ROW_KEYS = {
    "ledgers": ("sequence",),
    "transactions": ("ledger_sequence", "transaction_index"),
    "operations": ("ledger_sequence", "transaction_index", "operation_index"),
    "token_transfers": ("ledger_sequence", "event_index"),
}


def in_row_order(tables: dict[str, pa.Table]) -> dict[str, pa.Table]:
    """Each table sorted by its row key (partitioning by column values reorders rows within a commit)."""
    return {
        name: table.sort_by([(key, "ascending") for key in ROW_KEYS[name]]) for name, table in tables.items()
    }


def write_config(path: Path, doc: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(doc), encoding="utf-8")
    return path


class PipelineKit:
    first, last, passphrase, tables = FIRST, LAST, PUBNET, TABLES
    sample_lake = Path(__file__).resolve().parents[3] / "data" / "lakes" / "pubnet-p26"
    read_output = staticmethod(read_output)
    assert_same_tables = staticmethod(assert_same_tables)
    in_row_order = staticmethod(in_row_order)
    write_config = staticmethod(write_config)


@pytest.fixture(scope="session")
def kit() -> type[PipelineKit]:
    return PipelineKit
