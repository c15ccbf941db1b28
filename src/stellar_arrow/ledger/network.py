"""Networks: passphrases by name, network ids, and which network a ledger belongs to.

Network id = SHA-256(passphrase). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

from stellar_arrow.config import NETWORK_PASSPHRASES

__all__ = ["Network", "resolve_network"]


@dataclass(frozen=True, slots=True)
class Network:
    """A Stellar network: its passphrase and id (SHA-256 of the passphrase)."""

    passphrase: str
    network_id: bytes

    @classmethod
    def from_passphrase(cls, passphrase: str) -> Network:
        return _network(passphrase)

    @property
    def name(self) -> str:
        """``pubnet``/``testnet``/... for a well-known passphrase, else the passphrase itself."""
        for name, passphrase in NETWORK_PASSPHRASES.items():
            if passphrase == self.passphrase:
                return name
        return self.passphrase


@cache
def _network(passphrase: str) -> Network:
    return Network(passphrase, hashlib.sha256(passphrase.encode("utf-8")).digest())


def resolve_network(name_or_passphrase: str) -> Network:
    """``pubnet``, ``testnet``, ``futurenet``, ``standalone`` (case-insensitive) or a literal passphrase."""
    passphrase = NETWORK_PASSPHRASES.get(name_or_passphrase.strip().lower(), name_or_passphrase)
    return _network(passphrase)
