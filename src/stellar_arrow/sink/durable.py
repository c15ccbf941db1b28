"""Durable file writes: data reaches the disk (fsync) before a rename makes it visible.

* :func:`durable_file` opens a file for writing and fsyncs it when the block ends without error;
* :func:`fsync_files` fsyncs many written files at once (concurrent fsyncs share the file system's journal
  commits: 240 small files take ~0.15 s instead of ~0.6-2 s one after the other on the test machine);
* :func:`fsync_dir` makes the entries of a folder (new files, renames) durable;
* :func:`write_atomically` writes a file under a temporary sibling name, fsyncs it, renames it into place
  and fsyncs the folder: after a crash the final name holds the whole file or does not exist.

The sink fsyncs every data file (Parquet, JSON lines, CSV) with :func:`fsync_files` and writes every commit
record with :func:`write_atomically`; any other writer of finished files (``export``) can use it as well.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import BinaryIO

__all__ = ["durable_file", "fsync_dir", "fsync_files", "write_atomically"]


@contextlib.contextmanager
def durable_file(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing; flush and fsync it when the block completes."""
    with path.open("wb") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """fsync the folder ``path`` so that the files created or renamed in it survive a crash."""
    _fsync_path(path)


def _fsync_path(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_files(paths: Iterable[Path], *, workers: int = 8) -> None:
    """fsync every file of ``paths`` (at most ``workers`` at a time); the first error propagates."""
    todo = list(paths)
    if len(todo) <= 1:
        for path in todo:
            _fsync_path(path)
        return
    with ThreadPoolExecutor(max_workers=min(workers, len(todo)), thread_name_prefix="fsync") as pool:
        for _ in pool.map(_fsync_path, todo):
            pass


def write_atomically(path: Path, write: Callable[[BinaryIO], object], *, tmp_name: str | None = None) -> None:
    """Write ``path`` via ``write(fh)`` on a temporary sibling, fsync, rename into place, fsync the folder.

    ``tmp_name`` (default ``.<name>.tmp-<pid>``) is removed when anything fails; the error propagates.
    """
    tmp = path.with_name(tmp_name or f".{path.name}.tmp-{os.getpid()}")
    try:
        with durable_file(tmp) as fh:
            write(fh)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):  # e.g. the temporary name is taken by a folder: leave it
            tmp.unlink()
        raise
    fsync_dir(path.parent)
