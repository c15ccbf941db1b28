"""Deep equality of model values that also checks classes (tuples compare equal across classes)."""

from __future__ import annotations

from typing import Any


def assert_same(a: Any, b: Any, path: str = "$") -> None:
    assert type(a) is type(b), f"{path}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, tuple):
        assert len(a) == len(b), f"{path}: length {len(a)} != {len(b)}"
        names = getattr(a, "FIELDS", None) or ("discriminant", "value", "xdr")
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}.{names[i] if i < len(names) else i}")
    elif isinstance(a, list):
        assert len(a) == len(b), f"{path}: list length {len(a)} != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            assert_same(x, y, f"{path}[{i}]")
    else:
        assert a == b, f"{path}: {a!r} != {b!r}"
