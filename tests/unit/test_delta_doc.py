"""docs/delta.md: its export command and its Python example run as written (on a temporary folder)."""

from __future__ import annotations

import contextlib
import io
import re
import shlex
from pathlib import Path

import pyarrow.compute as pc
from typer.testing import CliRunner

from stellar_arrow.build import table_schema
from stellar_arrow.cli import app
from stellar_arrow.sink.delta import read_delta_table
from tests.conftest import REPO

DOC = REPO / "docs" / "delta.md"


def test_the_delta_doc_examples_run(tmp_path: Path) -> None:
    text = DOC.read_text()
    (command,) = re.findall(r"```bash\n(.*?)```", text, flags=re.S)
    args = shlex.split(command.replace("\\\n", " "))
    assert args[:2] == [".venv/bin/stellar-arrow", "export"]
    out = tmp_path / "delta-demo"
    args = [
        str(out) if a == "out/delta-demo" else str(REPO / a) if a.startswith("data/") else a for a in args
    ]
    result = CliRunner().invoke(app, [*args[1:], "--no-progress"])
    assert result.exit_code == 0, result.output
    (code,) = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):
        exec(compile(code.replace("out/delta-demo", str(out)), str(DOC), "exec"), {"__name__": "delta_doc"})
    lines = printed.getvalue().splitlines()
    assert lines[:3] == [
        "1 63093001",
        "1 WRITE 63093001",
        "0 WRITE 63092991",
    ]  # one per chunk
    assert lines[4] == "(63092982, 63093001, 20)"
    rows = read_delta_table(out / "delta" / "token_transfers", table_schema("token_transfers"))
    native = rows.filter(pc.equal(rows["asset"], "native"))
    want = []
    for kind in set(native["event_type"].to_pylist()):
        part = native.filter(pc.equal(native["event_type"], kind))
        want.append((kind, part.num_rows, pc.sum(part["amount"]).as_py()))
    assert lines[3] == repr(sorted(want, key=lambda w: -w[1]))
