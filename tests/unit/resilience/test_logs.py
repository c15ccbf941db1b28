"""Structured logs: JSON lines off a terminal (or when asked), with the component and the context fields."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest
import structlog

from stellar_arrow.observability.logs import configure_logging, get_logger


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    config = structlog.get_config()
    yield
    structlog.configure(**config)
    root.handlers[:] = handlers
    root.setLevel(level)


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_json_when_not_a_terminal_with_component_and_context() -> None:
    out = io.StringIO()
    configure_logging("processor", stream=out)
    get_logger("stellar_arrow.test").warning(
        "event derivation failed", ledger_sequence=63092990, tx_hash="ab" * 32
    )
    logging.getLogger("grpc.library").error("a library record")
    get_logger("stellar_arrow.test").debug("not shown at info")
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(lines) == 2
    first, second = lines
    assert first["event"] == "event derivation failed" and first["level"] == "warning"
    assert first["component"] == "processor" and first["ledger_sequence"] == 63092990
    assert first["tx_hash"] == "ab" * 32 and first["logger"] == "stellar_arrow.test"
    assert first["timestamp"].endswith("Z")
    assert second == {**second, "event": "a library record", "level": "error", "component": "processor"}


def test_console_on_a_terminal_and_json_on_request() -> None:
    tty = Tty()
    configure_logging("sink", stream=tty)
    get_logger("x").info("committed", ledger_sequence=5)
    line = tty.getvalue().strip()
    assert "committed" in line and "ledger_sequence=5" in line and "component=sink" in line
    with pytest.raises(json.JSONDecodeError):
        json.loads(line)
    forced = Tty()
    configure_logging("sink", stream=forced, log_format="json", level="debug")
    get_logger("x").debug("detail")
    assert json.loads(forced.getvalue())["level"] == "debug"
