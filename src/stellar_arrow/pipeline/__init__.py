"""Wiring the Flight services into a pipeline: components from settings, process supervision, ``run``."""

from __future__ import annotations

__all__: list[str] = []
