"""Real Flight services on loopback port 0 over the bundled sample lake (pubnet 63092982-63093001)."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from stellar_arrow.build import TableSetOptions, build_ledger_tables
from stellar_arrow.config import load_settings
from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.ledger import resolve_network
from stellar_arrow.pipeline.components import table_builder
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA
from stellar_arrow.vocabulary import TABLES

PUBNET = "Public Global Stellar Network ; September 2015"
FIRST, LAST = 63092982, 63093001


@pytest.fixture(scope="session")
def sample_lake(data_dir: Path) -> Path:
    return data_dir / "lakes" / "pubnet-p26"


@pytest.fixture(scope="session")
def lake_ledgers(sample_lake: Path) -> dict[int, bytes]:
    with DataLakeLedgerSource(str(sample_lake)) as lake:
        return {r.ledger_sequence: r.ledger_close_meta for r in lake.ledgers(FIRST, LAST)}


@pytest.fixture(scope="session")
def expected_transfers(lake_ledgers: dict[int, bytes]) -> dict[int, pa.Table]:
    """Token transfers of each sample ledger, derived directly (no Flight)."""
    options = TableSetOptions(("token_transfers",), resolve_network(PUBNET))
    return {
        seq: pa.Table.from_batches(
            [build_ledger_tables(options, (seq, lcm)).batches["token_transfers"]],
            schema=TOKEN_TRANSFERS_SCHEMA,
        )
        for seq, lcm in lake_ledgers.items()
    }


def lake_source(uri: Path, poll: float = 0.02) -> functools.partial[DataLakeLedgerSource]:
    return functools.partial(DataLakeLedgerSource, str(uri), poll_interval=poll, network_passphrase=PUBNET)


@pytest.fixture
def source(sample_lake: Path) -> Iterator[SourceService]:
    server = SourceService(lake_source(sample_lake), first_ledger=FIRST)
    yield server
    server.stop()


def make_processor(source_uri: str, **kw: object) -> ProcessorService:
    """A processor building every table (as ``run`` wires it) from ``source_uri``'s raw ledgers."""
    return ProcessorService(
        source_uri,
        table_builder(load_settings(), TABLES),
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def processor(source: SourceService) -> Iterator[ProcessorService]:
    server = make_processor(source.uri, reconnect_timeout_s=10.0)
    yield server
    server.stop()


class LakeKit:
    """Helpers handed to tests as one fixture (conftest modules are not importable)."""

    first, last, passphrase = FIRST, LAST, PUBNET
    lake_source = staticmethod(lake_source)
    make_processor = staticmethod(make_processor)


@pytest.fixture(scope="session")
def kit() -> type[LakeKit]:
    return LakeKit
