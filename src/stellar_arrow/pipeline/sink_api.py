"""The sink process's HTTP side: REST, WebSocket and dashboard over the live sink, next to its Flight service.

:func:`start_sink_api` binds ``api.host:api.api_port`` (a free port instead when ``api.port_fallback``
is set and the port is taken), serves :func:`stellar_arrow.api.start_api` over the service's sink
reader (:class:`~stellar_arrow.sink.TableReader`) in a background thread, and runs a watcher thread that feeds
the dashboard's lag (the source's ``latest_ledger``) and keeps the readiness answer fresh (every
upstream Flight service reachable; a failed sink loop is never ready; a finished bounded run is).
"""

from __future__ import annotations

import errno
import logging
import socket
import threading

from stellar_arrow.api import ApiServer, LedgerProgress, start_api
from stellar_arrow.config import ApiSettings, SecuritySettings
from stellar_arrow.errors import ConfigError, StellarArrowError
from stellar_arrow.flight.sink_service import SinkService
from stellar_arrow.flight.upstream import ActionCaller
from stellar_arrow.security.policy import check_bind

__all__ = ["SinkApi", "bind_api_socket", "start_sink_api"]

log = logging.getLogger(__name__)

_WATCH_INTERVAL_S = 1.0


def bind_api_socket(host: str, port: int, *, fallback: bool) -> socket.socket:
    """A listening TCP socket on ``host:port``; a free port when it is taken and ``fallback`` is set."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for candidate in (port, 0) if fallback and port != 0 else (port,):
        sock = socket.socket(family, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind((host, candidate))
            sock.listen(2048)
        except OSError as exc:
            sock.close()
            if exc.errno == errno.EADDRINUSE and candidate != 0 and fallback:
                log.warning("api port %d on %s is taken; listening on a free port instead", port, host)
                continue
            msg = f"the sink's API cannot listen on {host}:{candidate} (port in use?): {exc}"
            raise ConfigError(msg, key="api.api_port") from None
        sock.set_inheritable(False)
        return sock
    msg = f"the sink's API found no free port on {host}"  # not reached: port 0 always binds or raises
    raise ConfigError(msg, key="api.api_port")


class SinkApi:
    """The running API of one sink service; :meth:`stop` ends the watcher and the HTTP server."""

    def __init__(
        self, service: SinkService, server: ApiServer, progress: LedgerProgress, source_endpoint: str
    ) -> None:
        self.service = service
        self.source_endpoint = source_endpoint
        self.server = server
        self.progress = progress
        self._stop = threading.Event()
        self._reason: str | None = "upstreams not checked yet"
        self._watcher = threading.Thread(target=self._watch, name="sink-api-watch", daemon=True)

    @property
    def base_url(self) -> str:
        host = self.server.host
        shown = f"[{host}]" if ":" in host else host
        return f"{self.server.scheme}://{shown}:{self.server.port}"

    def readiness(self) -> str | None:
        """``None`` when ready, else why not (called by ``GET /ready``)."""
        loop = self.service.loop
        if loop.failed:
            return f"sink stopped: {loop.error}"
        if loop.done.is_set():
            return None  # a bounded run is complete: everything is committed and served
        return self._reason

    def _watch(self) -> None:
        endpoints = sorted({u.endpoint for u in self.service.loop.upstreams})
        call = ActionCaller(self.service.loop.client)  # every second: one kept client per upstream
        while True:
            reasons = []
            for endpoint in endpoints:
                try:
                    call(endpoint, "health", timeout_s=2.0)
                except StellarArrowError as exc:
                    reasons.append(str(exc))
            self._reason = "; ".join(reasons) or None
            try:
                body = call(self.source_endpoint, "latest_ledger", timeout_s=2.0)
            except StellarArrowError as exc:
                log.debug("source tip unavailable: %s", exc)
            else:
                tip = body.get("latest_ledger")
                if isinstance(tip, int):
                    self.progress.note_source_tip(tip)
            if self._stop.wait(_WATCH_INTERVAL_S):
                call.close()
                return

    def start(self) -> SinkApi:
        self._watcher.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self.server.stop()
        if self._watcher.ident is not None:
            self._watcher.join(timeout=5)


def start_sink_api(
    service: SinkService,
    settings: ApiSettings,
    *,
    source_endpoint: str,
    security: SecuritySettings | None = None,
) -> SinkApi:
    """Bind and serve the API of ``service``'s sink (before its loop starts, so no row is missed).

    ``source_endpoint``: the source service, asked for its tip (the dashboard's lag).
    ``security``: authentication, TLS and browser hardening (a non-loopback host needs auth).
    """
    security = security or SecuritySettings()
    check_bind(settings.host, security, what="the sink's API", key="api.host")
    sock = bind_api_socket(settings.host, settings.api_port, fallback=settings.port_fallback)
    progress = LedgerProgress()
    holder: list[SinkApi] = []
    try:
        server = start_api(
            service.reader,
            settings.model_copy(update={"api_port": sock.getsockname()[1]}),
            readiness=lambda: holder[0].readiness() if holder else "starting",
            progress=progress,
            sock=sock,
            security=security,
        )
    except BaseException:
        sock.close()
        raise
    api = SinkApi(service, server, progress, source_endpoint)
    holder.append(api)
    return api.start()
