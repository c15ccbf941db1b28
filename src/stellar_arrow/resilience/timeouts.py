"""Time limits for every network operation: connect, read (between bytes), whole call.

:class:`NetworkTimeouts` is the one value object the sources take; it also knows how to hand the
limits to each client library, and how to turn off the libraries' own retries so that there is one
retry layer (ours, :mod:`stellar_arrow.resilience.retry`):

* httpx (RPC): ``httpx.Timeout(connect, read, write, pool)``; the whole call is bounded by the caller.
* s3fs / aiobotocore: ``config_kwargs`` connect/read timeouts, botocore ``total_max_attempts: 1`` (its
  ``max_attempts`` counts retries after the first attempt: ``1`` would be one hidden retry), and
  s3fs's own retry loop set to one attempt (:func:`disable_library_retries`).
* fsspec HTTP: an aiohttp ``ClientTimeout`` (connect, sock_read, total).
* gcsfs: ``requests_timeout``; gcsfs's retry decorator cannot be turned off, so for ``gs://`` lakes it
  is the one retry layer and ours makes a single attempt (:meth:`NetworkTimeouts.own_retries`).
* async fsspec filesystems: the whole call is bounded with fsspec's ``sync(timeout=...)``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from stellar_arrow.errors import ConfigError

__all__ = ["NetworkTimeouts", "disable_library_retries"]


@dataclass(frozen=True, slots=True)
class NetworkTimeouts:
    """Seconds allowed to connect, to wait for the next bytes, and for one whole call."""

    connect_s: float = 5.0
    read_s: float = 10.0
    call_s: float = 30.0

    def __post_init__(self) -> None:
        for name in ("connect_s", "read_s", "call_s"):
            value = getattr(self, name)
            if not 0 < value <= 3600:
                msg = f"timeout {name} must be within (0, 3600] seconds, got {value}"
                raise ConfigError(msg, key=f"source.{name.removesuffix('_s')}_timeout_s")

    def httpx(self) -> Any:
        import httpx

        return httpx.Timeout(self.call_s, connect=self.connect_s, read=self.read_s, write=self.read_s)

    def storage_options(self, protocol: str, options: Mapping[str, Any]) -> dict[str, Any]:
        """``options`` for fsspec with these limits and library retries off (the caller's keys win)."""
        merged = dict(options)
        if protocol in ("s3", "s3a"):
            config = dict(merged.get("config_kwargs") or {})
            config.setdefault("connect_timeout", self.connect_s)
            config.setdefault("read_timeout", self.read_s)
            config.setdefault("retries", {"total_max_attempts": 1, "mode": "standard"})
            merged["config_kwargs"] = config
        elif protocol in ("http", "https"):
            import aiohttp

            client = dict(merged.get("client_kwargs") or {})
            client.setdefault(
                "timeout",
                aiohttp.ClientTimeout(total=self.call_s, sock_connect=self.connect_s, sock_read=self.read_s),
            )
            merged["client_kwargs"] = client
        elif protocol in ("gs", "gcs"):
            merged.setdefault("requests_timeout", self.read_s)
        return merged

    @staticmethod
    def own_retries(protocol: str) -> bool:
        """False where the storage library's retries cannot be turned off (gcsfs)."""
        return protocol not in ("gs", "gcs")


def disable_library_retries(fs: Any) -> None:
    """Make s3fs's internal retry loop a single attempt (botocore's is off via ``config_kwargs``)."""
    if type(fs).__name__ == "S3FileSystem":
        fs.retries = 1
