"""Where an export writes: a local folder, or any fsspec URL (``s3://bucket/prefix``, ``gs://``, ``memory://``).

Both hold objects under keys relative to the output root (``ledgers/ledgers-2-101.parquet``,
``_manifests/chunk-2-101.json``) and give the same guarantee: :meth:`OutputStore.put` makes a key
appear whole or not at all.

* :class:`LocalOutput` writes a temporary sibling file, fsyncs it, renames it and fsyncs the folder.
* :class:`ObjectStoreOutput` renders the object in memory and stores it with one PUT (an object store
  shows a new object only once it is complete), through the one retry layer, with timeouts and a
  circuit breaker per bucket (``output:s3://bucket``). Credentials come from the environment (e.g.
  ``AWS_ACCESS_KEY_ID``/``AWS_SECRET_ACCESS_KEY``, ``GOOGLE_APPLICATION_CREDENTIALS``) or from
  ``export.output_storage_options`` of a one-process export; a cluster export never sends them in a task.

An export writes every data object of a chunk first and its manifest last: the manifest is the
commit (:mod:`stellar_arrow.export.manifest`).
"""

from __future__ import annotations

import abc
import contextlib
import functools
import hashlib
import io
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO, TypeVar

from stellar_arrow.errors import ConfigError, SinkError, StellarArrowError, StorageError
from stellar_arrow.resilience.breaker import breaker_for, upstream_name
from stellar_arrow.resilience.classify import is_transient
from stellar_arrow.resilience.retry import RetryPolicy, retrying
from stellar_arrow.resilience.timeouts import NetworkTimeouts, disable_library_retries

__all__ = ["LocalOutput", "ObjectStoreOutput", "OutputStore", "Stored", "is_remote", "open_output"]

T = TypeVar("T")
Render = Callable[[BinaryIO], object]


@dataclass(frozen=True, slots=True)
class Stored:
    """What :meth:`OutputStore.put` wrote: size and SHA-256 of the object."""

    bytes: int
    sha256: str


def is_remote(uri: str) -> bool:
    """True for an fsspec URL other than ``file://`` (``s3://``, ``gs://``, ``memory://``, ...)."""
    return "://" in uri and not uri.lower().startswith("file://")


class OutputStore(abc.ABC):
    """The output root of an export: atomic puts, reads, listings and removals by relative key."""

    uri: str

    @abc.abstractmethod
    def location(self, key: str) -> str:
        """Where ``key`` is, for messages and summaries."""

    @abc.abstractmethod
    def put(self, key: str, render: Render) -> Stored:
        """Write what ``render`` writes as ``key``, atomically."""

    @abc.abstractmethod
    def size(self, key: str) -> int | None:
        """The size of ``key``; None when it does not exist."""

    @abc.abstractmethod
    def read(self, key: str) -> bytes | None:
        """The bytes of ``key``; None when it does not exist."""

    @contextlib.contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        """``key`` opened for reading (OSError when it cannot be read)."""
        data = self.read(key)
        if data is None:
            raise FileNotFoundError(self.location(key))
        yield io.BytesIO(data)

    def sha256(self, key: str) -> str:
        data = self.read(key)
        if data is None:
            raise FileNotFoundError(self.location(key))
        return hashlib.sha256(data).hexdigest()

    @abc.abstractmethod
    def names(self, folder: str) -> list[str]:
        """Names of the objects directly under ``folder`` (empty when there is none)."""

    @abc.abstractmethod
    def remove(self, key: str) -> None:
        """Delete ``key`` if it exists."""

    @abc.abstractmethod
    def check_writable(self, tables: tuple[str, ...]) -> None:
        """Refuse, before any ledger is read, an output that cannot be written (ConfigError)."""


