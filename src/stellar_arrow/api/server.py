"""Run the API app with uvicorn: in the foreground (CLI) or in a background thread (tests, embedding).

uvicorn settings follow the measurements: per-message deflate off (-25-30% WS throughput otherwise), a
graceful-shutdown timeout, protocol-level WebSocket pings; uvloop/httptools are used when installed.
"""

from __future__ import annotations

import socket
import ssl
import threading
import time
from typing import Any

import uvicorn

from stellar_arrow.config import SecuritySettings
from stellar_arrow.errors import ConfigError, StellarArrowError
from stellar_arrow.security.client_certs import TlsHttpProtocol, TlsWebSocketProtocol

__all__ = ["ApiServer", "uvicorn_config"]


def uvicorn_config(
    app: Any, host: str, port: int, security: SecuritySettings | None = None
) -> uvicorn.Config:
    """``security``: TLS (certificate, key), TLS 1.2 at least, and the WebSocket frame size limit
    (``ws_max_message_bytes``). With ``client_ca_file`` every client must present a certificate signed by
    that CA (refused in the TLS handshake otherwise), and the certificate reaches the app as the ASGI
    TLS extension (:mod:`stellar_arrow.security.client_certs`), where it becomes an ``mtls`` principal."""
    security = security or SecuritySettings()
    tls: dict[str, Any] = {}
    if security.tls_enabled:
        tls = {"ssl_certfile": security.cert_file, "ssl_keyfile": security.key_file}
        if security.client_ca_file:
            tls.update(
                ssl_ca_certs=security.client_ca_file,
                ssl_cert_reqs=ssl.CERT_REQUIRED,
                http=TlsHttpProtocol,
                ws=TlsWebSocketProtocol,
            )
    config = uvicorn.Config(
        app,
        host=host,
        port=port,
        ws_per_message_deflate=False,
        ws_max_size=security.ws_max_message_bytes,
        timeout_graceful_shutdown=5,
        ws_ping_interval=20.0,
        ws_ping_timeout=20.0,
        log_level="warning",
        lifespan="on",
        **tls,
    )
    if tls:
        try:
            config.load()
        except (OSError, ssl.SSLError) as exc:
            msg = (
                f"the API cannot load its TLS certificate or key: {type(exc).__name__}: {exc.strerror or exc}"
            )
            raise ConfigError(msg, key="security.cert_file") from None
        assert config.ssl is not None
        config.ssl.minimum_version = ssl.TLSVersion.TLSv1_2
    return config


class ApiServer:
    """uvicorn in a daemon thread; ``port`` is the bound port (pass 0 to pick a free one).

    ``sock``: an already bound listening socket to serve on (bind errors are then the caller's, reported
    before the thread starts); ``host``/``port`` are ignored for binding.
    """

    def __init__(
        self,
        app: Any,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        sock: socket.socket | None = None,
        security: SecuritySettings | None = None,
    ) -> None:
        self.server = uvicorn.Server(uvicorn_config(app, host, port, security))
        self.scheme = "https" if security is not None and security.tls_enabled else "http"
        self.host = host
        kwargs: dict[str, Any] = {"sockets": [sock]} if sock is not None else {}
        self._thread = threading.Thread(target=self.server.run, kwargs=kwargs, name="api-server", daemon=True)

    def start(self, timeout: float = 15.0) -> ApiServer:
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                msg = f"API server on {self.host} did not start within {timeout}s"
                raise StellarArrowError(msg)
            time.sleep(0.01)
        return self

    @property
    def port(self) -> int:
        sockets = self.server.servers[0].sockets
        return int(sockets[0].getsockname()[1])

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://{self.host}:{self.port}"

    def stop(self, timeout: float = 10.0) -> None:
        self.server.should_exit = True
        self._thread.join(timeout)

    def __enter__(self) -> ApiServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
