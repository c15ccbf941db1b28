"""A real sink with real pubnet tables behind a real uvicorn server, with given security settings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from stellar_arrow.api import ApiServer, TransferStore, create_app
from stellar_arrow.config import ApiSettings, SecuritySettings, SinkSettings
from stellar_arrow.sink import Checkpoint, DatasetSink
from tests.unit.sink.realdata import ledger_tables, schemas

COMMITTED = 4


@dataclass
class SecuredApi:
    sink: DatasetSink
    server: ApiServer
    security: SecuritySettings

    @property
    def base_url(self) -> str:
        return self.server.base_url

    @property
    def ws_url(self) -> str:
        scheme = "wss" if self.security.tls_enabled else "ws"
        return f"{scheme}://127.0.0.1:{self.server.port}/ws"

    def client(self, **kw: object) -> httpx.Client:
        return httpx.Client(base_url=self.base_url, timeout=10, **kw)  # type: ignore[arg-type]

    def write_ledger(self, index: int) -> int:
        seq, per = ledger_tables()[index]
        for table, rows in per.items():
            self.sink.write_batch(table, rows)
        return seq

    def stop(self) -> None:
        self.server.stop()
        self.sink.close()


def start_secured(root: Path, security: SecuritySettings, *, committed: int = COMMITTED) -> SecuredApi:
    sink = DatasetSink(root, schemas(), SinkSettings(partition_by=("date",), flush_interval_s=3600))
    app = create_app(ApiSettings(api_port=0), TransferStore(sink.reader()), security=security)
    api = SecuredApi(sink, ApiServer(app, security=security), security)
    for index in range(committed):
        api.write_ledger(index)
    sink.commit(Checkpoint(ledger_tables()[committed - 1][0]))
    api.server.start()
    return api
