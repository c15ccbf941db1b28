"""The deployment files (Dockerfile, deploy/compose.yaml, deploy/k8s/) are valid and agree with the project.

No container engine runs here, so the files are checked instead: the compose file against the Compose
Specification schema bundled in check-jsonschema, every Kubernetes manifest against the Kubernetes
schemas bundled in kubernetes-validate (strict), the Dockerfile with hadolint; then every command, port,
path and config key they name is checked against the project itself.
"""

from __future__ import annotations

import json
import re
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

import click
import jsonschema
import kubernetes_validate
import pytest
import typer.main
import yaml

from stellar_arrow.cli import app
from stellar_arrow.config import Settings, load_settings

ROOT = Path(__file__).resolve().parents[3]
DEPLOY = ROOT / "deploy"
K8S = DEPLOY / "k8s"
COMPONENTS = {"source": "source", "processor": "processor", "sink": "sink"}
HEALTH_PORTS = {"source": 8088, "processor": 8089, "sink": 8090}


def _docs(path: Path) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if d]


def _k8s_docs() -> list[tuple[Path, dict[str, Any]]]:
    return [
        (path, doc)
        for path in sorted(K8S.glob("*.yaml"))
        if path.name != "kustomization.yaml"
        for doc in _docs(path)
    ]


def _settings() -> Settings:
    return load_settings(DEPLOY / "config" / "pipeline.yaml")


def _parse_cli(args: list[str]) -> Any:
    """Parse ``stellar-arrow ARGS`` exactly as the entry point would, without running the command."""
    group: Any = typer.main.get_command(app)
    root = group.make_context("stellar-arrow", list(args))
    name, command, rest = group.resolve_command(root, list(args))
    assert command is not None, f"stellar-arrow has no command {name!r}"
    return command.make_context(name, rest, parent=root)


def _parse_dask(args: list[str]) -> click.Context:
    from distributed.cli import dask_scheduler, dask_worker

    commands: dict[str, click.Command] = {"scheduler": dask_scheduler.main, "worker": dask_worker.main}
    assert args[0] == "dask" and args[1] in commands, f"unknown dask command {args}"
    return commands[args[1]].make_context(f"dask {args[1]}", list(args[2:]))


# --- schemas -----------------------------------------------------------------------------------------


def test_compose_file_matches_the_compose_specification() -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    jsonschema.validators.validator_for(schema)(schema).validate(compose)


def test_a_broken_compose_file_is_refused_by_the_schema() -> None:
    schema_file = resources.files("check_jsonschema.builtin_schemas.vendor") / "compose-spec.json"
    schema = json.loads(schema_file.read_text(encoding="utf-8"))
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    compose["services"]["source"]["ports"] = {"not": "a list"}
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validators.validator_for(schema)(schema).validate(compose)


@pytest.mark.parametrize("path", sorted(p.name for p in K8S.glob("*.yaml") if p.name != "kustomization.yaml"))
def test_kubernetes_manifests_match_the_kubernetes_schemas(path: str) -> None:
    for doc in _docs(K8S / path):
        kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_a_broken_manifest_is_refused_by_the_schema() -> None:
    doc = _docs(K8S / "source.yaml")[0]
    doc["spec"]["template"]["spec"]["containers"][0]["livenessProbe"]["httpGet"]["port"] = {"x": 1}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, "1.37.0", strict=True)


