"""Object storage under a lake root: local folders (plain file I/O), and ``s3://``, ``gs://``, ``https://``
through fsspec (imported only for those).

Reads return bytes or raise :class:`ObjectNotFound`. Transient failures (timeouts, resets, 5xx,
throttling) become a :class:`~stellar_arrow.errors.StorageError` naming the object and are retried by
the one retry layer (:mod:`stellar_arrow.resilience.retry`) behind a breaker per bucket; terminal
ones (access denied, no such bucket, other 4xx) stop at once.
Listing finds the newest object the way the Go SDK does (one ascending listing under ``root/``).
"""

from __future__ import annotations

import functools
import os
import re
import time
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from stellar_arrow.errors import ConfigError, LedgerObjectError, StellarArrowError, StorageError
from stellar_arrow.observability.metrics import PROCESSING_DURATION
from stellar_arrow.resilience.breaker import BreakerSettings, UpstreamBreaker, breaker_for, upstream_name
from stellar_arrow.resilience.classify import is_transient
from stellar_arrow.resilience.retry import RetryPolicy, retrying
from stellar_arrow.resilience.timeouts import NetworkTimeouts, disable_library_retries
from stellar_arrow.source.keys import ParsedObjectName, parse_object_name

__all__ = ["LakeStore", "ObjectNotFound"]

T = TypeVar("T")
_PARTITION = r"[0-9A-Fa-f]{8}--\d+-\d+"


class ObjectNotFound(Exception):
    """The object does not exist (yet)."""


_DENIED_CODES = frozenset(
    {"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"}
)


def _storage_error(exc: Exception, where: str, what: str) -> Exception:
    """The typed error for a failed storage call: transient StorageError, or a terminal one."""
    if isinstance(exc, StellarArrowError):
        return exc
    if type(exc).__name__ in ("NoSuchKey", "NotFound"):
        return ObjectNotFound(where)
    text = f"{where}: {what} failed: {type(exc).__name__}: {exc}"
    if is_transient(exc):
        return StorageError(text, object_key=where)
    error = getattr(exc, "response", None)
    code = error.get("Error", {}).get("Code") if isinstance(error, dict) else None
    if code in _DENIED_CODES:
        msg = f"{where}: {what} denied ({code}); check credentials or storage_options"
        return ConfigError(msg, key="storage_options")
    if code == "NoSuchBucket":
        return ConfigError(f"{where}: no such bucket", key="datalake_uri")
    return LedgerObjectError(f"{text} (not retried: a retry would get the same answer)", object_key=where)


def _is_partition(name: str) -> bool:
    return re.fullmatch(_PARTITION, name) is not None


