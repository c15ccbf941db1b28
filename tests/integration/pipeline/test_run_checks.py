"""What ``run`` checks on every ledger: the hash chain across ledgers, and (``verify_events``) the events.

Broken inputs are real sample-lake ledgers changed the way a faulty writer would: a ledger relinked to
another predecessor (self-consistent, its own hash recomputed, so only the chain check can see it), and
a ledger whose fee payer's balance change is off by one stroop (no header hash covers the meta, so only
the reconciliation can see it).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.flight as fl
import pytest
import zstandard
from stellar_sdk import xdr as sdk_xdr

from stellar_arrow.config import load_settings
from stellar_arrow.flight.source_service import SourceService
from stellar_arrow.flight.tickets import StreamRequest, encode_request
from stellar_arrow.pipeline.components import build_processor, ledger_source_factory
from stellar_arrow.pipeline.supervisor import Supervisor
from stellar_arrow.sink import read_commits
from stellar_arrow.source.batch import encode_ledger_close_meta_batch
from stellar_arrow.source.keys import LakeSchema
from stellar_arrow.source.lake import DataLakeLedgerSource
from tests.unit.ledger.realdata import relinked

pytestmark = pytest.mark.integration

CLI = [sys.executable, "-c", "from stellar_arrow.cli import main; main()"]


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("STELLAR_ARROW_")}
    env["GRPC_VERBOSITY"] = "ERROR"
    return env


def _lake_with(sample_lake: Path, target: Path, seq: int, lcm: bytes) -> Path:
    """A copy of the sample lake (one ledger per object) whose object for ``seq`` holds ``lcm``."""
    shutil.copytree(sample_lake, target)
    batch = encode_ledger_close_meta_batch(seq, seq, [lcm])
    (target / LakeSchema(1, 64000, "zst").batch_key(seq).key).write_bytes(
        zstandard.ZstdCompressor().compress(batch)
    )
    return target


def _raw(sample_lake: Path, seq: int) -> bytes:
    with DataLakeLedgerSource(str(sample_lake)) as lake:
        ((_, lcm),) = list(lake.ledgers(seq, seq))
    return lcm


def _fee_off_by_one(lcm: bytes) -> bytes:
    """``lcm`` with the first fee payer's balance after the fee charge one stroop lower."""
    meta = sdk_xdr.LedgerCloseMeta.from_xdr_bytes(lcm)
    body = meta.v2 if meta.v == 2 else meta.v1
    changes = body.tx_processing[0].fee_processing.ledger_entry_changes
    updated = next(c for c in changes if c.type == sdk_xdr.LedgerEntryChangeType.LEDGER_ENTRY_UPDATED)
    account = updated.updated.data.account
    account.balance = sdk_xdr.Int64(account.balance.int64 - 1)
    out: bytes = meta.to_xdr_bytes()
    return out


