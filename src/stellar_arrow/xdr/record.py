"""Base classes of the generated XDR model: light, immutable values read by attribute name.

A struct is a tuple of its fields; a union is the tuple ``(discriminant, value)``; both may carry
their raw XDR bytes as a last element (``xdr``). Tuples are the cheapest objects CPython builds, so
the generated decoder creates them with ``tuple.__new__`` and the classes only add names.
"""

from __future__ import annotations

from operator import itemgetter
from typing import Any, ClassVar

__all__ = ["Enum", "Struct", "Union", "arm", "field"]


def field(index: int) -> Any:
    """A read-only attribute returning element ``index`` of the tuple."""
    return property(itemgetter(index))


def arm(cases: tuple[int, ...]) -> Any:
    """A union arm: its value when the discriminant is one of ``cases``, else None."""
    if len(cases) == 1:
        (case,) = cases

        def get_one(self: tuple[Any, ...]) -> Any:
            return self[1] if self[0] == case else None

        return property(get_one)
    allowed = frozenset(cases)

    def get_any(self: tuple[Any, ...]) -> Any:
        return self[1] if self[0] in allowed else None

    return property(get_any)


class Struct(tuple):  # type: ignore[type-arg]
    """An XDR struct value."""

    __slots__ = ()
    FIELDS: tuple[str, ...] = ()

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={value!r}" for name, value in zip(self.FIELDS, self, strict=False))
        return f"{type(self).__name__}({inner})"

    def to_dict(self) -> dict[str, Any]:
        return dict(zip(self.FIELDS, self, strict=False))


class Union(tuple):  # type: ignore[type-arg]
    """An XDR union value: ``(discriminant, value[, xdr])``."""

    __slots__ = ()
    DISCRIMINANT = "type"

    value = field(1)  # the arm's value (a C-level getter: read very often)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.DISCRIMINANT}={self[0]!r}, value={self[1]!r})"


class Enum:
    """Namespace of an XDR enum's members as int constants; ``NAMES`` maps value -> member name."""

    NAMES: ClassVar[dict[int, str]] = {}
