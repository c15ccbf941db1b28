"""Seeing what the pipeline does: Prometheus metrics, health/readiness servers, structured logs."""

from __future__ import annotations
