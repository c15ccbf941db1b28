"""Fixtures: a real sink behind a real uvicorn server (module-wide read-only, or fresh per test)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from stellar_arrow.config import ApiSettings
from tests.integration.api.running import COMMITTED, LIVE, Running, start, stop


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    """Read-only server shared by a module's tests: 10 committed + 5 live ledgers."""
    running = start(tmp_path_factory.mktemp("api"), ApiSettings(api_port=0))
    yield running
    stop(running)


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[Callable[..., Running]]:
    """A fresh server per test, with its own options and starting data."""
    started: list[Running] = []

    def factory(options: ApiSettings | None = None, committed: int = COMMITTED, live: int = LIVE) -> Running:
        running = start(tmp_path / f"api{len(started)}", options or ApiSettings(api_port=0), committed, live)
        started.append(running)
        return running

    yield factory
    for running in started:
        stop(running)
