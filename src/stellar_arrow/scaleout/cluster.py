"""Which Dask cluster an export runs on: a local one of N worker processes, or an existing scheduler."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING

from stellar_arrow.config import ExportSettings
from stellar_arrow.errors import UpstreamUnavailableError

if TYPE_CHECKING:
    from distributed import Client

__all__ = ["ClusterSpec", "connect", "parse_cluster"]


@dataclass(frozen=True, slots=True)
class ClusterSpec:
    """``local_workers`` for ``--cluster local:N``, or ``scheduler`` for ``--scheduler tcp://HOST:PORT``."""

    local_workers: int | None = None
    scheduler: str | None = None


def parse_cluster(options: ExportSettings) -> ClusterSpec | None:
    """The cluster the (validated) export settings ask for, or None for a one-process export."""
    if options.cluster is not None:
        return ClusterSpec(local_workers=int(options.cluster.split(":", 1)[1]))
    if options.scheduler is not None:
        return ClusterSpec(scheduler=options.scheduler)
    return None


@contextmanager
def connect(spec: ClusterSpec, *, timeout_s: float = 30.0) -> Iterator[Client]:
    """A Dask client for ``spec``; a local cluster is started here and stopped on exit."""
    from distributed import Client, LocalCluster

    if spec.local_workers is not None:
        with (
            LocalCluster(
                n_workers=spec.local_workers,
                threads_per_worker=1,
                processes=True,
                dashboard_address="127.0.0.1:0",
                host="127.0.0.1",
            ) as local,
            Client(local, timeout=timeout_s) as client,
        ):
            yield client
        return
    assert spec.scheduler is not None
    try:
        client = Client(spec.scheduler, timeout=timeout_s)
    except OSError as exc:
        msg = f"cannot reach the Dask scheduler at {spec.scheduler} within {timeout_s:g} s: {exc}"
        raise UpstreamUnavailableError(msg) from None
    try:
        yield client
    finally:
        client.close()