class LakeStore:
    """Read-only access to the objects of one lake root (``uri``): timeouts, retries, a breaker.

    ``retry`` (default :class:`RetryPolicy` built from ``retry_attempts``/``retry_wait``) is the one retry
    layer: the storage library's own retries are turned off (except gcsfs's, see
    :mod:`stellar_arrow.resilience.timeouts`). ``timeouts`` bound connect, read and each whole call.
    Remote lakes share one circuit breaker per bucket or host (``lake:s3://bucket``,
    ``lake:http://host:port``).
    """

    def __init__(
        self,
        uri: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        retry_attempts: int = 4,
        retry_wait: float = 0.5,
        retry: RetryPolicy | None = None,
        timeouts: NetworkTimeouts | None = None,
        breaker: BreakerSettings | None = None,
    ) -> None:
        options = dict(storage_options or {})
        self.uri = uri.rstrip("/")
        self.protocol = uri.split("://", 1)[0].lower() if "://" in uri else "file"
        self.timeouts = timeouts or NetworkTimeouts()
        if self.protocol in ("s3", "s3a") and not _has_s3_credentials(options):
            options.setdefault("anon", True)
        if self.protocol in ("gs", "gcs") and "token" not in options:
            # anonymous unless credentials are configured (avoids probing the GCE metadata server)
            has_credentials = bool(os.environ.get("GOOGLE_APPLICATION_CREDENTIALS"))
            options["token"] = "google_default" if has_credentials else "anon"
        self._fs: Any = None  # None: a local folder, read with plain file I/O
        if self.protocol == "file":
            self._root = os.path.abspath(self.uri.removeprefix("file://") or "/").rstrip("/")
        else:
            options = self.timeouts.storage_options(self.protocol, options)
            try:
                import fsspec

                self._fs, self._root = fsspec.core.url_to_fs(self.uri, **options)
            except (ImportError, ValueError, TypeError) as exc:
                msg = f"cannot open lake {self.uri!r}: {exc}"
                raise ConfigError(msg, key="datalake_uri") from exc
            disable_library_retries(self._fs)
            self._root = self._root.rstrip("/")
        self.can_list = self.protocol not in ("http", "https")
        self._async = bool(getattr(self._fs, "async_impl", False))
        policy = retry or RetryPolicy(attempts=max(1, retry_attempts), first_wait_s=retry_wait)
        if not self.timeouts.own_retries(self.protocol):
            policy = RetryPolicy(attempts=1, budget_s=policy.budget_s)
        self._policy = policy
        self._breaker: UpstreamBreaker | None = None
        if self.protocol != "file":
            settings = breaker or BreakerSettings()
            self._breaker = breaker_for(
                upstream_name("lake", self.uri), failures=settings.failures, reset_s=settings.reset_s
            )

    def object_uri(self, key: str) -> str:
        """The full URI of ``key`` (for error messages)."""
        return f"{self.uri}/{key}"

    def _path(self, key: str) -> str:
        return f"{self._root}/{key}"

    def _limits(self) -> dict[str, Any]:
        """Keyword arguments bounding one whole call of an async fsspec filesystem."""
        return {"timeout": self.timeouts.call_s} if self._async else {}

    def _call(self, action: Callable[[], T], key: str, what: str) -> T:
        where = self.object_uri(key)

        def attempt() -> T:
            started = time.monotonic()
            try:
                result = action()
            except FileNotFoundError as exc:
                raise ObjectNotFound(where) from exc
            except PermissionError as exc:  # retrying cannot help: credentials or anon must change
                msg = f"{where}: {what} denied ({exc}); check credentials or storage_options"
                raise ConfigError(msg, key="storage_options") from exc
            except Exception as exc:  # botocore / aiohttp / google errors have no common base
                raise _storage_error(exc, where, what) from exc
            finally:
                PROCESSING_DURATION.labels("datalake", what).observe(time.monotonic() - started)
            return result

        guarded = attempt if self._breaker is None else functools.partial(self._breaker.call, attempt)
        return retrying(self._policy, f"lake_{what}", object_key=where)(guarded)

    def read(self, key: str) -> bytes:
        """The bytes of ``key``; :class:`ObjectNotFound` if absent, StorageError after retries."""
        if self._fs is None:
            return self._call(functools.partial(_read_file, self._path(key)), key, "read")
        return self._call(lambda: bytes(self._fs.cat_file(self._path(key), **self._limits())), key, "read")

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
            reply = self._fs.call_s3("list_objects_v2", **kwargs, **self._limits())
            for item in reply.get("Contents", []):
                key = str(item["Key"])[len(prefix) :]
                parsed = parse_object_name(key.rsplit("/", 1)[-1])
                if parsed is not None:
                    return key, parsed
            token = reply.get("NextContinuationToken")
            if not reply.get("IsTruncated") or not token:
                return None

    def _names(self, path: str) -> list[str]:
        if self._fs is None:
            return _local_names(path)
        entries = self._fs.ls(path, detail=False, refresh=True, **self._limits())
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


def _read_file(path: str) -> bytes:
    """A local object's bytes (``FileNotFoundError``... as ``_call`` expects them)."""
    with open(path, "rb") as f:
        return f.read()


def _local_names(path: str) -> list[str]:
    """Sorted entry names of a local folder (a file: its own name, as fsspec lists it)."""
    try:
        return sorted(os.listdir(path))
    except NotADirectoryError:
        return [os.path.basename(path)]


def _has_s3_credentials(options: Mapping[str, Any]) -> bool:
    """True when the caller chose (anon or not) or the AWS environment has credentials."""
    if "anon" in options or any(options.get(k) for k in ("key", "secret", "token", "profile", "session")):
        return True
    names = ("AWS_ACCESS_KEY_ID", "AWS_PROFILE", "AWS_WEB_IDENTITY_TOKEN_FILE")
    return any(os.environ.get(name) for name in names)
