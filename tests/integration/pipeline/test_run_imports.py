"""``run`` and ``serve`` start without the libraries their way does not need.

stellar-sdk (0.86 s of imports; strkeys come from ``xdr/strkey.py``), sqlglot and DuckDB (loaded by the
first filter expression or query), PyJWT and cryptography (by the first JWT or client certificate) and
rich (structlog's optional tracebacks). Every process of a 1-ledger run reports, at exit, which of them
it had loaded: a ``sitecustomize`` on ``PYTHONPATH`` (inherited by the supervised ``serve`` children)
registers the report.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.pipeline.conftest import FIRST, write_config

pytestmark = pytest.mark.integration

NOT_LOADED = ("stellar_sdk", "sqlglot", "duckdb", "jwt", "cryptography", "rich")

SITECUSTOMIZE = f"""
import atexit, json, os, sys

def _report():
    if sys.argv[1:2] not in (["run"], ["serve"]) or "stellar_arrow.cli" not in sys.modules:
        return
    loaded = sorted(m for m in {NOT_LOADED!r} if m in sys.modules)
    path = os.path.join(os.environ["IMPORTS_REPORT_DIR"], f"{{os.getpid()}}.json")
    with open(path, "w") as out:
        json.dump({{"argv": sys.argv[1:3], "loaded": loaded}}, out)

atexit.register(_report)
"""


@pytest.mark.parametrize("processes", ["one", "separate"])
def test_run_and_serve_do_not_load_what_they_do_not_use(
    tmp_path: Path, sample_lake: Path, repo_root: Path, processes: str
) -> None:
    hook = tmp_path / "hook"
    hook.mkdir()
    (hook / "sitecustomize.py").write_text(SITECUSTOMIZE, encoding="utf-8")
    reports = tmp_path / "reports"
    reports.mkdir()
    config = write_config(
        tmp_path / "pipeline.yaml",
        {
            "source": {
                "flight_port": 0,
                "datalake_uri": str(sample_lake),
                "start_ledger": FIRST,
                "end_ledger": FIRST,
            },
            "processor": {"flight_port": 0},
            "sink": {"flight_port": 0},
            "api": {"api_port": 0},
            "pipeline": {"processes": processes},
        },
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
    env.update(
        GRPC_VERBOSITY="ERROR",
        IMPORTS_REPORT_DIR=str(reports),
        PYTHONPATH=os.pathsep.join(filter(None, [str(hook), env.get("PYTHONPATH")])),
    )
    command = [sys.executable, "-c", "from stellar_arrow.cli import main; main()", "run"]
    command += ["--config", str(config), "--out", str(tmp_path / "out"), "--exit-when-done"]
    done = subprocess.run(command, cwd=repo_root, env=env, capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr
    assert f"ledgers {FIRST}..{FIRST} committed" in done.stdout
    found = [json.loads(p.read_text()) for p in sorted(reports.iterdir())]
    commands = sorted(" ".join(r["argv"]) for r in found)
    services = [] if processes == "one" else [f"serve {role}" for role in ("processor", "sink", "source")]
    expected = ["run --config", *services]
    assert commands == expected, found
    assert all(r["loaded"] == [] for r in found), found
