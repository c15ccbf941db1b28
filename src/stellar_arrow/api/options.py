"""Run-time options of the API server (REST, WebSocket and dashboard on one port)."""

from __future__ import annotations

from dataclasses import dataclass, field

from stellar_arrow.api.hub import HubLimits
from stellar_arrow.errors import ConfigError

__all__ = ["ApiOptions"]


@dataclass(frozen=True, slots=True)
class ApiOptions:
    """Defaults follow the original port map (REST 8081); limits are per server process.

    ``ws_message_rate``/``ws_message_burst``: a token bucket on client->server messages; exceeding it closes
    the connection with 1008. ``ws_idle_timeout_s``: with no client message for that long the server sends
    ``{"type": "ping"}`` and closes with 1001 if nothing arrives within ``ws_ping_timeout_s``.
    """

    host: str = "127.0.0.1"
    port: int = 8081
    hub: HubLimits = field(default_factory=HubLimits)
    ws_message_rate: float = 10.0
    ws_message_burst: int = 20
    ws_idle_timeout_s: float = 60.0
    ws_ping_timeout_s: float = 20.0
    status_interval_s: float = 1.0
    duckdb_threads: int = 2

    def __post_init__(self) -> None:
        if not 0 <= self.port <= 65535:
            msg = f"port {self.port} is outside 0..65535"
            raise ConfigError(msg, key="api.api_port")
        for name in ("ws_message_rate", "ws_idle_timeout_s", "ws_ping_timeout_s", "status_interval_s"):
            if getattr(self, name) <= 0:
                msg = f"{name} must be > 0"
                raise ConfigError(msg, key=f"api.{name}")
