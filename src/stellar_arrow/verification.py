"""I/O shell of ``stellar-arrow verify``: read ledgers from a corpus file or a lake, verify, print, exit code.

The verification itself is pure (:mod:`stellar_arrow.ttp.report`); this module only opens the source and
prints. Exit statuses (:class:`~stellar_arrow.errors.ExitStatus`): 0 all ledgers reconcile, 1 at least one
mismatch or mode difference (each printed); errors end with the status of their class (2 usage, ...).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from stellar_arrow.config import Settings
from stellar_arrow.errors import ConfigError
from stellar_arrow.ledger.network import Network
from stellar_arrow.source.base import LedgerSource
from stellar_arrow.source.open import FileLedgerSource, describe_source, open_source, settle_network
from stellar_arrow.ttp.report import verify_ledgers

__all__ = ["run_verify"]


def _span(settings: Settings, source: LedgerSource) -> tuple[int, int]:
    """The range to verify: a file's ledgers within the asked range, or ``start``..``end`` (default start)."""
    start, end = settings.source.start_ledger, settings.source.end_ledger
    if isinstance(source, FileLedgerSource):
        first, last = source.first_ledger(), source.latest_ledger()
        lo, hi = max(start or first, first), min(end if end is not None else last, last)
        if lo > hi:
            msg = f"no ledger of {source.path} (ledgers {first}-{last}) lies in [{start}, {end}]"
            raise ConfigError(msg, key="source.start_ledger")
        return lo, hi
    if start is None:
        msg = "--start is required when --source is a lake or an RPC URL"
        raise ConfigError(msg, key="source.start_ledger")
    return start, end if end is not None else start


def _raw(source: LedgerSource, start: int, end: int) -> Iterator[bytes]:
    for raw in source.ledgers(start, end):
        yield raw.ledger_close_meta


def run_verify(settings: Settings, *, echo: Callable[[str], object]) -> int:
    """Verify the ``source`` range as ``settings.verify`` says; print mismatches and a summary; exit code."""
    source = open_source(settings.source)
    try:
        start, end = _span(settings, source)
        network = settle_network(settings.source, source, start, end)
        return _report(settings, _raw(source, start, end), network, echo)
    finally:
        source.close()


def _report(
    settings: Settings, ledgers: Iterator[bytes], network: Network, echo: Callable[[str], object]
) -> int:
    mode, strict = settings.verify.mode, settings.verify.strict
    totals = {"ledgers": 0, "transactions": 0, "events": 0, "unified": 0, "mismatches": 0, "differences": 0}
    for report in verify_ledgers(ledgers, network, mode=mode, strict=strict, decoder=settings.verify.decoder):
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
        msg = f"no ledger of {describe_source(settings.source)} was verified"
        raise ConfigError(msg, key="source.start_ledger")
    echo(
        f"verified {totals['ledgers']} ledgers, {totals['transactions']} transactions, "
        f"{totals['events']} events "
        f"(mode {mode}{', strict' if strict else ''}; {totals['unified']} txs with unified events): "
        f"{totals['mismatches']} mismatches, {totals['differences']} mode differences"
    )
    return 1 if totals["mismatches"] or totals["differences"] else 0
