"""I/O shell of ``stellar-arrow verify``: read ledgers from a corpus file or a lake, verify, print, exit code.

The verification itself is pure (:mod:`stellar_arrow.ttp.report`); this module only opens the source and
prints. Exit codes: 0 all ledgers reconcile, 1 at least one mismatch or mode difference (each printed),
2 errors (the CLI turns :class:`~stellar_arrow.errors.StellarArrowError` into 2).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import cast, get_args

from stellar_arrow.errors import ConfigError
from stellar_arrow.ledger.network import resolve_network
from stellar_arrow.source.files import read_ledger_file
from stellar_arrow.source.header import read_ledger_header
from stellar_arrow.ttp.report import VerifyMode, verify_ledgers
from stellar_arrow.xdr.choice import resolve_decoder

__all__ = ["run_verify"]


def _file_ledgers(path: Path, start: int | None, end: int | None) -> Iterator[bytes]:
    for lcm in read_ledger_file(path):
        seq = read_ledger_header(lcm, what=str(path)).ledger_sequence
        if (start is None or seq >= start) and (end is None or seq <= end):
            yield lcm


def _open(
    source: str,
    start: int | None,
    end: int | None,
    network: str | None,
    ledgers_per_batch: int | None,
    batches_per_partition: int | None,
) -> tuple[Iterator[bytes], str]:
    """(raw ledgers, network passphrase) of a corpus file or a lake."""
    path = Path(source)
    if path.is_file():
        passphrase = resolve_network(network or "pubnet").passphrase
        return _file_ledgers(path, start, end), passphrase
    from stellar_arrow.source.lake import DataLakeLedgerSource

    if start is None:
        msg = "--start is required when --source is a lake"
        raise ConfigError(msg, key="start")
    lake = DataLakeLedgerSource(
        source,
        network_passphrase=resolve_network(network).passphrase if network else None,
        ledgers_per_batch=ledgers_per_batch,
        batches_per_partition=batches_per_partition,
    )
    passphrase = lake.network_passphrase or resolve_network(network or "pubnet").passphrase
    last = end if end is not None else start
    return (raw.ledger_close_meta for raw in lake.ledgers(start, last)), passphrase


def run_verify(
    source: str,
    *,
    start: int | None,
    end: int | None,
    mode: str,
    strict: bool,
    network: str | None,
    echo: Callable[[str], object],
    ledgers_per_batch: int | None = None,
    batches_per_partition: int | None = None,
    decoder: str = "compiled",
) -> int:
    """Verify ``[start, end]`` of ``source``, print every mismatch and a summary; return the exit code."""
    if mode not in get_args(VerifyMode):
        msg = f"--mode must be one of {list(get_args(VerifyMode))}, got {mode!r}"
        raise ConfigError(msg, key="mode")
    decoder = resolve_decoder(decoder)  # ConfigError for an unknown name; compiled -> python if not built
    ledgers, passphrase = _open(source, start, end, network, ledgers_per_batch, batches_per_partition)
    totals = {"ledgers": 0, "transactions": 0, "events": 0, "unified": 0, "mismatches": 0, "differences": 0}
    for report in verify_ledgers(
        ledgers, passphrase, mode=cast(VerifyMode, mode), strict=strict, decoder=decoder
    ):
        totals["ledgers"] += 1
        totals["transactions"] += report.transactions
        totals["events"] += report.events
        totals["unified"] += report.unified_transactions
        totals["mismatches"] += len(report.mismatches)
        totals["differences"] += len(report.differences)
        for mismatch in report.mismatches:
            echo(str(mismatch))
        for difference in report.differences:
            echo(f"mode difference: {difference}")
    if totals["ledgers"] == 0:
        msg = f"no ledger of {source} lies in [{start}, {end}]"
        raise ConfigError(msg, key="start")
    echo(
        f"verified {totals['ledgers']} ledgers, {totals['transactions']} transactions, "
        f"{totals['events']} events "
        f"(mode {mode}{', strict' if strict else ''}; {totals['unified']} txs with unified events): "
        f"{totals['mismatches']} mismatches, {totals['differences']} mode differences"
    )
    return 1 if totals["mismatches"] or totals["differences"] else 0
