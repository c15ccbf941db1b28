"""Running the three services as child processes, and restarting any that dies.

The :class:`Supervisor` writes the effective settings to ``<run_dir>/pipeline.yaml`` (ports learned at
first start are pinned there, so a restarted service comes back at the same address), starts source,
processor and sink in that order with ``stellar-arrow serve <role>``, and waits for each one's ready
file (the sink's also gives its HTTP API address, pinned the same way). :meth:`Supervisor.poll`
restarts any child that exited without being asked to; the restarted stage resumes from the sink's
checkpoint (the sink re-requests after its checkpoint, and every upstream reconnects and continues
after the last ledger it delivered).

Restarts back off exponentially (``pipeline.restart_backoff_initial_s`` doubling up to
``pipeline.restart_backoff_max_s``); after ``pipeline.restart_max`` consecutive crashes (a service up
for ``pipeline.restart_reset_s`` starts counting afresh) :meth:`Supervisor.poll` raises
:class:`SupervisorError` with one line naming the service and its last error. A service whose pinned
Flight port was taken by another process meanwhile comes back on a free port when its port was chosen
for it (``flight_port: 0``, or ``run`` without a config, ``api.port_fallback``), and the services
downstream of it are restarted to reach it there; a port the user set is never changed: the run stops
with a :class:`ConfigError` naming the port.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow.flight as fl
import yaml

from stellar_arrow.config import Settings
from stellar_arrow.errors import ConfigError, ExitStatus, SupervisorError
from stellar_arrow.pipeline.roles import ROLES, Role, settle_settings_network
from stellar_arrow.security.flight import FlightClientSecurity
from stellar_arrow.security.policy import SECRET_KEYS, secret_environment

__all__ = ["ROLES", "ChildService", "Supervisor", "SupervisorError", "credential_refused", "last_error"]

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
    crashes: int = 0  # consecutive crashes (reset once the service stayed up restart_reset_s)
    started_at: float = 0.0
    restart_at: float | None = None  # a restart is scheduled for this time.monotonic()
    last_error: str | None = None
    log_offset: int = 0  # where this start's output begins in log_file

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


class Supervisor:
    """Starts, watches, restarts and stops the source, processor and sink processes."""

    def __init__(
        self,
        settings: Settings,
        run_dir: Path,
        *,
        python: str = sys.executable,
        echo: Callable[[str], None] | None = None,
    ) -> None:
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
        self._clients: dict[Role, tuple[str, fl.FlightClient]] = {}
        self.children = {  # each starts at its configured Flight port (0: a free one), pinned once known
            role: ChildService(
                role,
                self.run_dir / f"{role}.ready.json",
                self.run_dir / f"{role}.log",
                port=getattr(settings, role).flight_port,
            )
            for role in ROLES
        }
        self._stopping = False
        self._policy = settings.pipeline
        self._echo = echo or (lambda line: None)
        # a port chosen for the service (0, or run's demo defaults) may move on restart; a user's may not
        self._may_move = {
            role: settings.api.port_fallback or getattr(settings, role).flight_port == 0 for role in ROLES
        }

    # ------------------------------------------------------------------ lifecycle
    def start(self, roles: tuple[Role, ...] = ROLES) -> None:
        """Start ``roles`` (all three by default) in pipeline order."""
        for role in ROLES:
            if role in roles:
                child = self.children[role]
                try:
                    self._launch(child)
                except ConfigError:
                    host = str(self._doc[role].get("host", "127.0.0.1"))
                    if not (self._may_move[role] and child.port and not _bindable(host, child.port)):
                        raise
                    # its port was taken between the check and the bind, and may move: any free port
                    self._echo(f"{role}'s Flight port {host}:{child.port} was taken; using a free port")
                    child.port = 0
                    self._launch(child)

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
            child.log_offset = log.tell()
            child.process = subprocess.Popen(cmd, stdout=log, stderr=log, env=env, start_new_session=True)
        child.starts += 1
        child.started_at = time.monotonic()
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
                cause = last_error(child.log_file, code, since=child.log_offset)
                msg = (
                    f"{child.role} service exited with code {code} before it was ready: {cause} "
                    f"(log: {child.log_file})"
                )
                if code == ExitStatus.USAGE:  # its settings are wrong: retrying cannot help
                    raise ConfigError(msg, key=child.role)
                raise SupervisorError(msg)
            time.sleep(0.02)
        msg = f"{child.role} service not ready within {_READY_TIMEOUT_S:.0f} s (log: {child.log_file})"
        raise SupervisorError(msg)

    def poll(self) -> list[Role]:
        """Restart (after its backoff) every child that exited on its own; return the roles restarted.

        Raises :class:`SupervisorError` once a child crashed more than ``pipeline.restart_max`` times
        in a row, and :class:`ConfigError` when its Flight port is taken and may not move.
        """
        restarted: list[Role] = []
        if self._stopping:
            return restarted
        now = time.monotonic()
        for role in ROLES:
            child = self.children[role]
            if child.process is None or child.stopped:
                continue
            if child.restart_at is None:
                code = child.process.poll()
                if code is None:
                    if child.crashes and now - child.started_at >= self._policy.restart_reset_s:
                        child.crashes = 0
                    continue
                child.exits.append(code)
                self._crashed(child, now, last_error(child.log_file, code, since=child.log_offset))
            if child.restart_at is not None and now >= child.restart_at:
                child.restart_at = None
                try:
                    self._relaunch(child)
                except SupervisorError as exc:  # died again before it was ready: one more crash
                    self._crashed(child, time.monotonic(), str(exc))
                    continue
                restarted.append(role)
        return restarted

    def _crashed(self, child: ChildService, now: float, error: str) -> None:
        """Count one crash of ``child``; schedule its restart, or stop the run past the limit."""
        policy = self._policy
        if now - child.started_at >= policy.restart_reset_s:
            child.crashes = 0
        child.crashes += 1
        child.last_error = error
        if child.crashes > policy.restart_max:
            msg = (
                f"{child.role} service crashed {child.crashes} times in a row (pipeline.restart_max = "
                f"{policy.restart_max}); last error: {error}"
            )
            if "(log: " not in error:
                msg += f" (log: {child.log_file})"
            raise SupervisorError(msg)
        delay = min(policy.restart_backoff_initial_s * 2 ** (child.crashes - 1), policy.restart_backoff_max_s)
        child.restart_at = now + delay
        self._echo(
            f"{child.role} exited ({error}); restart {child.crashes} of {policy.restart_max} in {delay:.1f} s"
        )

    def _relaunch(self, child: ChildService) -> None:
        """Start ``child`` again at its pinned port, or (if allowed) on a free one when that is taken."""
        host = str(self._doc[child.role].get("host", "127.0.0.1"))
        moved = False
        if child.port and not _bindable(host, child.port):
            where = f"{host}:{child.port}"
            if not self._may_move[child.role]:
                msg = (
                    f"{child.role} service cannot restart: its Flight port {where} is taken by another "
                    f"process (free it, or set {child.role}.flight_port: 0 to let the service move)"
                )
                raise ConfigError(msg, key=f"{child.role}.flight_port")
            self._echo(f"{child.role}'s Flight port {where} is taken by another process; using a free port")
            child.port = 0
            moved = True
        old_uri = child.uri
        self._launch(child)
        if moved and child.uri != old_uri:  # its downstream services must reconnect at the new address
            for role in ROLES[ROLES.index(child.role) + 1 :]:
                self._restart_quietly(self.children[role])

    def _restart_quietly(self, child: ChildService, timeout_s: float = 10.0) -> None:
        """SIGTERM ``child`` (the sink commits first) and start it again with the current settings."""
        if child.stopped or child.process is None:
            return
        if child.process.poll() is None:
            child.process.send_signal(signal.SIGTERM)
            try:
                child.process.wait(timeout_s)
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
        child.restart_at = None
        self._launch(child)

    def stop(self, timeout_s: float = 10.0) -> None:
        """SIGTERM every child (sink first, so it commits), then SIGKILL those still running."""
        self._stopping = True
        for role in ROLES:
            self._drop_client(role)
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
        """The JSON answer of action ``name`` of ``role``'s service.

        One client per service is kept between calls (``run`` asks the sink's status ten times a
        second; a new gRPC channel each time cost more CPU than the answer); it is dropped on any
        error and when the service moved.
        """
        uri = self.children[role].uri
        if uri is None:
            msg = f"{role} service is not started"
            raise SupervisorError(msg)
        cached = self._clients.get(role)
        if cached is None or cached[0] != uri:
            self._drop_client(role)
            cached = self._clients[role] = (uri, self._client.connect(uri))
        try:
            results = list(cached[1].do_action(fl.Action(name, b""), fl.FlightCallOptions(timeout=timeout_s)))
        except BaseException:
            self._drop_client(role)
            raise
        body: dict[str, Any] = json.loads(results[0].body.to_pybytes())
        return body

    def _drop_client(self, role: Role) -> None:
        cached = self._clients.pop(role, None)
        if cached is not None:
            with contextlib.suppress(Exception):
                cached[1].close()

    def sink_status(self) -> dict[str, Any] | None:
        """The sink's status, or None while it is unreachable (e.g. restarting)."""
        try:
            return self.action("sink", "status")
        except (fl.FlightUnauthenticatedError, fl.FlightUnauthorizedError) as exc:
            raise credential_refused(exc) from None
        except (fl.FlightError, OSError, SupervisorError):
            return None


