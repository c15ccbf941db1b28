"""``stellar-arrow run`` with ``pipeline.processes: one``: the three services in this process.

Source, processor and sink are the same Flight services as in the supervised mode, started in
pipeline order in this process and talking Flight over loopback exactly as separate processes do
(tickets, resume cursors, hash-chain checks, the sink's HTTP API and each service's health port are
unchanged). What one process saves is the start-up of three more Python interpreters (each importing
pyarrow, the decoder, DuckDB, FastAPI) and the supervisor's polling over Flight: the run reads the
sink's status directly.

What it gives up: nothing restarts a failed service (a service error stops the run, as the supervisor
does after ``pipeline.restart_max`` crashes), and the services share one interpreter (and one
``/metrics`` registry, served on each health port). The services' log records go to
``<run_dir>/pipeline.log`` (one file; each record names its logger); ``<run_dir>/<role>.ready.json``
says where each one listens and ``<run_dir>/pipeline.yaml`` holds the effective settings (no secret),
as in the supervised mode (the ``pid`` is this process).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import pyarrow.flight as fl
import structlog
import yaml

from stellar_arrow.config import Settings
from stellar_arrow.observability.logs import configure_logging, get_logger
from stellar_arrow.pipeline.roles import ROLES, Role, settle_settings_network
from stellar_arrow.pipeline.serve import RunningService, start_service, write_ready_file
from stellar_arrow.pipeline.supervisor import credential_refused
from stellar_arrow.security.flight import FlightClientSecurity
from stellar_arrow.security.policy import SECRET_KEYS

__all__ = ["InProcessPipeline", "LocalService"]

log = get_logger(__name__)


@dataclass(slots=True)
class LocalService:
    """Where one in-process service listens (the fields the run's summary prints)."""

    role: Role
    uri: str
    log_file: Path
    health_url: str | None = None
    api_url: str | None = None

    @property
    def pid(self) -> int:
        return os.getpid()


class InProcessPipeline:
    """Starts source, processor and sink in this process; the supervised pipeline's interface."""

    def __init__(self, settings: Settings, run_dir: Path, *, echo: Any = None) -> None:
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self._settings = settle_settings_network(settings)
        self.children: dict[Role, LocalService] = {}
        self._running: list[RunningService] = []
        self._log: TextIO | None = None
        self._saved_logging: tuple[list[logging.Handler], int, dict[str, Any]] | None = None

    def start(self) -> None:
        """Start the three services in pipeline order, each downstream one pointed at the one before."""
        self._capture_logs()
        settings = self._settings
        try:
            for role in ROLES:
                running = start_service(role, settings)
                self._running.append(running)
                uri = running.server.uri
                write_ready_file(  # where it listens, as a supervised child publishes it (pid: this one)
                    self.run_dir / f"{role}.ready.json",
                    role,
                    running.server,
                    api_url=running.api_url,
                    health_url=running.health.url,
                )
                self.children[role] = LocalService(
                    role,
                    uri,
                    self.run_dir / "pipeline.log",
                    health_url=running.health.url,
                    api_url=running.api_url,
                )
                log.info("serving", role=role, uri=uri, health=running.health.url)
                if role == "source":
                    settings = _with(
                        settings, processor={"source_endpoint": uri}, sink={"source_endpoint": uri}
                    )
                elif role == "processor":
                    settings = _with(settings, sink={"processor_endpoint": uri})
            _write_effective(self.run_dir / "pipeline.yaml", settings, self.children)
            self._check_credential(self.children["sink"].uri)
        except BaseException:
            self.stop()
            raise

    def _check_credential(self, sink_uri: str) -> None:
        """With authentication on, the sink must accept the run's own key (as the supervisor asks it)."""
        security = self._settings.security
        if not security.auth_enabled:
            return
        client = FlightClientSecurity.from_settings(security)
        try:
            with client.connect(sink_uri) as flight:
                list(flight.do_action(fl.Action("status", b""), fl.FlightCallOptions(timeout=10.0)))
        except (fl.FlightUnauthenticatedError, fl.FlightUnauthorizedError) as exc:
            raise credential_refused(exc) from None

    def poll(self) -> list[Role]:
        """Nothing restarts in one process: always no role."""
        return []

    def sink_status(self) -> dict[str, Any] | None:
        """The sink's ``status`` (what its Flight action answers), read without a Flight call."""
        sink = next((r for r in self._running if r.role == "sink"), None)
        return sink.server.status() if sink is not None else None

    def stop(self) -> None:
        """Stop the services, sink first (it commits what is complete); restore this process's logging."""
        for running in reversed(self._running):
            running.stop()
        self._running.clear()
        self._restore_logs()

    def _capture_logs(self) -> None:
        root = logging.getLogger()
        self._saved_logging = (list(root.handlers), root.level, structlog.get_config())
        self._log = (self.run_dir / "pipeline.log").open("a", encoding="utf-8")
        obs = self._settings.observability
        configure_logging("pipeline", level=obs.log_level, log_format=obs.log_format, stream=self._log)

    def _restore_logs(self) -> None:
        if self._saved_logging is not None:
            handlers, level, config = self._saved_logging
            root = logging.getLogger()
            for handler in list(root.handlers):
                root.removeHandler(handler)
            for handler in handlers:
                root.addHandler(handler)
            root.setLevel(level)
            structlog.configure(**config)
            self._saved_logging = None
        if self._log is not None:
            self._log.close()
            self._log = None


def _write_effective(path: Path, settings: Settings, services: dict[Role, LocalService]) -> None:
    """The effective settings, as the supervisor writes them: the ports taken, no secret."""
    doc: dict[str, Any] = settings.model_dump(mode="json", exclude={"security": set(SECRET_KEYS)})
    for role, service in services.items():
        doc[role]["flight_port"] = int(service.uri.rsplit(":", 1)[1])
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
    os.replace(tmp, path)


def _with(settings: Settings, **sections: dict[str, Any]) -> Settings:
    """``settings`` with some keys of some sections replaced."""
    update = {name: getattr(settings, name).model_copy(update=keys) for name, keys in sections.items()}
    return settings.model_copy(update=update)
