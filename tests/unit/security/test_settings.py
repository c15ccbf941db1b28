"""The ``security`` settings section, the bind rule and the ``keys`` command."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from typer.testing import CliRunner

from stellar_arrow.cli import app
from stellar_arrow.config import load_settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.security import ApiKeyStore, build_authenticator, check_bind
from stellar_arrow.security.keystore import looks_like_api_key
from tests.security_kit import JWT_SECRET


def test_security_is_off_by_default() -> None:
    security = load_settings().security
    assert not security.auth_enabled and not security.tls_enabled and not security.allow_insecure
    assert security.allowed_hosts == ("127.0.0.1", "localhost", "::1") and security.cors_origins == ()
    assert not build_authenticator(security).enabled


def test_secrets_are_masked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "p.yaml"
    config.write_text("security:\n  auth_enabled: true\n  jwt_issuer: i\n  jwt_audience: a\n")
    monkeypatch.setenv("STELLAR_ARROW_SECURITY__JWT_SECRET", JWT_SECRET)
    settings = load_settings(config)
    assert settings.security.jwt_secret is not None
    assert settings.security.jwt_secret.get_secret_value() == JWT_SECRET
    for text in (repr(settings), str(settings), settings.model_dump_json()):
        assert JWT_SECRET not in text
    assert build_authenticator(settings.security).jwt is not None


@pytest.mark.parametrize(
    ("section", "key", "match"),
    [
        ({"tls_enabled": True}, "security", "cert_file and key_file"),
        ({"client_ca_file": "ca.crt"}, "security", "needs tls_enabled"),
        ({"jwt_secret": JWT_SECRET}, "security", "jwt_issuer and jwt_audience"),
        ({"cors_origins": ["*"]}, "security.cors_origins", "no '\\*'"),
        ({"cors_origins": ["https://a.example/"]}, "security.cors_origins", "trailing slash"),
        ({"mtls_roles": ["root"]}, "security.mtls_roles.0", "admin"),
        ({"rate_limit_per_ip_rps": 0}, "security.rate_limit_per_ip_rps", "greater than 0"),
        ({"ws_max_message_bytes": 10}, "security.ws_max_message_bytes", "256"),
        ({"bogus": 1}, "security.bogus", "Extra inputs"),
    ],
)
def test_invalid_settings_name_the_key(section: dict[str, object], key: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as err:
        load_settings(security=section)
    assert err.value.key == key
    assert JWT_SECRET not in str(err.value)


def test_bind_rule(caplog: pytest.LogCaptureFixture) -> None:
    off = load_settings().security
    for host in ("127.0.0.1", "localhost", "::1", "[::1]", "127.0.0.2"):
        check_bind(host, off, what="api", key="api.host")
    for host in ("0.0.0.0", "::", "192.0.2.7", "example.org"):
        with pytest.raises(ConfigError, match="without authentication") as err:
            check_bind(host, off, what="the sink's API", key="api.host")
        assert err.value.key == "api.host"
    insecure = load_settings(security={"allow_insecure": True}).security
    with caplog.at_level(logging.WARNING):
        check_bind("0.0.0.0", insecure, what="source", key="source.host")
    assert "WITHOUT authentication" in caplog.text
    check_bind("0.0.0.0", load_settings(security={"auth_enabled": True}).security, what="x", key="k")


def test_keys_commands(tmp_path: Path) -> None:
    config = tmp_path / "p.yaml"
    store_path = tmp_path / "data" / "keys.db"
    config.write_text(f"security:\n  api_keys_file: {store_path}\n")
    runner = CliRunner()
    created = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--id",
            "reader-001",
            "--role",
            "reader",
            "--description",
            "dash",
            "--expires-in",
            "90d",
            "--config",
            str(config),
        ],
    )
    assert created.exit_code == 0, created.output
    key = created.output.strip().splitlines()[-1]
    assert looks_like_api_key(key)
    assert ApiKeyStore(store_path).authenticate(key).key_id == "reader-001"
    second = runner.invoke(
        app,
        [
            "keys",
            "create",
            "--id",
            "proc-1",
            "--role",
            "processor",
            "--role",
            "reader",
            "--store",
            str(store_path),
        ],
    )
    assert second.exit_code == 0
    listed = runner.invoke(app, ["keys", "list", "--config", str(config)])
    assert listed.exit_code == 0
    assert (
        "reader-001\treader\tactive" in listed.output and "proc-1\tprocessor,reader\tactive" in listed.output
    )
    assert key not in listed.output and second.output.strip().splitlines()[-1] not in listed.output
    revoked = runner.invoke(app, ["keys", "revoke", "reader-001", "--config", str(config)])
    assert revoked.exit_code == 0 and "revoked API key reader-001" in revoked.output
    assert (
        "reader-001\treader\trevoked"
        in runner.invoke(app, ["keys", "list", "--store", str(store_path)]).output
    )
    for args, match in (
        (["keys", "revoke", "nobody", "--store", str(store_path)], "no API key with id 'nobody'"),
        (
            ["keys", "create", "--id", "proc-1", "--role", "reader", "--store", str(store_path)],
            "already exists",
        ),
        (["keys", "create", "--id", "x", "--role", "root", "--store", str(store_path)], "unknown role"),
        (
            [
                "keys",
                "create",
                "--id",
                "y",
                "--role",
                "reader",
                "--expires-in",
                "1w",
                "--store",
                str(store_path),
            ],
            "duration",
        ),
    ):
        result = runner.invoke(app, args)
        assert result.exit_code == 2 and match in result.output, result.output


def test_readme_secure_config_is_valid(tmp_path: Path) -> None:
    import re

    from tests.conftest import REPO

    text = (REPO / "README.md").read_text()
    section = text.split("## Running securely", 1)[1].split("\n## ", 1)[0]
    (block,) = re.findall(r"```yaml\n(.*?)```", section, flags=re.S)
    (tmp_path / "secure.yaml").write_text(block)
    settings = load_settings(tmp_path / "secure.yaml")
    security = settings.security
    assert security.auth_enabled and security.tls_enabled and security.client_ca_file == "certs/ca.crt"
    assert security.rate_limit_enabled and security.cors_origins == ("https://dashboard.example.org",)
    assert settings.processor.source_endpoint.startswith("grpc+tls://")
    check_bind(settings.api.host, security, what="api", key="api.host")  # auth on: 0.0.0.0 is allowed