def test_dockerfile_passes_hadolint() -> None:
    hadolint = shutil.which("hadolint") or str(Path(sys.executable).parent / "hadolint")
    import subprocess

    done = subprocess.run(
        [hadolint, "--failure-threshold", "info", str(ROOT / "Dockerfile")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stdout + done.stderr


# --- the files agree with the project -----------------------------------------------------------------


def test_every_path_the_dockerfile_copies_exists_and_is_not_ignored() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    copies = re.findall(r"^COPY (?:--chown=\S+ )?(?!--from)(.+) \S+$", dockerfile, re.M)
    sources = [s for line in copies for s in line.split()]
    assert "data/lakes/pubnet-p26" in sources and "src" in sources
    for source in sources:
        assert (ROOT / source).exists(), source
        assert source not in ignored, f"{source} is copied but excluded by .dockerignore"
    assert "!data/lakes/pubnet-p26" in ignored, "the sample lake must reach the image for an offline `run`"


def test_dockerfile_runs_as_non_root_with_a_liveness_healthcheck() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert dockerfile.count("\nFROM ") + dockerfile.startswith("FROM ") >= 2, "multi-stage"
    assert re.search(r"^FROM python:[\d.]+-slim", dockerfile, re.M)
    user = re.findall(r"^USER (\S+)", dockerfile, re.M)
    assert user and user[-1].split(":")[0] not in ("root", "0")
    assert "/health/live" in dockerfile.split("HEALTHCHECK", 1)[1]
    assert 'ENTRYPOINT ["stellar-arrow"]' in dockerfile and 'CMD ["run"]' in dockerfile
    _parse_cli(["run"])
    exposed = {int(p) for p in re.findall(r"^EXPOSE (.+)$", dockerfile, re.M)[0].split()}
    settings = Settings()
    assert {
        settings.source.flight_port,
        settings.processor.flight_port,
        settings.sink.flight_port,
        settings.api.api_port,
        *HEALTH_PORTS.values(),
    } <= exposed


def test_deploy_config_loads_and_names_the_compose_and_kubernetes_services() -> None:
    settings = _settings()
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    names = set(compose["services"])
    k8s_services = {d["metadata"]["name"] for _, d in _k8s_docs() if d["kind"] == "Service"}
    for endpoint in (
        settings.processor.source_endpoint,
        settings.sink.processor_endpoint,
        settings.sink.source_endpoint,
    ):
        host, port = endpoint.removeprefix("grpc://").split(":")
        assert host in names and host in k8s_services, endpoint
        assert int(port) == getattr(settings, host).flight_port, endpoint
    from stellar_arrow.security.policy import check_bind

    for role in COMPONENTS:
        assert getattr(settings, role).host == "0.0.0.0", f"{role} must listen beyond loopback in a container"
        check_bind(getattr(settings, role).host, settings.security, what=role, key=f"{role}.host")  # starts


def test_the_configmap_holds_the_same_settings_as_the_compose_config() -> None:
    (configmap,) = _docs(K8S / "configmap.yaml")
    assert yaml.safe_load(configmap["data"]["pipeline.yaml"]) == yaml.safe_load(
        (DEPLOY / "config" / "pipeline.yaml").read_text(encoding="utf-8")
    )


def test_compose_commands_ports_and_mounts_exist_in_the_project() -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    settings = _settings()
    for role in COMPONENTS:
        service = compose["services"][role]
        ctx = _parse_cli(service["command"])
        assert ctx.params["role"] == role
        config = Path(ctx.params["config"])
        mounts = {v.split(":")[1]: v.split(":")[0] for v in service["volumes"]}
        host_dir = mounts[str(config.parent)]
        assert (DEPLOY / host_dir / config.name).is_file()
        published = {int(p.split(":")[-1]) for p in service["ports"]}
        assert getattr(settings, role).flight_port in published
        health = getattr(settings, role).health_port
        assert health == HEALTH_PORTS[role] and health in published
        assert service["environment"]["HEALTH_PORT"] == str(health)
    assert settings.api.api_port in {int(p.split(":")[-1]) for p in compose["services"]["sink"]["ports"]}
    sink_data = next(v for v in compose["services"]["sink"]["volumes"] if v.startswith("sink-data:"))
    assert sink_data.split(":")[1] == settings.sink.output_dir


def test_prometheus_and_grafana_files_exist_and_target_the_health_ports() -> None:
    prometheus = yaml.safe_load(
        (DEPLOY / "prometheus" / "prometheus-compose.yml").read_text(encoding="utf-8")
    )
    targets = {
        t for job in prometheus["scrape_configs"] for sc in job["static_configs"] for t in sc["targets"]
    }
    settings = _settings()
    assert targets == {f"{role}:{getattr(settings, role).health_port}" for role in COMPONENTS}
    for rule_file in prometheus["rule_files"]:
        assert (DEPLOY / "prometheus" / rule_file).is_file(), rule_file
    command = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))["services"]["prometheus"]
    config_arg = next(a for a in command["command"] if a.startswith("--config.file="))
    assert (DEPLOY / "prometheus" / Path(config_arg.split("=", 1)[1]).name).is_file()
    dashboards = list((DEPLOY / "grafana" / "dashboards").glob("*.json"))
    assert dashboards, "a Grafana dashboard JSON"
    for dashboard in dashboards:
        assert json.loads(dashboard.read_text(encoding="utf-8"))["panels"]


def test_kubernetes_deployments_run_real_commands_with_probes_and_resources() -> None:
    settings = _settings()
    deployments = {d["metadata"]["name"]: d for _, d in _k8s_docs() if d["kind"] == "Deployment"}
    for role in COMPONENTS:
        (container,) = deployments[role]["spec"]["template"]["spec"]["containers"]
        ctx = _parse_cli(container["args"])
        assert ctx.params["role"] == role
        assert Path(ctx.params["config"]).parent.as_posix() in {
            m["mountPath"] for m in container["volumeMounts"]
        }
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        assert ports["flight"] == getattr(settings, role).flight_port
        assert ports["health"] == HEALTH_PORTS[role] == getattr(settings, role).health_port
        assert container["livenessProbe"]["httpGet"]["path"] == "/health/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/health/ready"
        assert container["resources"] == {
            "requests": {"memory": "1Gi", "cpu": "500m"},
            "limits": {"memory": "2Gi", "cpu": "1000m"},
        }
    (sink,) = deployments["sink"]["spec"]["template"]["spec"]["containers"]
    assert {p["containerPort"] for p in sink["ports"]} >= {settings.api.api_port}
    claims = {d["metadata"]["name"] for _, d in _k8s_docs() if d["kind"] == "PersistentVolumeClaim"}
    assert "sink-data" in claims


def test_dask_and_backfill_commands_parse() -> None:
    deployments = {d["metadata"]["name"]: d for _, d in _k8s_docs() if d["kind"] == "Deployment"}
    for name in ("dask-scheduler", "dask-worker"):
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        _parse_dask(container["command"])
    (job,) = _docs(K8S / "backfill-job.yaml")
    (container,) = job["spec"]["template"]["spec"]["containers"]
    ctx = _parse_cli(container["args"])
    assert ctx.params["scheduler"] == "tcp://dask-scheduler:8786"


def test_kustomization_lists_every_manifest() -> None:
    kustomization = yaml.safe_load((K8S / "kustomization.yaml").read_text(encoding="utf-8"))
    listed = set(kustomization["resources"])
    on_disk = {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml", "backfill-job.yaml"}
    assert listed == on_disk


def test_secrets_hold_placeholders_only() -> None:
    for _, doc in _k8s_docs():
        if doc["kind"] != "Secret":
            continue
        for key, value in doc.get("stringData", {}).items():
            assert value.startswith("REPLACE-ME"), f"{doc['metadata']['name']}.{key} must be a placeholder"
            assert "PRIVATE KEY" not in value and "BEGIN" not in value
        assert "data" not in doc
