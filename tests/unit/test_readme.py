"""The README's example runs as written and prints real transfers."""

from __future__ import annotations

import contextlib
import io
import re

from tests.conftest import REPO


def test_readme_example_runs() -> None:
    text = (REPO / "README.md").read_text()
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, "README.md", "exec"), {"__name__": "readme"})
    lines = out.getvalue().splitlines()
    assert len(lines) > 10
    assert all(line.split()[0] in {"63092982", "63092983", "63092984"} for line in lines)
    assert any(line.endswith(" native") for line in lines)
