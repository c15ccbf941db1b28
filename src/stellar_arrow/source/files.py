"""Read every ``LedgerCloseMeta`` held in one ledger file of the corpus, whatever its format.

Formats (chosen by file name, see ``data/corpus/PROVENANCE.md``):

* ``*.framed.xdr.zst`` / ``.zstd``: zstd of an XDR record-marked stream (4-byte ``0x80000000 | len``).
* ``*.lcmbatch.xdr.zst``, ``*.xdr.zst`` / ``.zstd``: zstd ``LedgerCloseMetaBatch`` (a SEP-54 object).
* ``*.lcmbatch.xdr``: uncompressed ``LedgerCloseMetaBatch``.
* ``*.xdr.gz``: gzip of one raw LCM.
* ``*.b64.txt`` / ``*.b64``: one base64 LCM per line.
* ``*.xdr``: one raw LCM.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import struct
import zlib
from pathlib import Path

import zstandard

from stellar_arrow.errors import LedgerObjectError, XdrDecodeError
from stellar_arrow.source.batch import split_ledger_close_meta_batch
from stellar_arrow.source.header import read_ledger_header

__all__ = ["decompress_zstd", "read_ledger_file", "split_record_marked_stream"]

_RECORD_LAST = 0x80000000


_ONE_SHOT_LIMIT = 256 << 20
"""Largest declared content size decompressed in one call (one allocation of that size)."""


def decompress_zstd(data: bytes, *, object_name: str) -> bytes:
    """Decompress zstd frames (with or without a content size); a truncated frame is an error.

    A single frame that declares its content size (what the lake writers produce) is decompressed in
    one call into one buffer of that size; anything else (several frames, no declared size, a size
    over :data:`_ONE_SHOT_LIMIT`) is streamed frame by frame.
    """
    decompressor = zstandard.ZstdDecompressor()
    try:
        declared = zstandard.frame_content_size(data)
    except zstandard.ZstdError:
        declared = -1  # not even a frame header: the streaming path names the error
    if 0 < declared <= _ONE_SHOT_LIMIT:
        try:
            return decompressor.decompress(data, allow_extra_data=False)
        except zstandard.ZstdError:
            pass  # several frames, or corrupt: the streaming path decides and names the error
    parts: list[bytes] = []
    remaining = data
    try:
        while remaining:
            frame = decompressor.decompressobj()
            parts.append(frame.decompress(remaining))
            if not frame.eof:
                msg = f"{object_name}: truncated zstd data (the frame ends early, {len(data)} bytes)"
                raise LedgerObjectError(msg, object_key=object_name)
            remaining = frame.unused_data
    except zstandard.ZstdError as exc:
        msg = f"{object_name}: corrupt zstd data: {exc}"
        raise LedgerObjectError(msg, object_key=object_name) from exc
    out = b"".join(parts)
    if not out:
        msg = f"{object_name}: zstd data decompressed to nothing"
        raise LedgerObjectError(msg, object_key=object_name)
    return out


def split_record_marked_stream(data: bytes, *, object_name: str) -> list[bytes]:
    """Split an XDR record-marked stream (what stellar-core's metadata output writes) into records."""
    records: list[bytes] = []
    pos = 0
    fragments: list[bytes] = []
    while pos < len(data):
        if pos + 4 > len(data):
            msg = f"{object_name}: truncated record mark at byte {pos}"
            raise LedgerObjectError(msg, object_key=object_name)
        (mark,) = struct.unpack_from(">I", data, pos)
        length = mark & ~_RECORD_LAST
        pos += 4
        if pos + length > len(data):
            left = len(data) - pos
            msg = f"{object_name}: record at byte {pos - 4} declares {length} bytes, only {left} left"
            raise LedgerObjectError(msg, object_key=object_name)
        fragments.append(data[pos : pos + length])
        pos += length
        if mark & _RECORD_LAST:
            records.append(b"".join(fragments))
            fragments = []
    if fragments:
        msg = f"{object_name}: stream ends inside a record (no last-fragment mark)"
        raise LedgerObjectError(msg, object_key=object_name)
    return records


def _checked(lcms: list[bytes], object_name: str) -> list[bytes]:
    if not lcms:
        msg = f"{object_name}: holds no LedgerCloseMeta"
        raise LedgerObjectError(msg, object_key=object_name)
    for index, lcm in enumerate(lcms):
        try:
            read_ledger_header(lcm, what=f"{object_name} ledger #{index}")
        except XdrDecodeError as exc:
            raise LedgerObjectError(str(exc), object_key=object_name) from exc
    return lcms


def _read_base64_lines(data: bytes, object_name: str) -> list[bytes]:
    lcms: list[bytes] = []
    for line_number, line in enumerate(data.splitlines(), start=1):
        text = line.strip()
        if not text:
            continue
        try:
            lcms.append(base64.b64decode(text, validate=True))
        except (binascii.Error, ValueError) as exc:
            msg = f"{object_name}: line {line_number} is not valid base64: {exc}"
            raise LedgerObjectError(msg, object_key=object_name) from exc
    return lcms


def read_ledger_file(path: str | Path) -> list[bytes]:
    """Every LedgerCloseMeta (raw XDR bytes) in ``path``, in file order; typed errors name the file."""
    path = Path(path)
    name = path.name
    try:
        data = path.read_bytes()
    except OSError as exc:
        msg = f"{path}: cannot read ledger file: {exc}"
        raise LedgerObjectError(msg, object_key=str(path)) from exc
    where = str(path)
    if name.endswith((".framed.xdr.zst", ".framed.xdr.zstd")):
        stream = decompress_zstd(data, object_name=where)
        return _checked(split_record_marked_stream(stream, object_name=where), where)
    if name.endswith((".xdr.zst", ".xdr.zstd")):
        raw = decompress_zstd(data, object_name=where)
        return list(split_ledger_close_meta_batch(raw, object_name=where).ledger_close_metas)
    if name.endswith(".lcmbatch.xdr"):
        return list(split_ledger_close_meta_batch(data, object_name=where).ledger_close_metas)
    if name.endswith(".xdr.gz"):
        try:
            raw = gzip.decompress(data)
        except (OSError, EOFError, zlib.error) as exc:
            msg = f"{where}: corrupt gzip data: {exc}"
            raise LedgerObjectError(msg, object_key=where) from exc
        return _checked([raw], where)
    if name.endswith((".b64.txt", ".b64")):
        return _checked(_read_base64_lines(data, where), where)
    if name.endswith(".xdr"):
        return _checked([data], where)
    msg = f"{where}: unknown ledger file format (expected .xdr, .xdr.gz, .xdr.zst, .lcmbatch.xdr, .b64.txt)"
    raise LedgerObjectError(msg, object_key=where)