class LocalOutput(OutputStore):
    """A local folder; every put is a durable rename (crash-safe)."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.uri = str(root)

    def path(self, key: str) -> Path:
        return self.root / key

    def location(self, key: str) -> str:
        return str(self.path(key))

    def put(self, key: str, render: Render) -> Stored:
        from stellar_arrow.export.manifest import durable_replace

        path = self.path(key)
        tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            with tmp.open("wb") as out:
                render(out)
                out.flush()
            durable_replace(tmp, path)
        except OSError as exc:
            msg = f"cannot write {path}: {exc}"
            raise SinkError(msg) from exc
        finally:
            tmp.unlink(missing_ok=True)
        return Stored(path.stat().st_size, self.sha256(key))

    def size(self, key: str) -> int | None:
        path = self.path(key)
        return path.stat().st_size if path.is_file() else None

    def read(self, key: str) -> bytes | None:
        path = self.path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            return None

    @contextlib.contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        with self.path(key).open("rb") as fh:
            yield fh

    def sha256(self, key: str) -> str:
        digest = hashlib.sha256()
        with self.path(key).open("rb") as fh:
            while block := fh.read(1 << 20):
                digest.update(block)
        return digest.hexdigest()

    def names(self, folder: str) -> list[str]:
        path = self.root / folder
        return sorted(p.name for p in path.iterdir()) if path.is_dir() else []

    def remove(self, key: str) -> None:
        self.path(key).unlink(missing_ok=True)

    def check_writable(self, tables: tuple[str, ...]) -> None:
        out_dir = self.root
        for folder in (out_dir, *(out_dir / t for t in tables)):
            if folder.exists() and not folder.is_dir():
                msg = f"--out {out_dir}: {folder} is a file, not a folder"
                raise ConfigError(msg, key="export.output_dir")
        existing = out_dir.absolute()
        while not existing.exists():
            existing = existing.parent
        if not existing.is_dir():
            msg = f"--out {out_dir} cannot be written: {existing} is a file, not a folder"
            raise ConfigError(msg, key="export.output_dir")
        probe = existing / f".stellar-arrow-write-probe-{os.getpid()}"
        try:
            probe.write_bytes(b"")
            probe.unlink()
        except OSError as exc:
            msg = f"--out {out_dir} cannot be written: {exc.strerror or exc} ({existing})"
            raise ConfigError(msg, key="export.output_dir") from None


_DENIED = frozenset({"AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "AllAccessDisabled"})


class ObjectStoreOutput(OutputStore):
    """An fsspec URL; every put is one whole-object write, retried on transient failures."""

    def __init__(
        self,
        uri: str,
        *,
        storage_options: Mapping[str, Any] | None = None,
        timeouts: NetworkTimeouts | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        import fsspec

        self.uri = uri.rstrip("/")
        self.protocol = self.uri.split("://", 1)[0].lower()
        limits = timeouts or NetworkTimeouts()
        options = limits.storage_options(self.protocol, dict(storage_options or {}))
        try:
            self._fs, root = fsspec.core.url_to_fs(self.uri, **options)
        except (ImportError, ValueError, TypeError) as exc:
            msg = f"cannot open output {self.uri!r}: {exc}"
            raise ConfigError(msg, key="export.output_dir") from exc
        disable_library_retries(self._fs)
        self._root = str(root).rstrip("/")
        self._policy = retry or RetryPolicy()
        if not limits.own_retries(self.protocol):
            self._policy = RetryPolicy(attempts=1, budget_s=self._policy.budget_s)
        self._breaker = breaker_for(upstream_name("output", self.uri))
        self._last_read: tuple[str, bytes] | None = None

    def location(self, key: str) -> str:
        return f"{self.uri}/{key}"

    def _key(self, key: str) -> str:
        return f"{self._root}/{key}"

    def _call(self, action: Callable[[], T], key: str, what: str) -> T:
        where = self.location(key)

        def attempt() -> T:
            try:
                return action()
            except FileNotFoundError:
                raise
            except StellarArrowError:
                raise
            except Exception as exc:  # botocore / aiohttp / google errors have no common base
                raise _output_error(exc, where, what) from exc

        guarded = functools.partial(self._breaker.call, attempt)
        return retrying(self._policy, f"output_{what}", object_key=where)(guarded)

    def put(self, key: str, render: Render) -> Stored:
        buffer = io.BytesIO()
        render(buffer)
        data = buffer.getvalue()
        try:
            self._call(lambda: self._fs.pipe_file(self._key(key), data), key, "write")
        except FileNotFoundError:  # s3fs / gcsfs: the bucket does not exist
            msg = f"{self.location(key)}: no such bucket (create it, or fix export.output_dir {self.uri!r})"
            raise ConfigError(msg, key="export.output_dir") from None
        return Stored(len(data), hashlib.sha256(data).hexdigest())

    def size(self, key: str) -> int | None:
        try:
            info = self._call(lambda: self._fs.info(self._key(key)), key, "stat")
        except FileNotFoundError:
            return None
        return int(info["size"]) if info.get("type", "file") == "file" else None

    def read(self, key: str) -> bytes | None:
        try:
            return bytes(self._call(lambda: self._fs.cat_file(self._key(key)), key, "read"))
        except FileNotFoundError:
            return None

    @contextlib.contextmanager
    def reader(self, key: str) -> Iterator[BinaryIO]:
        data = self.read(key)
        if data is None:
            raise FileNotFoundError(self.location(key))
        self._last_read = (key, data)  # a check reads rows, then the hash: one download for both
        yield io.BytesIO(data)

    def sha256(self, key: str) -> str:
        last, self._last_read = self._last_read, None
        data = last[1] if last is not None and last[0] == key else self.read(key)
        if data is None:
            raise FileNotFoundError(self.location(key))
        return hashlib.sha256(data).hexdigest()

    def names(self, folder: str) -> list[str]:
        def listing() -> list[str]:
            self._fs.invalidate_cache(self._key(folder))
            return [
                str(p).rstrip("/").rsplit("/", 1)[-1] for p in self._fs.ls(self._key(folder), detail=False)
            ]

        try:
            return sorted(self._call(listing, folder, "list"))
        except FileNotFoundError:
            return []

    def remove(self, key: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._call(lambda: self._fs.rm_file(self._key(key)), key, "delete")

    def check_writable(self, tables: tuple[str, ...]) -> None:
        """Write and delete a probe object: wrong credentials or a missing bucket stop here."""
        probe = f"_manifests/.stellar-arrow-write-probe-{os.getpid()}"
        self.put(probe, lambda out: out.write(b""))
        self.remove(probe)


def _output_error(exc: Exception, where: str, what: str) -> Exception:
    """A transient StorageError (retried), or a terminal error naming the object."""
    if type(exc).__name__ in ("NoSuchKey", "NotFound"):
        return FileNotFoundError(where)
    text = f"{where}: {what} failed: {type(exc).__name__}: {exc}"
    if is_transient(exc):
        return StorageError(text, object_key=where)
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else None
    if isinstance(exc, PermissionError) or code in _DENIED:
        msg = (
            f"{where}: {what} denied; check the credentials in the environment "
            "or export.output_storage_options"
        )
        return ConfigError(msg, key="export.output_storage_options")
    if code == "NoSuchBucket":
        return ConfigError(f"{where}: no such bucket", key="export.output_dir")
    return SinkError(f"{text} (not retried: a retry would get the same answer)")


def open_output(uri: str, storage_options: Mapping[str, Any] | None = None) -> OutputStore:
    """The output store of ``uri``: a local folder (a path or ``file://``) or an fsspec object store."""
    if is_remote(uri):
        return ObjectStoreOutput(uri, storage_options=storage_options)
    return LocalOutput(Path(uri.removeprefix("file://")) if uri.lower().startswith("file://") else Path(uri))
