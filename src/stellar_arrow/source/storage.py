"""Object storage under a lake root, through fsspec: local folders, ``s3://``, ``gs://``, ``https://``.

Reads return bytes or raise :class:`ObjectNotFound`; every other failure becomes a
:class:`~stellar_arrow.errors.StorageError` naming the object, retried with exponential backoff.
Listing finds the newest object the way the Go SDK does (one ascending listing under ``root/``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

import fsspec
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_exponential

from stellar_arrow.errors import ConfigError, StorageError
from stellar_arrow.source.keys import ParsedObjectName, parse_object_name

__all__ = ["LakeStore", "ObjectNotFound"]

T = TypeVar("T")
_PARTITION = r"[0-9A-Fa-f]{8}--\d+-\d+"


class ObjectNotFound(Exception):
    """The object does not exist (yet)."""


def _is_partition(name: str) -> bool:
    return re.fullmatch(_PARTITION, name) is not None


class LakeStore:
    """Read-only access to the objects of one lake root (``uri``), with retries."""

    def __init__(
        self,
        uri: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        retry_attempts: int = 4,
        retry_wait: float = 0.5,
    ) -> None:
        options = dict(storage_options or {})
        self.uri = uri.rstrip("/")
        self.protocol = uri.split("://", 1)[0].lower() if "://" in uri else "file"
        if self.protocol in ("s3", "s3a") and not _has_s3_credentials(options):
            options.setdefault("anon", True)
        if self.protocol in ("gs", "gcs") and "token" not in options:
            # anonymous unless credentials are configured (avoids probing the GCE metadata server)
            has_credentials = bool(os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
            options["token"] = "google_default" if has_credentials else "anon"
        try:
            self._fs, self._root = fsspec.core.url_to_fs(self.uri, **options)
        except (ImportError, ValueError, TypeError) as exc:
            msg = f"cannot open lake {self.uri!r}: {exc}"
            raise ConfigError(msg, key="datalake_uri") from exc
        self._root = self._root.rstrip("/")
        self.can_list = self.protocol not in ("http", "https")
        self._retrying = Retrying(
            stop=stop_after_attempt(max(1, retry_attempts)),
            wait=wait_exponential(multiplier=retry_wait, max=10.0),
            retry=retry_if_exception_type(StorageError),
            reraise=True,
        )

    def object_uri(self, key: str) -> str:
        """The full URI of ``key`` (for error messages)."""
        return f"{self.uri}/{key}"

    def _path(self, key: str) -> str:
        return f"{self._root}/{key}"

    def _call(self, action: Callable[[], T], key: str, what: str) -> T:
        def attempt() -> T:
            try:
                return action()
            except FileNotFoundError as exc:
                raise ObjectNotFound(self.object_uri(key)) from exc
            except PermissionError as exc:  # retrying cannot help: credentials or anon must change
                msg = f"{self.object_uri(key)}: {what} denied ({exc}); check credentials or storage_options"
                raise ConfigError(msg, key="storage_options") from exc
            except (OSError, TimeoutError, RuntimeError, ValueError) as exc:
                msg = f"{self.object_uri(key)}: {what} failed: {type(exc).__name__}: {exc}"
                raise StorageError(msg, object_key=self.object_uri(key)) from exc
            except Exception as exc:  # botocore / aiohttp / google errors have no common base
                if type(exc).__name__ in ("NoSuchKey", "NotFound"):
                    raise ObjectNotFound(self.object_uri(key)) from exc
                msg = f"{self.object_uri(key)}: {what} failed: {type(exc).__name__}: {exc}"
                raise StorageError(msg, object_key=self.object_uri(key)) from exc

        return self._retrying(attempt)

    def read(self, key: str) -> bytes:
        """The bytes of ``key``; :class:`ObjectNotFound` if absent, StorageError after retries."""
        return self._call(lambda: bytes(self._fs.cat_file(self._path(key))), key, "read")

    def newest_object(self) -> tuple[str, ParsedObjectName] | None:
        """The key and parsed name of the newest ledger object, or None for an empty lake."""
        if not self.can_list:
            msg = f"{self.uri}: {self.protocol} storage cannot be listed; give the range explicitly"
            raise ConfigError(msg, key="datalake_uri")
        if self.protocol in ("s3", "s3a"):
            return self._call(self._newest_s3, "", "list")
        return self._call(self._newest_by_walk, "", "list")

    def _newest_s3(self) -> tuple[str, ParsedObjectName] | None:
        bucket, _, prefix = self._root.partition("/")
        prefix = f"{prefix}/" if prefix else ""
        token: str | None = None
        while True:
            kwargs: dict[str, Any] = {"Bucket": bucket, "Prefix": prefix, "MaxKeys": 1000}
            if token:
                kwargs["ContinuationToken"] = token
            reply = self._fs.call_s3("list_objects_v2", **kwargs)
            for item in reply.get("Contents", []):
                key = str(item["Key"])[len(prefix) :]
                parsed = parse_object_name(key.rsplit("/", 1)[-1])
                if parsed is not None:
                    return key, parsed
            token = reply.get("NextContinuationToken")
            if not reply.get("IsTruncated") or not token:
                return None

    def _names(self, path: str) -> list[str]:
        entries = self._fs.ls(path, detail=False, refresh=True)
        return sorted(str(entry).rstrip("/").rsplit("/", 1)[-1] for entry in entries)

    def _newest_by_walk(self) -> tuple[str, ParsedObjectName] | None:
        for name in self._names(self._root):
            parsed = parse_object_name(name)
            if parsed is not None:
                return name, parsed
            if _is_partition(name):
                for inner in self._names(f"{self._root}/{name}"):
                    parsed = parse_object_name(inner)
                    if parsed is not None:
                        return f"{name}/{inner}", parsed
        return None


def _has_s3_credentials(options: Mapping[str, Any]) -> bool:
    """True when the caller chose (anon or not) or the AWS environment has credentials."""
    if "anon" in options or any(options.get(k) for k in ("key", "secret", "token", "profile", "session")):
        return True
    names = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")
    return any(os.environ.get(name) for name in names)
