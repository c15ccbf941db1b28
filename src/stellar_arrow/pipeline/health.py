"""Readiness of each service, for its health port (``/health/ready``): the component-specific checks.

Ready means the upstream answers and the service is not more than ``max_lag`` ledgers behind it:

* source: its ledger source (lake listing or RPC ``getHealth``) answers; while streams are active,
  the newest ledger streamed is within ``max_lag`` of the source's tip;
* processor: the source service answers ``latest_ledger``; the same lag rule for the ledgers it derived;
* sink: every upstream answers ``health`` and the loop has not stopped on an error; the checkpoint is
  within ``max_lag`` of the source's tip (a finished bounded run is ready).

Each check also sets ``network_tip_ledger`` and ``ledger_lag`` for the component.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from stellar_arrow.errors import StellarArrowError
from stellar_arrow.flight.processor_service import ProcessorService
from stellar_arrow.flight.service import LedgerFlightServer
from stellar_arrow.flight.sink_service import SinkService
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.upstream import ActionCaller
from stellar_arrow.observability.health import HealthServer, ReadinessWatcher
from stellar_arrow.observability.metrics import LEDGER_LAG, NETWORK_TIP
from stellar_arrow.observability.system import watch_disks

__all__ = ["readiness_check", "start_health_server"]

Check = Callable[[], tuple[str | None, dict[str, Any]]]
_ACTION_TIMEOUT_S = 2.0


def _lag_verdict(
    component: str, tip: int | None, current: int | None, max_lag: int, active: bool
) -> tuple[str | None, dict[str, Any]]:
    details: dict[str, Any] = {"current_ledger": current, "tip_ledger": tip}
    if tip is not None:
        NETWORK_TIP.labels(component).set(tip)
    if tip is None or current is None:
        return None, details
    lag = max(0, tip - current)
    LEDGER_LAG.labels(component).set(lag)
    details["lag_ledgers"] = lag
    if active and lag > max_lag:
        return f"{lag} ledgers behind the tip {tip} (more than {max_lag})", details
    return None, details


def _source_tip(call: ActionCaller, endpoint: str) -> int:
    body = call(endpoint, "latest_ledger", timeout_s=_ACTION_TIMEOUT_S)
    tip = body.get("latest_ledger")
    if not isinstance(tip, int):
        msg = f"source {endpoint} answered latest_ledger={tip!r}"
        raise StellarArrowError(msg)
    return tip


def readiness_check(
    service: LedgerFlightServer, *, max_lag: int, source_endpoint: str | None = None
) -> Check:
    """The readiness check of ``service`` (``source_endpoint``: where processor and sink find the source)."""
    name = service.service_name
    call = ActionCaller()  # the check runs every second: one kept client per upstream

    def source() -> tuple[str | None, dict[str, Any]]:
        assert isinstance(service, SourceService)
        try:
            tip = int(str(service.extra_actions()["latest_ledger"][1]()["latest_ledger"]))
        except StellarArrowError as exc:
            return f"ledger source unreachable: {exc}", {}
        active = bool(service.status()["active_streams"])
        return _lag_verdict(name, tip, service.current_ledger, max_lag, active)

    def processor() -> tuple[str | None, dict[str, Any]]:
        assert source_endpoint is not None
        try:
            tip = _source_tip(call, source_endpoint)
        except StellarArrowError as exc:
            return f"upstream unreachable: {exc}", {}
        active = bool(service.status()["active_streams"])
        return _lag_verdict(name, tip, service.current_ledger, max_lag, active)

    def sink() -> tuple[str | None, dict[str, Any]]:
        assert isinstance(service, SinkService)
        loop = service.loop
        next_ledger = service.sink.snapshot()  # the sink's resume state: the next ledger to write
        current = next_ledger - 1 if next_ledger is not None else None
        if loop.failed:
            return f"sink stopped: {loop.error}", {"current_ledger": current}
        if loop.done.is_set():
            return None, {"current_ledger": current, "done": True}
        reasons = []
        for endpoint in sorted({u.endpoint for u in loop.upstreams}):
            try:
                call(endpoint, "health", timeout_s=_ACTION_TIMEOUT_S)
            except StellarArrowError as exc:
                reasons.append(f"upstream unreachable: {exc}")
        if reasons:
            return "; ".join(reasons), {"current_ledger": current}
        tip = _source_tip(call, source_endpoint) if source_endpoint is not None else None
        return _lag_verdict(name, tip, current, max_lag, active=True)

    if isinstance(service, SourceService):
        return source
    if isinstance(service, ProcessorService):
        return processor
    return sink


def start_health_server(
    service: LedgerFlightServer,
    *,
    host: str,
    port: int,
    max_lag: int,
    fallback: bool,
    source_endpoint: str | None = None,
) -> HealthServer:
    """Serve ``service``'s health endpoints on ``host:port`` (a free port when taken and ``fallback``)."""
    if isinstance(service, SinkService):
        watch_disks([Path(service.sink.location)])
    watcher = ReadinessWatcher(readiness_check(service, max_lag=max_lag, source_endpoint=source_endpoint))
    return HealthServer(service.service_name, watcher, host=host, port=port, fallback=fallback).start()