def test_a_broken_hash_chain_stops_run_with_a_clear_line(tmp_path: Path, repo_root: Path, kit: Any) -> None:
    seq = kit.first + 3
    lake = _lake_with(
        kit.sample_lake, tmp_path / "lake", seq, relinked(_raw(kit.sample_lake, seq), bytes(32))
    )
    out = tmp_path / "out"
    config = kit.write_config(
        tmp_path / "pipeline.yaml",
        {
            "source": {
                "flight_port": 0,
                "health_port": 0,
                "datalake_uri": str(lake),
                "start_ledger": kit.first,
                "end_ledger": kit.first + 6,
            },
            "processor": {"flight_port": 0, "health_port": 0},
            "sink": {
                "flight_port": 0,
                "health_port": 0,
                "output_dir": str(out),
                "batch_rows": 1,
                "flush_interval_s": 0.05,
            },
            "api": {"api_port": 0},
        },
    )
    proc = subprocess.run(
        [*CLI, "run", "--config", str(config), "--exit-when-done"],
        cwd=repo_root,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert proc.returncode != 0, proc.stdout + proc.stderr
    (line,) = [x for x in proc.stderr.splitlines() if x.startswith("error:")]
    assert f"ledger {seq}: previous_ledger_hash {'00' * 32} != hash of ledger {seq - 1}" in line
    assert "Traceback" not in proc.stderr
    committed = [r.checkpoint.ledger_sequence for r in read_commits(out)]
    assert all(c < seq for c in committed)  # nothing from the broken ledger on was written


def test_a_resumed_stream_checks_the_link_to_the_ledger_it_resumes_after(tmp_path: Path, kit: Any) -> None:
    seq = kit.first + 3
    lake = _lake_with(
        kit.sample_lake, tmp_path / "lake", seq, relinked(_raw(kit.sample_lake, seq), bytes(32))
    )
    settings = load_settings(
        source={
            "datalake_uri": str(lake),
            "flight_port": 0,
            "health_port": 0,
            "table_workers": 0,
            "start_ledger": kit.first,
        }
    )
    source = SourceService(ledger_source_factory(settings), first_ledger=kit.first)
    processor = build_processor(
        load_settings(
            source={"datalake_uri": str(lake), "start_ledger": kit.first},
            processor={"flight_port": 0, "health_port": 0, "source_endpoint": source.uri},
        )
    )
    try:
        client = fl.connect(processor.uri)
        for stream in ("ledgers", "token_transfers"):
            # the first ledger sent is the broken one: only the anchor (ledger seq - 1) can tell
            request = StreamRequest(stream, kit.first, kit.first + 6, resume_after=seq - 1)
            with pytest.raises(fl.FlightServerError, match=f"ledger {seq}: previous_ledger_hash"):
                client.do_get(fl.Ticket(encode_request(request))).read_all()
        # the relinked ledger breaks both of its links; resumed past them, the stream is whole
        after = StreamRequest("ledgers", kit.first, kit.first + 6, resume_after=seq + 1)
        assert client.do_get(fl.Ticket(encode_request(after))).read_all().num_rows == 2
    finally:
        processor.stop()
        source.stop()


def test_verify_events_reconciles_every_ledger_and_stops_on_a_mismatch(tmp_path: Path, kit: Any) -> None:
    seq = kit.first + 2
    lake = _lake_with(kit.sample_lake, tmp_path / "lake", seq, _fee_off_by_one(_raw(kit.sample_lake, seq)))
    source_settings = {"datalake_uri": str(lake), "start_ledger": kit.first}
    source = SourceService(
        ledger_source_factory(load_settings(source=source_settings)), first_ledger=kit.first
    )
    processors = {
        verify: build_processor(
            load_settings(
                source=source_settings,
                processor={
                    "flight_port": 0,
                    "health_port": 0,
                    "source_endpoint": source.uri,
                    "verify_events": verify,
                },
            )
        )
        for verify in (False, True)
    }
    try:
        request = fl.Ticket(encode_request(StreamRequest("token_transfers", kit.first, kit.first + 4)))
        unchecked = fl.connect(processors[False].uri).do_get(request).read_all()
        assert unchecked.num_rows > 0  # without verify_events the damaged ledger's events pass as derived
        with pytest.raises(fl.FlightServerError) as info:
            fl.connect(processors[True].uri).do_get(request).read_all()
        assert f"ledger {seq}: " in str(info.value) and "balance mismatches" in str(info.value)
        assert json.loads(info.value.extra_info)["code"] == "ReconciliationError"
    finally:
        for processor in processors.values():
            processor.stop()
        source.stop()


def test_run_with_verify_events_decodes_each_ledger_once(
    tmp_path: Path, expected_tables: dict[str, pa.Table], kit: Any
) -> None:
    """The sample lake through the three services with ``processor.verify_events: true``: every ledger
    reconciled, the same tables, and each ledger decoded exactly once (by the processor, none by the
    source) although the sink reads four streams."""
    out = tmp_path / "out"
    settings = load_settings(
        source={"flight_port": 0, "health_port": 0, "datalake_uri": str(kit.sample_lake)},
        processor={"flight_port": 0, "health_port": 0, "verify_events": True},
        sink={"flight_port": 0, "health_port": 0, "output_dir": str(out)},
        api={"api_port": 0},
    )
    supervisor = Supervisor(settings, out / "_run")
    try:
        supervisor.start()
        deadline = time.monotonic() + 120
        status = supervisor.sink_status() or {}
        while not status.get("done"):
            assert not status.get("failed"), status
            assert time.monotonic() < deadline, status
            time.sleep(0.1)
            status = supervisor.sink_status() or {}
        assert status["checkpoint"] == kit.last
        assert supervisor.action("processor", "status")["ledgers_derived"] == 20
        assert supervisor.action("source", "status")["ledgers_decoded"] == 0
        assert supervisor.poll() == []  # no service died on the way
    finally:
        supervisor.stop()
    kit.assert_same_tables(kit.in_row_order(kit.read_output(out)), kit.in_row_order(expected_tables))
