"""A source service's ledger counters: each ledger streamed counts once as ok, a failing ledger as error."""

from __future__ import annotations

import functools
import json
import shutil
from pathlib import Path

import pyarrow.flight as fl
import pytest

from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.observability.metrics import REGISTRY
from stellar_arrow.source.keys import LakeSchema
from stellar_arrow.source.lake import DataLakeLedgerSource
from tests.conftest import DATA

pytestmark = pytest.mark.integration
FIRST, LAST = 63092982, 63093001


def _value(metric: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(metric, labels) or 0.0


def _ticket(start: int, end: int) -> fl.Ticket:
    return fl.Ticket(
        json.dumps({"v": 1, "stream": "ledger_close_meta", "start_ledger": start, "end_ledger": end})
    )


def test_ok_and_error_ledgers_are_counted(tmp_path: Path) -> None:
    lake = tmp_path / "lake"
    shutil.copytree(DATA / "lakes" / "pubnet-p26", lake)
    broken = lake / LakeSchema(1, 64000, "zst").batch_key(FIRST + 5).key
    broken.write_bytes(b"not zstd at all")
    server = SourceService(functools.partial(DataLakeLedgerSource, str(lake)), first_ledger=FIRST)
    ok = _value("ledgers_processed_total", source_type="source", status="ok")
    failed = _value("ledgers_processed_total", source_type="source", status="error")
    batches = _value("batches_generated_total", source_type="source")
    try:
        with fl.connect(server.uri) as client:
            rows = client.do_get(_ticket(FIRST, FIRST + 4)).read_all().num_rows
            assert rows == 5
            with pytest.raises(fl.FlightServerError, match=rf"{broken.name}"):
                client.do_get(_ticket(FIRST + 3, FIRST + 7)).read_all()
    finally:
        server.stop()
    assert _value("ledgers_processed_total", source_type="source", status="ok") - ok == 5  # 3, 4 not again
    assert _value("ledgers_processed_total", source_type="source", status="error") - failed == 1
    assert _value("batches_generated_total", source_type="source") - batches >= 7
    assert _value("current_ledger", source_type="source") >= FIRST + 4
