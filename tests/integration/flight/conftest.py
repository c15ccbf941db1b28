"""Real Flight services on loopback port 0 over the bundled sample lake (pubnet 63092982-63093001)."""

from __future__ import annotations

import functools
import shutil
from collections.abc import Iterator
from pathlib import Path

import pyarrow as pa
import pytest

from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.pipeline.components import derive_token_transfers
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.ttp.schema import TOKEN_TRANSFERS_SCHEMA

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
    return {
        seq: pa.Table.from_batches([derive_token_transfers(lcm, PUBNET)], schema=TOKEN_TRANSFERS_SCHEMA)
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
    return ProcessorService(
        source_uri,
        functools.partial(derive_token_transfers, network_passphrase=PUBNET),
        TOKEN_TRANSFERS_SCHEMA,
        **kw,  # type: ignore[arg-type]
    )


@pytest.fixture
def processor(source: SourceService) -> Iterator[ProcessorService]:
    server = make_processor(source.uri, reconnect_timeout_s=10.0)
    yield server
    server.stop()


def growing_lake(sample_lake: Path, target: Path, upto: int) -> list[tuple[Path, Path]]:
    """Copy the manifest and the objects of ledgers <= ``upto``; return (src, dst) of the rest, in order."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(sample_lake / ".config.json", target / ".config.json")
    rest: list[tuple[int, Path, Path]] = []
    for obj in sample_lake.rglob("*.xdr.zst"):
        seq = int(obj.name.split("--")[1].split(".")[0])
        dst = target / obj.relative_to(sample_lake)
        dst.parent.mkdir(parents=True, exist_ok=True)
        if seq <= upto:
            shutil.copy(obj, dst)
        else:
            rest.append((seq, obj, dst))
    return [(src, dst) for _, src, dst in sorted(rest)]


def publish(src: Path, dst: Path) -> None:
    """Make one lake object appear atomically (as an upload does)."""
    tmp = dst.with_name("." + dst.name + ".tmp")
    shutil.copy(src, tmp)
    tmp.replace(dst)


class LakeKit:
    """Helpers handed to tests as one fixture (conftest modules are not importable)."""

    first, last, passphrase = FIRST, LAST, PUBNET
    lake_source = staticmethod(lake_source)
    make_processor = staticmethod(make_processor)
    growing_lake = staticmethod(growing_lake)
    publish = staticmethod(publish)


@pytest.fixture(scope="session")
def kit() -> type[LakeKit]:
    return LakeKit
