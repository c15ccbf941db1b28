"""The documented examples of ``stellar_arrow.testing`` run as written."""

from __future__ import annotations

import doctest
import re

import stellar_arrow.testing
from tests.conftest import REPO


def test_the_docs_example_runs() -> None:
    text = (REPO / "docs" / "sink-and-api.md").read_text()
    section = text.split("## Testing with fakes", 1)[1]
    (code,) = re.findall(r"```python\n(.*?)```", section, flags=re.S)
    exec(compile(code, "docs/sink-and-api.md", "exec"), {"__name__": "docs"})


def test_the_module_docstring_example_runs() -> None:
    result = doctest.testmod(stellar_arrow.testing, raise_on_error=False, verbose=False)
    assert result.attempted > 0 and result.failed == 0
