"""One way to open a source: ``--source`` values -> ``source`` settings -> the concrete source."""

from __future__ import annotations

from pathlib import Path

import pytest

from stellar_arrow.config import load_settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.ledger.network import PUBNET, TESTNET
from stellar_arrow.source.lake import DataLakeLedgerSource
from stellar_arrow.source.open import (
    FileLedgerSource,
    first_available_ledger,
    open_source,
    settle_network,
    settle_source_network,
    source_spec,
)
from stellar_arrow.source.rpc import RpcLedgerSource
from tests.conftest import CORPUS, DATA

LAKE = DATA / "lakes" / "pubnet-p26"
TESTNET_FILE = CORPUS / "testnet-0000000998.lcmbatch.xdr.zst"


def test_source_values_map_to_settings() -> None:
    assert source_spec("https://rpc.example/") == {
        "source_type": "rpc",
        "rpc_endpoint": "https://rpc.example/",
    }
    assert source_spec("lake+https://x/y") == {"source_type": "datalake", "datalake_uri": "https://x/y"}
    assert source_spec("s3://bucket/p") == {"source_type": "datalake", "datalake_uri": "s3://bucket/p"}
    assert source_spec(str(LAKE)) == {"source_type": "datalake", "datalake_uri": str(LAKE)}
    assert source_spec(str(TESTNET_FILE)) == {"source_type": "file", "file_path": str(TESTNET_FILE)}
    with pytest.raises(ConfigError, match="--source is empty"):
        source_spec("  ")


def test_each_source_type_opens_its_source() -> None:
    lake = open_source(load_settings(source=source_spec(str(LAKE))).source)
    assert isinstance(lake, DataLakeLedgerSource) and lake.latest_ledger() == 63093001
    lake.close()
    rpc = open_source(load_settings(source=source_spec("http://127.0.0.1:9/")).source)
    assert isinstance(rpc, RpcLedgerSource)  # no request is sent before the first read
    rpc.close()
    file = open_source(load_settings(source=source_spec(str(TESTNET_FILE))).source)
    assert isinstance(file, FileLedgerSource) and (file.first_ledger(), file.latest_ledger()) == (998, 998)


def test_the_network_is_configured_declared_or_detected() -> None:
    section = load_settings(source=source_spec(str(TESTNET_FILE))).source
    source = open_source(section)
    assert settle_network(section, source, 998, 998) == TESTNET  # detected from the ledger
    assert settle_source_network(section).network_passphrase == TESTNET.passphrase
    lake_section = load_settings(source=source_spec(str(LAKE))).source
    assert settle_source_network(lake_section).network_passphrase == PUBNET.passphrase  # the manifest
    assert first_available_ledger(lake_section) == 63092982
    assert first_available_ledger(section) == 998


def test_a_missing_lake_or_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        open_source(load_settings(source={"datalake_uri": str(tmp_path / "nowhere")}).source)
    assert info.value.key == "source.datalake_uri"
    with pytest.raises(ConfigError, match="is not a folder"):
        open_source(load_settings(source={"datalake_uri": str(TESTNET_FILE)}).source)
    with pytest.raises(ConfigError, match="does not exist"):
        open_source(
            load_settings(source={"source_type": "file", "file_path": str(tmp_path / "x.xdr")}).source
        )
