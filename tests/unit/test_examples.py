"""The example pipeline configurations are valid settings."""

from __future__ import annotations

import pytest

from stellar_arrow.config import load_settings
from tests.conftest import REPO

EXAMPLES = sorted((REPO / "examples").glob("*.yaml"))


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_config_loads(path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(path)
    assert settings.source.source_type in {"datalake", "rpc"}
    assert settings.sink.output_dir


def test_there_are_examples() -> None:
    assert len(EXAMPLES) >= 2
