"""One schema convention for the four tables: the stamp, ``closed_at`` and the ledger-sequence column."""

from __future__ import annotations

import pyarrow as pa
import pytest

from stellar_arrow.build import TableSet, TableSetOptions, table_schema
from stellar_arrow.ledger import PUBNET
from stellar_arrow.schema import (
    LEDGER_COLUMN_KEY,
    TABLE_KEY,
    VERSION_KEY,
    ledger_column,
    schema_table_name,
    schema_version,
    stamp,
)
from stellar_arrow.sink import ledger_column as sink_ledger_column
from stellar_arrow.vocabulary import TABLES
from tests.unit.ledger.realdata import P26_FIRST, p26

# Hubble's names for the ledger-sequence column
HUBBLE_LEDGER_COLUMNS = {
    "ledgers": "sequence",
    "transactions": "ledger_sequence",
    "operations": "ledger_sequence",
    "token_transfers": "ledger_sequence",
}
VERSIONS = {"ledgers": 2, "transactions": 2, "operations": 2, "token_transfers": 3}


def built_schemas() -> dict[str, pa.Schema]:
    """The schemas of the batches actually built from a real ledger (all four tables, raw XDR included)."""
    tables = TableSet(TableSetOptions(TABLES, PUBNET, include_xdr=True))
    tables.add(p26(P26_FIRST))
    return {name: batch.schema for name, batch in tables.finish().items()}


def check_stamp(table: str, schema: pa.Schema) -> None:
    meta = schema.metadata
    assert set(meta) == {TABLE_KEY, VERSION_KEY, LEDGER_COLUMN_KEY}, table
    assert meta[TABLE_KEY] == table.encode()
    assert meta[VERSION_KEY] == str(VERSIONS[table]).encode() and meta[VERSION_KEY].isdigit()
    column = HUBBLE_LEDGER_COLUMNS[table]
    assert meta[LEDGER_COLUMN_KEY] == column.encode()
    assert (schema_table_name(schema), schema_version(schema), ledger_column(schema)) == (
        table,
        VERSIONS[table],
        column,
    )
    assert sink_ledger_column(schema) == column  # the sink reads the stamp, it does not guess
    assert schema.field(column).type == pa.uint32() and not schema.field(column).nullable
    assert schema.field("closed_at").type == pa.timestamp("us", tz="UTC")
    assert not schema.field("closed_at").nullable


@pytest.mark.parametrize("include_xdr", [False, True])
def test_every_declared_table_schema_follows_the_convention(include_xdr: bool) -> None:
    for table in TABLES:
        check_stamp(table, table_schema(table, include_xdr=include_xdr))


def test_every_built_batch_follows_the_convention_and_holds_the_ledger() -> None:
    schemas = built_schemas()
    assert set(schemas) == set(TABLES)
    for table, schema in schemas.items():
        check_stamp(table, schema)
    tables = TableSet(TableSetOptions(TABLES, PUBNET))
    tables.add(p26(P26_FIRST))
    for table, batch in tables.finish().items():
        column = batch.column(HUBBLE_LEDGER_COLUMNS[table])
        assert set(column.to_pylist()) == {P26_FIRST}, table
        closed = batch.column("closed_at").to_pylist()
        assert {c.isoformat() for c in closed} == {closed[0].isoformat()} and closed[0].microsecond == 0


def test_an_unstamped_schema_has_no_ledger_column() -> None:
    plain = pa.schema([pa.field("ledger_sequence", pa.uint32()), pa.field("sequence", pa.uint32())])
    assert ledger_column(plain) is None and schema_version(plain) is None and schema_table_name(plain) is None
    only_table = plain.with_metadata({TABLE_KEY: b"token_transfers"})
    assert ledger_column(only_table) == "ledger_sequence"


def test_stamp_refuses_schemas_off_the_convention() -> None:
    good = [pa.field("ledger_sequence", pa.uint32(), nullable=False)]
    closed_us = pa.field("closed_at", pa.timestamp("us", tz="UTC"), nullable=False)
    assert ledger_column(stamp(pa.schema([*good, closed_us]), "operations", 3)) == "ledger_sequence"
    cases = [
        (
            [*good, pa.field("closed_at", pa.timestamp("s", tz="UTC"), nullable=False)],
            "operations",
            1,
            "closed_at",
        ),
        (
            [pa.field("ledger_sequence", pa.int64(), nullable=False), closed_us],
            "operations",
            1,
            "ledger_sequence",
        ),
        ([pa.field("ledger_sequence", pa.uint32()), closed_us], "operations", 1, "ledger_sequence"),
        ([*good, closed_us], "ledgers", 1, "'sequence'"),
        ([*good, closed_us], "trades", 1, "unknown table"),
        ([*good, closed_us], "operations", "1", "positive int"),
        ([*good, closed_us], "operations", 0, "positive int"),
    ]
    for fields, table, version, message in cases:
        with pytest.raises(ValueError, match=message):
            stamp(pa.schema(fields), table, version)  # type: ignore[arg-type]
