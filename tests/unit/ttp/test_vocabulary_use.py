"""The core (ledger, tables, ttp) spells no list of event types, tables or operation types of its own."""

from __future__ import annotations

import re

import stellar_arrow.ttp.events as events
import stellar_arrow.ttp.schema as schema
from stellar_arrow import vocabulary
from tests.conftest import REPO

CORE = [REPO / "src" / "stellar_arrow" / part for part in ("ledger", "tables", "ttp")]
# a tuple/list/Literal holding two or more of the event type words, or a table-name list, or the op-type map
COPIES = [
    re.compile(
        r"""["'](transfer|mint|burn|clawback|fee)["']\s*,\s*["'](transfer|mint|burn|clawback|fee)["']"""
    ),
    re.compile(
        r"""["'](ledgers|transactions|operations|token_transfers)["']\s*,\s*["'](ledgers|transactions)"""
    ),
    re.compile(r"OperationType\.NAMES"),
]


def test_no_module_of_the_core_declares_the_vocabulary_again() -> None:
    found = []
    for folder in CORE:
        for path in sorted(folder.glob("*.py")):
            if path.name == "tableset.py":  # owned by the decode-once work; checked when it lands
                continue
            text = path.read_text(encoding="utf-8")
            found.extend(f"{path.name}: {m.group(0)}" for pattern in COPIES for m in pattern.finditer(text))
    assert found == []


def test_the_event_classes_use_the_vocabulary() -> None:
    assert events.EventType is vocabulary.EventType
    assert {
        cls.event_type for cls in (events.Transfer, events.Mint, events.Burn, events.Clawback, events.Fee)
    } == set(vocabulary.EVENT_TYPES)
    assert "EVENT_TYPES" not in schema.__all__
