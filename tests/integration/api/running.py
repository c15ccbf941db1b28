"""A real sink (DatasetSink over real pubnet tables) behind a real uvicorn server on 127.0.0.1:0."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import httpx

from stellar_arrow.api import ApiServer, TransferStore, create_app
from stellar_arrow.config import ApiSettings, SinkSettings
from stellar_arrow.sink import Checkpoint, DatasetSink
from tests.unit.sink.realdata import ledger_tables, schemas

COMMITTED = 10  # ledgers 63092982..63092991 are in Parquet files
LIVE = 5  # ledgers 63092992..63092996 are accepted but not committed (the live buffer)


@dataclass
class Running:
    sink: DatasetSink
    server: ApiServer
    http: httpx.Client

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.server.port}/ws"

    def write_ledger(self, index: int) -> int:
        """Write ledger ``index`` of the real range (all four tables) into the sink; returns its sequence."""
        seq, per = ledger_tables()[index]
        for table, rows in per.items():
            self.sink.write_batch(table, rows)
        return seq


def start(
    root: Path,
    options: ApiSettings,
    committed: int = COMMITTED,
    live: int = LIVE,
    output_formats: tuple[str, ...] = ("parquet",),
) -> Running:
    settings = SinkSettings(
        partition_by=("date", "asset_code"), flush_interval_s=3600, output_formats=output_formats
    )
    sink = DatasetSink(root, schemas(), settings)
    running = Running(sink, ApiServer(create_app(options, TransferStore(sink.reader()))), httpx.Client())
    for index in range(committed + live):
        running.write_ledger(index)
        if index == committed - 1:
            sink.commit(Checkpoint(ledger_tables()[index][0]))
    running.server.start()
    running.http = httpx.Client(base_url=running.server.base_url, timeout=10)
    return running


def stop(running: Running) -> None:
    running.http.close()
    running.server.stop()
    running.sink.close()
