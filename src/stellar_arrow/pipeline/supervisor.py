"""Running the three services as child processes, and restarting any that dies.

The :class:`Supervisor` writes the effective settings to ``<run_dir>/pipeline.yaml`` (ports learned at
first start are pinned there, so a restarted service comes back at the same address), starts source,
processor and sink in that order with ``stellar-arrow serve <role>``, and waits for each one's ready
file (the sink's also gives its HTTP API address, pinned the same way). :meth:`Supervisor.poll`
restarts any child that exited without being asked to; the restarted stage resumes from the sink's
checkpoint (the sink re-requests after its checkpoint, and every upstream reconnects and continues
after the last ledger it delivered).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.flight as fl
import yaml

from stellar_arrow.config import Settings
from stellar_arrow.errors import ConfigError, ExitStatus, SupervisorError
from stellar_arrow.pipeline.serve import Role, settle_settings_network
from stellar_arrow.security.flight import FlightClientSecurity
from stellar_arrow.security.policy import SECRET_KEYS, secret_environment

__all__ = ["ROLES", "ChildService", "Supervisor", "SupervisorError"]

ROLES: tuple[Role, ...] = ("source", "processor", "sink")
_READY_TIMEOUT_S = 60.0


@dataclass(slots=True)
class ChildService:
    """One service process and what is known about it."""

    role: Role
    ready_file: Path
    log_file: Path
    process: subprocess.Popen[bytes] | None = None
    uri: str | None = None
    port: int = 0
    api_url: str | None = None
    health_url: str | None = None
    starts: int = 0
    stopped: bool = False
    exits: list[int] = field(default_factory=list)

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Starts, watches, restarts and stops the source, processor and sink processes."""

    def __init__(self, settings: Settings, run_dir: Path, *, python: str = sys.executable) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.config_path = self.run_dir / "pipeline.yaml"
        self._python = python
        # the network is settled once, here, so every child (and every restart) gets the same passphrase;
        # secrets are left out of the file and reach the children by environment
        self._doc: dict[str, Any] = settle_settings_network(settings).model_dump(
            mode="json", exclude={"security": set(SECRET_KEYS)}
        )
        self._secret_env = secret_environment(settings.security)
        self._client = FlightClientSecurity.from_settings(settings.security)
        self.children = {
            role: ChildService(role, self.run_dir / f"{role}.ready.json", self.run_dir / f"{role}.log")
            for role in ROLES
        }
        self._stopping = False

    # ------------------------------------------------------------------ lifecycle
    def start(self, roles: tuple[Role, ...] = ROLES) -> None:
        """Start ``roles`` (all three by default) in pipeline order."""
        for role in ROLES:
            if role in roles:
                self._launch(self.children[role])

    def _write_config(self) -> None:
        tmp = self.config_path.with_name(self.config_path.name + ".tmp")
        tmp.write_text(yaml.safe_dump(self._doc, sort_keys=False), encoding="utf-8")
        os.replace(tmp, self.config_path)

    def _launch(self, child: ChildService) -> None:
        self._doc[child.role]["flight_port"] = child.port
        self._write_config()
        child.ready_file.unlink(missing_ok=True)
        env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
        env.setdefault("GRPC_VERBOSITY", "ERROR")
        env.update(self._secret_env)
        cmd = [
            self._python,
            "-c",
            "from stellar_arrow.cli import main; main()",
            "serve",
            child.role,
            "--config",
            str(self.config_path),
            "--ready-file",
            str(child.ready_file),
        ]
        with child.log_file.open("ab") as log:
            child.process = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, start_new_session=True)
        child.starts += 1
        ready = self._wait_ready(child)
        child.uri, child.port = ready["uri"], int(ready["port"])
        child.api_url = ready.get("api_url")
        child.health_url = ready.get("health_url")
        # Pinned like the Flight port so a restart keeps its address, unless any free port was asked for
        # (health_port: 0): a killed service's workers may hold its old port for a moment.
        if child.health_url is not None and self._doc[child.role].get("health_port") != 0:
            self._doc[child.role]["health_port"] = int(child.health_url.rsplit(":", 1)[1])
        if child.role == "source":
            self._doc["processor"]["source_endpoint"] = child.uri
            self._doc["sink"]["source_endpoint"] = child.uri
        elif child.role == "processor":
            self._doc["sink"]["processor_endpoint"] = child.uri
        elif child.api_url is not None:
            self._doc["api"]["api_port"] = int(child.api_url.rsplit(":", 1)[1])
        self._doc[child.role]["flight_port"] = child.port
        self._write_config()

    def _wait_ready(self, child: ChildService) -> dict[str, Any]:
        deadline = time.monotonic() + _READY_TIMEOUT_S
        assert child.process is not None
        while time.monotonic() < deadline:
            if child.ready_file.exists():
                body: dict[str, Any] = json.loads(child.ready_file.read_text(encoding="utf-8"))
                return body
            code = child.process.poll()
            if code is not None:
                tail = _tail(child.log_file)
                msg = f"{child.role} service exited with code {code} before it was ready:\n{tail}"
                if code == ExitStatus.USAGE:  # its settings are wrong: retrying cannot help
                    raise ConfigError(msg, key=child.role)
                raise SupervisorError(msg)
            time.sleep(0.02)
        msg = f"{child.role} service not ready within {_READY_TIMEOUT_S:.0f} s (log: {child.log_file})"
        raise SupervisorError(msg)

    def poll(self) -> list[Role]:
        """Restart every child that exited on its own; return the roles restarted."""
        restarted: list[Role] = []
        if self._stopping:
            return restarted
        for role in ROLES:
            child = self.children[role]
            if child.process is not None and child.process.poll() is not None and not child.stopped:
                child.exits.append(child.process.returncode)
                self._launch(child)
                restarted.append(role)
        return restarted

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM every child (sink first, so it commits), then SIGKILL those still running."""
        self._stopping = True
        for role in reversed(ROLES):
            child = self.children[role]
            child.stopped = True
            if child.alive and child.process is not None:
                child.process.send_signal(signal.SIGTERM)
                try:
                    child.process.wait(timeout_s)
                except subprocess.TimeoutExpired:
                    child.process.kill()
                    child.process.wait()

    # ------------------------------------------------------------------ queries
    def action(self, role: Role, name: str, timeout_s: float = 5.0) -> dict[str, Any]:
        """The JSON answer of action ``name`` of ``role``'s service."""
        uri = self.children[role].uri
        if uri is None:
            msg = f"{role} service is not started"
            raise SupervisorError(msg)
        with self._client.connect(uri) as client:
            results = list(client.do_action(fl.Action(name, b""), fl.FlightCallOptions(timeout=timeout_s)))
        body: dict[str, Any] = json.loads(results[0].body.to_pybytes())
        return body

    def sink_status(self) -> dict[str, Any] | None:
        """The sink's status, or None while it is unreachable (e.g. restarting)."""
        try:
            return self.action("sink", "status")
        except (fl.FlightUnauthenticatedError, fl.FlightUnauthorizedError) as exc:
            detail = str(exc).split(". Detail:", 1)[0]
            msg = f"the sink refused this run's credential (security.service_api_key): {detail}"
            raise ConfigError(msg, key="security.service_api_key") from None
        except (fl.FlightError, OSError, SupervisorError):
            return None


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