def credential_refused(exc: fl.FlightError) -> ConfigError:
    """The error of a run whose own credential (``security.service_api_key``) the sink refused."""
    detail = str(exc).split(". Detail:", 1)[0]
    msg = f"the sink refused this run's credential (security.service_api_key): {detail}"
    return ConfigError(msg, key="security.service_api_key")


def _bindable(host: str, port: int) -> bool:
    """True when ``host:port`` can be listened on now (as a server would, with SO_REUSEADDR)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


def last_error(log_file: Path, code: int | None, *, since: int = 0, max_bytes: int = 65_536) -> str:
    """One line: the last error a service wrote to ``log_file`` (after byte ``since``) before exiting.

    The command line's ``error: Class: message`` line, else the last JSON log record of level error
    or critical, else how the process ended (exit code or signal).
    """
    try:
        with log_file.open("rb") as fh:
            fh.seek(max(since, log_file.stat().st_size - max_bytes))
            lines = fh.read().decode("utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    found: str | None = None
    for line in reversed(lines):
        text = line.strip()
        if text.startswith("error: "):
            found = text.removeprefix("error: ")
            break
        if text.startswith("{"):
            with contextlib.suppress(ValueError):
                record = json.loads(text)
                if isinstance(record, dict) and record.get("level") in ("error", "critical"):
                    detail = record.get("error") or record.get("exception", "")
                    found = f"{record.get('event', '')} {detail}".strip()
                    break
    ended = _how_it_ended(code)
    if found is None:
        return ended
    found = found.splitlines()[0] if found else ended
    return f"{found[:500]} ({ended})"


def _how_it_ended(code: int | None) -> str:
    if code is None:
        return "still running"
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"killed by {name}"
    return f"exit code {code}"
