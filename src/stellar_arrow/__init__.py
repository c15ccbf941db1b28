"""stellar-arrow: an Arrow-native pipeline for Stellar ledgers."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
