"""Durable file writes: data reaches the disk (fsync) before a rename makes it visible.

* :func:`durable_file` opens a file for writing and fsyncs it when the block ends without error;
* :func:`fsync_dir` makes the entries of a folder (new files, renames) durable;
* :func:`write_atomically` writes a file under a temporary sibling name, fsyncs it, renames it into place
  and fsyncs the folder: after a crash the final name holds the whole file or does not exist.

The sink writes every data file (Parquet, JSON lines, CSV) and every commit record through these; any other
writer of finished files (``export``) can use :func:`write_atomically` as well.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import BinaryIO

__all__ = ["durable_file", "fsync_dir", "write_atomically"]


@contextlib.contextmanager
def durable_file(path: Path) -> Iterator[BinaryIO]:
    """Open ``path`` for binary writing; flush and fsync it when the block completes."""
    with path.open("wb") as fh:
        yield fh
        fh.flush()
        os.fsync(fh.fileno())


def fsync_dir(path: Path) -> None:
    """fsync the folder ``path`` so that the files created or renamed in it survive a crash."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


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
