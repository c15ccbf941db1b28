"""The one settings model: YAML file, STELLAR_ARROW_<SECTION>__<KEY> variables, errors naming the key."""

from __future__ import annotations

from pathlib import Path

import pytest

from stellar_arrow.config import NETWORK_PASSPHRASES, load_settings
from stellar_arrow.errors import ConfigError

PUBNET = "Public Global Stellar Network ; September 2015"


def _yaml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_are_the_original_ports_and_the_sample_lake() -> None:
    s = load_settings()
    assert (s.source.flight_port, s.processor.flight_port, s.sink.flight_port) == (8815, 8816, 8817)
    assert (s.api.api_port, s.api.port_fallback) == (8081, False)
    assert s.source.source_type == "datalake"
    assert s.source.datalake_uri == "data/lakes/pubnet-p26"
    assert s.source.network_passphrase is None  # what the source declares, else detected


def test_yaml_then_env_then_overrides(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _yaml(
        tmp_path,
        "source:\n  start_ledger: 63092982\n  end_ledger: 63092990\n  network_passphrase: mainnet\n"
        "processor:\n  event_types: [transfer, fee]\nsink:\n  partition_by: [date, hour]\n",
    )
    monkeypatch.setenv("STELLAR_ARROW_SOURCE__END_LEDGER", "63092995")
    monkeypatch.setenv("STELLAR_ARROW_SINK__PARQUET_COMPRESSION", "snappy")
    s = load_settings(path, sink={"output_dir": "elsewhere"})
    assert s.source.start_ledger == 63092982  # YAML
    assert s.source.end_ledger == 63092995  # env beats YAML
    assert s.source.network_passphrase == PUBNET  # alias resolved
    assert s.processor.event_types == ("transfer", "fee")
    assert s.sink.partition_by == ("date", "hour")
    assert s.sink.parquet_compression == "snappy"
    assert s.sink.output_dir == "elsewhere"  # explicit override beats everything


@pytest.mark.parametrize(
    ("yaml_text", "key"),
    [
        ("source:\n  start_ledger: 1\n", "source.start_ledger"),
        ("source:\n  start_ledger: ten\n", "source.start_ledger"),
        ("source:\n  flight_port: 70000\n", "source.flight_port"),
        ("source:\n  source_type: captive\n", "source.source_type"),
        ("source:\n  network_passphrase: Public Network; September 2015\n", "source.network_passphrase"),
        ("source:\n  rpc_endpoint: horizon.stellar.org\n", "source.rpc_endpoint"),
        ("source:\n  batch_size: 0\n", "source.batch_size"),
        ("source:\n  bucket: x\n", "source.bucket"),
        ("processor:\n  event_types: [payment]\n", "processor.event_types"),
        ("processor:\n  source_endpoint: localhost:8815\n", "processor.source_endpoint"),
        ("sink:\n  partition_by: [minute]\n", "sink.partition_by.0"),
        ("sink:\n  parquet_compression: xz\n", "sink.parquet_compression"),
        ("sink:\n  tables: [trades]\n", "sink.tables"),
        ("api:\n  health_port: 8088\n", "api.health_port"),  # removed: it never served anything
        ("api:\n  ws_message_rate: 0\n", "api.ws_message_rate"),
        ("export:\n  workers: 100000\n", "export.workers"),
        ("export:\n  format: xml\n", "export.format"),
        ("export:\n  chunk_size: 0\n", "export.chunk_size"),
        ("export:\n  tables: []\n", "export.tables"),
        ("verify:\n  mode: sideways\n", "verify.mode"),
        ("replay:\n  port: -1\n", "replay.port"),
        ("source:\n  end_ledger: 4294967296\n", "source.end_ledger"),
        ("source:\n  source_type: file\n", "source"),
        ("api:\n  api_port: 70000\n", "api.api_port"),
        ("api:\n  websocket_port: 8080\n", "api.websocket_port"),
        ("sources:\n  start_ledger: 5\n", "sources"),
    ],
)
def test_invalid_yaml_names_the_key(tmp_path: Path, yaml_text: str, key: str) -> None:
    with pytest.raises(ConfigError) as info:
        load_settings(_yaml(tmp_path, yaml_text))
    assert info.value.key == key
    assert key in str(info.value)
    assert str(tmp_path) in str(info.value)


def test_cross_field_rules(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"rpc_endpoint .*is required"):
        load_settings(_yaml(tmp_path, "source:\n  source_type: rpc\n"))
    with pytest.raises(ConfigError, match="end_ledger 5 is before start_ledger 9"):
        load_settings(source={"start_ledger": 9, "end_ledger": 5})
    with pytest.raises(ConfigError, match="live: true"):
        load_settings(source={"live": True, "end_ledger": 5})


def test_bad_env_value_names_the_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLAR_ARROW_PROCESSOR__FLIGHT_PORT", "eighty")
    with pytest.raises(ConfigError) as info:
        load_settings()
    assert info.value.key == "processor.flight_port"


def test_file_problems(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist") as info:
        load_settings(tmp_path / "missing.yaml")
    assert info.value.key == "config"
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_settings(_yaml(tmp_path, "source: [unclosed\n"))
    with pytest.raises(ConfigError, match="mapping of sections"):
        load_settings(_yaml(tmp_path, "- a\n- b\n"))


def test_every_alias_maps_to_a_known_passphrase() -> None:
    for alias, passphrase in NETWORK_PASSPHRASES.items():
        assert load_settings(source={"network_passphrase": alias}).source.network_passphrase == passphrase


def test_every_command_section_reads_env_and_flag_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("STELLAR_ARROW_API__WS_MAX_CONNECTIONS", "3")
    monkeypatch.setenv("STELLAR_ARROW_EXPORT__CHUNK_SIZE", "7")
    monkeypatch.setenv("STELLAR_ARROW_VERIFY__MODE", "both")
    s = load_settings(export={"chunk_size": None, "workers": 1}, replay={"port": 0}, verify={"strict": None})
    assert s.api.ws_max_connections == 3  # reaches the WebSocket hub (create_app builds HubLimits from it)
    assert (s.export.chunk_size, s.export.workers) == (7, 1)  # an absent flag (None) overrides nothing
    assert (s.verify.mode, s.verify.strict, s.replay.port) == ("both", False, 0)
    monkeypatch.setenv("STELLAR_ARROW_EXPORT__WORKERS", "100000")
    with pytest.raises(ConfigError, match="at most 4 per CPU") as info:
        load_settings()
    assert info.value.key == "export.workers"
