"""The whole pipeline as real processes with TLS + mutual TLS + authentication on: same tables as a plain run.

The service key (role ``processor``) reaches the run by environment only; the supervisor hands it to
the three services by environment too (never in the effective ``pipeline.yaml``). Every log, the
effective config and the command's output are searched for the secrets afterwards.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from stellar_arrow.security import ApiKeyStore
from tests.security_kit import JWT_SECRET, CertificateAuthority

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-c", "from stellar_arrow.cli import main; main()"]


def test_run_with_tls_mtls_and_auth_equals_the_plain_tables(
    tmp_path: Path, repo_root: Path, kit: Any, expected_tables: dict[str, pa.Table]
) -> None:
    ca = CertificateAuthority("pipeline-ca")
    cert, key = ca.issue("stellar-arrow-service").write(tmp_path, "service")
    (tmp_path / "ca.crt").write_bytes(ca.pem)
    store = ApiKeyStore(tmp_path / "keys.db")
    _, service_key = store.create("pipeline-processor", ["processor"])
    out = tmp_path / "out"
    config = kit.write_config(
        tmp_path / "secure.yaml",
        {
            "source": {"datalake_uri": str(kit.sample_lake), "flight_port": 0},
            "processor": {"flight_port": 0},
            "sink": {"flight_port": 0, "output_dir": str(out)},
            "api": {"api_port": 0},
            "security": {
                "auth_enabled": True,
                "api_keys_file": str(tmp_path / "keys.db"),
                "jwt_issuer": "https://issuer.test",
                "jwt_audience": "stellar-arrow",
                "tls_enabled": True,
                "cert_file": str(cert),
                "key_file": str(key),
                "client_ca_file": str(tmp_path / "ca.crt"),
            },
        },
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
    env.update(
        GRPC_VERBOSITY="ERROR",
        STELLAR_ARROW_SECURITY__SERVICE_API_KEY=service_key,
        STELLAR_ARROW_SECURITY__JWT_SECRET=JWT_SECRET,
    )
    proc = subprocess.run(
        [*CLI, "run", "--exit-when-done", "--config", str(config)],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "grpc+tls://127.0.0.1:" in proc.stdout and "https://127.0.0.1:" in proc.stdout
    kit.assert_same_tables(kit.read_output(out), expected_tables)
    effective = (out / "_run" / "pipeline.yaml").read_text()
    assert "service_api_key" not in effective and "jwt_secret" not in effective
    texts = [
        proc.stdout,
        proc.stderr,
        effective,
        *(p.read_text(errors="replace") for p in (out / "_run").glob("*")),
    ]
    private_key = "".join(key.read_text().splitlines()[1:-1])[:64]  # base64 body of the PEM
    for text in texts:
        assert service_key not in text and JWT_SECRET not in text and ca.pem.decode()[40:80] not in text
        assert private_key not in text  # the services' TLS private key
    assert any(r.key_id == "pipeline-processor" for r in store.records())


def test_a_wrong_service_key_fails_the_run_clearly(tmp_path: Path, repo_root: Path, kit: Any) -> None:
    ApiKeyStore(tmp_path / "keys.db").create("someone", ["reader"])
    config = kit.write_config(
        tmp_path / "secure.yaml",
        {
            "source": {
                "datalake_uri": str(kit.sample_lake),
                "flight_port": 0,
                "end_ledger": kit.first + 1,
                "start_ledger": kit.first,
            },
            "processor": {"flight_port": 0},
            "sink": {"flight_port": 0, "output_dir": str(tmp_path / "out")},
            "api": {"api_port": 0},
            "security": {"auth_enabled": True, "api_keys_file": str(tmp_path / "keys.db")},
        },
    )
    wrong = "sa_" + "W" * 43
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
    env.update(GRPC_VERBOSITY="ERROR", STELLAR_ARROW_SECURITY__SERVICE_API_KEY=wrong)
    proc = subprocess.run(
        [*CLI, "run", "--exit-when-done", "--config", str(config)],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    combined = proc.stdout + proc.stderr
    assert "refused this run's credential (security.service_api_key)" in proc.stderr, combined[-2000:]
    assert "API key is not known" in proc.stderr
    assert wrong not in combined
