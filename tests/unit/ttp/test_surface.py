"""The curated public surface of stellar_arrow.ttp and module hygiene."""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

import stellar_arrow.ttp as ttp


def test_all_names_exist() -> None:
    assert sorted(ttp.__all__) == sorted(set(ttp.__all__))
    for name in ttp.__all__:
        assert hasattr(ttp, name), name


def test_every_module_declares_all_and_stays_small() -> None:
    """Python modules and the parts (``.pyx``/``.pxi``) of the compiled ones (when built) alike."""
    for info in pkgutil.iter_modules(ttp.__path__):
        module = importlib.import_module(f"stellar_arrow.ttp.{info.name}")
        assert hasattr(module, "__all__"), info.name
        path = Path(module.__file__ or "")
        sources = [path]
        if path.suffix == ".so":
            sources = [p for p in path.parent.glob(f"{info.name}*") if p.suffix in (".pyx", ".pxi")]
            assert sources, info.name
        for source in sources:
            with source.open(encoding="utf-8") as fh:
                assert sum(1 for _ in fh) < 400, source.name
