"""The archive tier: a local folder or an object store (fsspec) holding files taken out of a sink output.

Layout (the output directory's folder structure is kept)::

    ARCHIVE/<table>/<partition dirs>/part-....parquet        Parquet as written by the sink
    ARCHIVE/<table>/<partition dirs>/part-....jsonl.zst      JSON lines and CSV compressed with zstd
    ARCHIVE/_manifests/<commit:012d>.json                    copies of the sink's commit records
    ARCHIVE/_catalog/<number:012d>.json                      the archive's own log: files added / removed

A file is copied under a temporary name, renamed, read back and checked against the sha256 of its
manifest (decompressed first) before any commit takes it out of the output directory. The catalog is a log
like the commit log: :meth:`ArchiveStore.files` folds it into the archived files of now.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Final

import fsspec
import zstandard

from stellar_arrow.errors import LifecycleError
from stellar_arrow.sink.durable import fsync_dir, fsync_files
from stellar_arrow.sink.manifest import MANIFEST_DIR, FileManifest

__all__ = ["ArchiveRecord", "ArchiveStore", "ArchivedFile"]

CATALOG_DIR: Final = "_catalog"
_TEXT_FORMATS: Final = ("jsonl", "csv")
_CHUNK: Final = 1 << 20


@dataclass(frozen=True, slots=True)
class ArchivedFile:
    """One file in the archive: its original manifest, where it lies, and its archived size and hash."""

    manifest: FileManifest
    archived_path: str  # relative to the archive root
    compression: str  # none | zstd
    archived_bytes: int
    archived_sha256: str
    newest: str  # ISO-8601 close time of its newest row (its age)
    archived_at: str

    @classmethod
    def from_dict(cls, body: dict[str, Any]) -> ArchivedFile:
        return cls(**{**body, "manifest": FileManifest(**body["manifest"])})


@dataclass(frozen=True, slots=True)
class ArchiveRecord:
    """One entry of the archive catalog: files added (archival) or removed (purge), by one action."""

    number: int
    action: str
    added: tuple[ArchivedFile, ...] = ()
    removed: tuple[str, ...] = ()  # archived paths

    def to_json(self) -> bytes:
        return json.dumps(asdict(self), indent=1, sort_keys=True).encode()

    @classmethod
    def from_json(cls, raw: bytes, origin: str) -> ArchiveRecord:
        try:
            body = json.loads(raw)
            return cls(
                number=int(body["number"]),
                action=str(body["action"]),
                added=tuple(ArchivedFile.from_dict(f) for f in body["added"]),
                removed=tuple(str(p) for p in body["removed"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            msg = f"archive catalog entry {origin} is not valid: {exc}"
            raise LifecycleError(msg, path=origin) from exc


class _Hashing:
    """A write-only stream that hashes what passes through."""

    def __init__(self) -> None:
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return len(data)


class ArchiveStore:
    """The archive at ``location`` (a folder or an fsspec URL such as ``s3://bucket/prefix``)."""

    def __init__(self, location: str, storage_options: dict[str, Any] | None = None) -> None:
        self.location = location
        try:
            self.fs, root = fsspec.core.url_to_fs(location, **(storage_options or {}))
        except (ValueError, ImportError, OSError) as exc:
            msg = f"archive location {location!r} cannot be opened: {exc}"
            raise LifecycleError(msg, path=location) from exc
        self.root = root.rstrip("/")

    def _full(self, rel: str) -> str:
        return f"{self.root}/{rel}"

    def is_local(self) -> bool:
        return "file" in (self.fs.protocol if isinstance(self.fs.protocol, tuple) else (self.fs.protocol,))

    def check_writable(self, output_dir: Path) -> None:
        """Refuse an archive inside the output directory, or one that cannot be written (nothing changed)."""
        if self.is_local():
            archive = Path(self.root).resolve()
            out = output_dir.resolve()
            if archive == out or out in archive.parents:
                msg = f"archive location {self.location} is inside the output directory {output_dir}"
                raise LifecycleError(msg, path=self.location)
        probe = self._full(".write-probe")
        try:
            self.fs.makedirs(self.root, exist_ok=True)
            with self.fs.open(probe, "wb") as fh:
                fh.write(b"probe")
            self.fs.rm(probe)
        except Exception as exc:  # any backend's failure (permissions, credentials, no bucket) -> one error
            msg = f"archive location {self.location} is not writable: {exc}"
            raise LifecycleError(msg, path=self.location) from exc

    # -- files -------------------------------------------------------------------------------------------

    @staticmethod
    def archived_name(manifest: FileManifest) -> tuple[str, str]:
        """``(archived path, compression)`` of a manifest's file: text formats get ``.zst``."""
        if manifest.format in _TEXT_FORMATS:
            return manifest.path + ".zst", "zstd"
        return manifest.path, "none"

    def put(self, source: Path, manifest: FileManifest, *, newest: str, archived_at: str) -> ArchivedFile:
        """Copy (and compress) one file, then read it back and check the original sha256."""
        rel, compression = self.archived_name(manifest)
        final = self._full(rel)
        tmp = final + ".tmp"
        hashed = _Hashing()
        try:
            self.fs.makedirs(final.rsplit("/", 1)[0], exist_ok=True)
            with source.open("rb") as src, self.fs.open(tmp, "wb") as dst:
                if compression == "zstd":
                    tee: Any = _Tee(dst, hashed)
                    writer = zstandard.ZstdCompressor(level=10).stream_writer(tee, closefd=False)
                    _copy(src, writer)
                    writer.flush(zstandard.FLUSH_FRAME)
                else:
                    _copy(src, _Tee(dst, hashed))
            self.fs.mv(tmp, final)
            self._sync(final)
        except OSError as exc:
            msg = f"archiving {manifest.path} to {final} failed: {exc}"
            raise LifecycleError(msg, path=manifest.path) from exc
        if self.original_sha256(rel, compression) != manifest.sha256:
            msg = f"the archived copy {final} does not read back as {manifest.path} (sha256 differs)"
            raise LifecycleError(msg, path=manifest.path)
        return ArchivedFile(
            manifest, rel, compression, hashed.size, hashed.digest.hexdigest(), newest, archived_at
        )

    def original_sha256(self, rel: str, compression: str) -> str:
        """sha256 of the original bytes of an archived file (decompressed when needed)."""
        digest = _Hashing()
        with self.fs.open(self._full(rel), "rb") as fh:
            if compression == "zstd":
                reader = zstandard.ZstdDecompressor().stream_reader(fh)
                _copy(reader, digest)
            else:
                _copy(fh, digest)
        return digest.digest.hexdigest()

    def open_original(self, rel: str, compression: str) -> IO[bytes]:
        """A stream of the original bytes of an archived file."""
        fh = self.fs.open(self._full(rel), "rb")
        if compression == "zstd":
            return zstandard.ZstdDecompressor().stream_reader(fh, closefd=True)
        return fh  # type: ignore[no-any-return]

    def delete(self, rel: str) -> None:
        path = self._full(rel)
        for name in (path, path + ".tmp"):
            if self.fs.exists(name):
                self.fs.rm(name)

    def keep_commit_record(self, output_dir: Path, commit: int) -> None:
        """Copy the sink's commit record ``commit`` into ``ARCHIVE/_manifests/`` (once)."""
        name = f"{commit:012d}.json"
        target = self._full(f"{MANIFEST_DIR}/{name}")
        if self.fs.exists(target):
            return
        self.fs.makedirs(self._full(MANIFEST_DIR), exist_ok=True)
        self.fs.pipe_file(target, (output_dir / MANIFEST_DIR / name).read_bytes())

    # -- catalog -----------------------------------------------------------------------------------------

    def records(self) -> Iterator[ArchiveRecord]:
        folder = self._full(CATALOG_DIR)
        if not self.fs.exists(folder):
            return
        for path in sorted(p for p in self.fs.ls(folder, detail=False) if str(p).endswith(".json")):
            yield ArchiveRecord.from_json(self.fs.cat_file(path), str(path))

    def files(self) -> dict[str, ArchivedFile]:
        """The archived files of now (catalog folded): ``{archived path: file}``."""
        out: dict[str, ArchivedFile] = {}
        for record in self.records():
            for rel in record.removed:
                out.pop(rel, None)
            for item in record.added:
                out[item.archived_path] = item
        return out

    def has_record(self, action: str) -> bool:
        return any(r.action == action for r in self.records())

    def append(
        self, action: str, *, added: tuple[ArchivedFile, ...] = (), removed: tuple[str, ...] = ()
    ) -> None:
        """Write the next catalog entry (a whole object: atomic on object stores, renamed locally)."""
        numbers = [r.number for r in self.records()]
        record = ArchiveRecord(max(numbers, default=0) + 1, action, added, removed)
        final = self._full(f"{CATALOG_DIR}/{record.number:012d}.json")
        self.fs.makedirs(self._full(CATALOG_DIR), exist_ok=True)
        tmp = self._full(f"{CATALOG_DIR}/.{record.number:012d}.json.tmp")
        self.fs.pipe_file(tmp, record.to_json())
        self.fs.mv(tmp, final)
        self._sync(final)

    def _sync(self, path: str) -> None:
        """Local archives: fsync the file and its folder (object stores are durable once a write returns)."""
        if self.is_local():
            fsync_files([Path(path)])
            fsync_dir(Path(path).parent)


class _Tee:
    def __init__(self, target: Any, hashed: _Hashing) -> None:
        self.target = target
        self.hashed = hashed

    def write(self, data: bytes) -> int:
        self.hashed.write(data)
        self.target.write(data)
        return len(data)


def _copy(src: Any, dst: Any) -> None:
    while chunk := src.read(_CHUNK):
        dst.write(chunk)
