"""Networks: passphrases by name, network ids, and which network a ledger belongs to.

Network id = SHA-256(passphrase). Pure: no I/O.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache

__all__ = ["NETWORK_PASSPHRASES", "PUBNET", "TESTNET", "Network", "require_network", "resolve_network"]

#: Well-known network names (case-insensitive) and their passphrases.
NETWORK_PASSPHRASES: dict[str, str] = {
    "pubnet": "Public Global Stellar Network ; September 2015",
    "mainnet": "Public Global Stellar Network ; September 2015",
    "public": "Public Global Stellar Network ; September 2015",
    "testnet": "Test SDF Network ; September 2015",
    "test": "Test SDF Network ; September 2015",
    "futurenet": "Test SDF Future Network ; October 2022",
    "standalone": "Standalone Network ; February 2017",
}


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


def require_network(value: object) -> Network:
    """``value`` if it is a :class:`Network`; a ``TypeError`` saying how to make one otherwise.

    The core takes the network as a value, never as a passphrase string: a string here is a caller that
    has not been updated, and guessing whether it is a name or a passphrase would hide that.
    """
    if isinstance(value, Network):
        return value
    hint = " (use stellar_arrow.ledger.resolve_network(...) on it)" if isinstance(value, str) else ""
    msg = f"network must be a stellar_arrow.ledger.Network, got {type(value).__name__} {value!r}{hint}"
    raise TypeError(msg)


#: The public network and the test network.
PUBNET = resolve_network("pubnet")
TESTNET = resolve_network("testnet")
