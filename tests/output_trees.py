"""Comparing two exported outputs (file or object name -> bytes) with a failure that names the files.

A plain ``assert a == b`` on such dicts prints whole Parquet files and hides which names differ.
"""

from __future__ import annotations

from collections.abc import Mapping

__all__ = ["assert_same_files"]


def assert_same_files(actual: Mapping[str, bytes], expected: Mapping[str, bytes]) -> None:
    """Same names, and byte-for-byte the same content under every name."""
    extra = sorted(set(actual) - set(expected))
    missing = sorted(set(expected) - set(actual))
    differing = sorted(name for name in set(actual) & set(expected) if actual[name] != expected[name])
    sizes = {name: (len(actual[name]), len(expected[name])) for name in differing}
    assert not (extra or missing or differing), (
        f"outputs differ: extra {extra}, missing {missing}, differing (size actual, expected) {sizes}"
    )
