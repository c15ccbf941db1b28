"""Process and host gauges for the memory and disk alerts: RSS (prometheus_client's process
collector), the host's memory, and how full the disks under the service's directories are."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from prometheus_client import ProcessCollector
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector

from stellar_arrow.observability.metrics import REGISTRY

__all__ = ["watch_disks"]

ProcessCollector(registry=REGISTRY)  # process_resident_memory_bytes, process_cpu_seconds_total, ...


class _HostCollector(Collector):
    def __init__(self) -> None:
        self.paths: set[Path] = {Path.cwd()}

    def collect(self) -> Iterator[Any]:
        pages, page_size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        yield GaugeMetricFamily(
            "host_memory_total_bytes", "Physical memory of the host", value=pages * page_size
        )
        used = GaugeMetricFamily(
            "disk_used_ratio", "Used fraction of the disk holding a path", labels=["path"]
        )
        for path in sorted(self.paths):
            try:
                usage = shutil.disk_usage(path)
            except OSError:
                continue
            used.add_metric([str(path)], usage.used / usage.total if usage.total else 0.0)
        yield used


_HOST = _HostCollector()
REGISTRY.register(_HOST)


def watch_disks(paths: Iterable[Path | str]) -> None:
    """Also report ``disk_used_ratio`` for ``paths`` (the sink's output directory)."""
    _HOST.paths.update(Path(p).resolve() for p in paths)
