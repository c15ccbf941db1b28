"""deploy/: promtool accepts the alert rules, and a real Prometheus scrapes the three services of a run.

The Prometheus server (Debian's ``prometheus``, installed by ``scripts/test``) runs on loopback with a
1 s scrape interval against the health ports of the source, processor and sink processes of a bounded
run over the sample lake; ``ledgers_processed_total`` must equal the 20 ledgers of the run for each
component, and every expression of the Grafana dashboard must be a valid query.
"""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from stellar_arrow.config import load_settings
from stellar_arrow.pipeline.supervisor import ROLES, Supervisor

pytestmark = [pytest.mark.integration, pytest.mark.xdist_group("prometheus")]
REPO = Path(__file__).resolve().parents[3]
DEPLOY = REPO / "deploy"
FIRST, LAST = 63092982, 63093001


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: scripts/test installs Debian's prometheus package")
    return path


def test_promtool_accepts_the_alert_rules_and_config() -> None:
    rules = subprocess.run(
        [_tool("promtool"), "check", "rules", str(DEPLOY / "prometheus" / "alerts.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert rules.returncode == 0, rules.stdout + rules.stderr
    assert "SUCCESS: 7 rules found" in rules.stdout
    config = subprocess.run(
        [_tool("promtool"), "check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert config.returncode == 0, config.stdout + config.stderr


def _get(url: str, timeout: float = 5.0) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as reply:
            return reply.status, reply.read()
    except urllib.error.HTTPError as err:
        return err.code, err.read()


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory: pytest.TempPathFactory, data_dir: Path) -> Iterator[Supervisor]:
    out = tmp_path_factory.mktemp("run")
    ports = {"flight_port": 0, "health_port": 0}
    settings = load_settings(
        source={
            **ports,
            "datalake_uri": str(data_dir / "lakes" / "pubnet-p26"),
            "start_ledger": FIRST,
            "end_ledger": LAST,
        },
        processor=ports,
        sink={**ports, "output_dir": str(out)},
        api={"api_port": 0},
    )
    supervisor = Supervisor(settings, out / "_run")
    try:
        supervisor.start()
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            status = supervisor.sink_status()
            if status is not None and (status.get("done") or status.get("failed")):
                break
            time.sleep(0.2)
        assert status is not None and status.get("done"), status
        yield supervisor
    finally:
        supervisor.stop()


def test_health_endpoints_of_every_service(finished_run: Supervisor) -> None:
    for role in ROLES:
        url = finished_run.children[role].health_url
        assert url is not None, role
        code, body = _get(f"{url}/health/live")
        assert code == 200 and json.loads(body) == {"component": role, "live": True}
        deadline = time.monotonic() + 20
        while (answer := _get(f"{url}/health/ready"))[0] != 200 and time.monotonic() < deadline:
            time.sleep(0.2)
        assert answer[0] == 200, (role, answer)
        code, body = _get(f"{url}/health")
        assert code == 200 and json.loads(body)["status"] == "healthy"
        code, body = _get(f"{url}/metrics")
        assert code == 200 and b"ledgers_processed_total" in body and b"process_resident_memory_bytes" in body
        assert _get(f"{url}/nope")[0] == 404


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _query(base: str, expr: str) -> dict[str, Any]:
    code, body = _get(f"{base}/api/v1/query?{urllib.parse.urlencode({'query': expr})}")
    answer: dict[str, Any] = json.loads(body)
    assert code == 200 and answer["status"] == "success", (expr, answer)
    return answer


def test_prometheus_scrapes_the_ledgers_processed(finished_run: Supervisor, tmp_path: Path) -> None:
    jobs = {
        f"stellar-arrow-{role}": [finished_run.children[role].health_url.removeprefix("http://")]  # type: ignore[union-attr]
        for role in ROLES
    }
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(DEPLOY / "prometheus" / "alerts.yml")],
        "scrape_configs": [
            {"job_name": job, "static_configs": [{"targets": targets}]} for job, targets in jobs.items()
        ],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    cmd = [
        _tool("prometheus"),
        f"--config.file={tmp_path / 'prometheus.yml'}",
        f"--storage.tsdb.path={tmp_path / 'tsdb'}",
        f"--web.listen-address=127.0.0.1:{port}",
    ]
    with (tmp_path / "prometheus.log").open("wb") as log:
        server = subprocess.Popen(cmd, stdout=log, stderr=log)
    try:
        deadline = time.monotonic() + 60
        counts: dict[str, float] = {}
        while time.monotonic() < deadline:
            try:
                result = _query(base, 'sum by (job) (ledgers_processed_total{status="ok"})')["data"]["result"]
            except (OSError, json.JSONDecodeError):
                result = []
            counts = {r["metric"]["job"]: float(r["value"][1]) for r in result}
            if len(counts) == 3:
                break
            time.sleep(0.5)
        assert counts == {job: float(LAST - FIRST + 1) for job in jobs}, (
            tmp_path / "prometheus.log"
        ).read_text()
        up = _query(base, "up")["data"]["result"]
        assert {r["metric"]["job"]: r["value"][1] for r in up} == dict.fromkeys(jobs, "1")
        dashboard = json.loads(
            (DEPLOY / "grafana" / "dashboards" / "stellar-arrow-overview.json").read_text()
        )
        for panel in dashboard["panels"]:
            for target in panel["targets"]:
                _query(base, target["expr"])  # every dashboard query is valid PromQL
    finally:
        server.terminate()
        server.wait(timeout=20)
