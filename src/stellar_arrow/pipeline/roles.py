"""The three service roles of a pipeline, and the network settled once for all of them.

A small module on purpose: the supervisor of ``stellar-arrow run`` imports it without the services'
code (decoder, table builders, DuckDB, FastAPI), which only the service processes load.
"""

from __future__ import annotations

from typing import Literal

from stellar_arrow.config import Settings
from stellar_arrow.source.open import settle_source_network

__all__ = ["ROLES", "Role", "settle_settings_network"]

Role = Literal["source", "processor", "sink"]
ROLES: tuple[Role, ...] = ("source", "processor", "sink")


def settle_settings_network(settings: Settings) -> Settings:
    """``settings`` with ``source.network_passphrase`` set: configured, declared by the source or detected."""
    return settings.model_copy(update={"source": settle_source_network(settings.source)})
