"""Opening recorded files whatever their compression: gzip, bzip2, xz or zstd, known by their first bytes.

``earshot import`` (and ``import --enqueue``) reads every file through :func:`open_input`, so
``tweets.jsonl.gz`` (as twarc users keep their collections), ``feed.xml.bz2`` or
``export.jsonl.zst`` read as the plain files do. The compression is told by the file's magic
number, not its name: a ``.gz`` that is not gzip is read as what it is.
"""

from __future__ import annotations

import bz2
import gzip
import io
import lzma
from pathlib import Path
from typing import BinaryIO

# magic number -> name
_MAGIC = (
    (b"\x1f\x8b", "gzip"),
    (b"BZh", "bzip2"),
    (b"\xfd7zXZ\x00", "xz"),
    (b"\x28\xb5\x2f\xfd", "zstd"),
)


def compression(path: Path | str) -> str | None:
    """The compression of the file at ``path`` (``gzip``, ``bzip2``, ``xz``, ``zstd``), or None."""
    with open(path, "rb") as fh:
        head = fh.read(6)
    return next((name for magic, name in _MAGIC if head.startswith(magic)), None)


def open_input(path: Path | str) -> BinaryIO:
    """The file at ``path`` opened for reading bytes, decompressed if it is compressed.

    A broken compressed stream raises :class:`OSError` (gzip, zstd) or :class:`EOFError` /
    :class:`ValueError` (bzip2, xz) while it is read, like any unreadable file.
    """
    kind = compression(path)
    if kind is None:
        return open(path, "rb")
    if kind == "gzip":
        return gzip.open(path, "rb")
    if kind == "bzip2":
        return bz2.open(path, "rb")
    if kind == "xz":
        return lzma.open(path, "rb")
    import zstandard

    raw = open(path, "rb")
    reader = zstandard.ZstdDecompressor().stream_reader(raw, closefd=True)
    return io.BufferedReader(reader)  # type: ignore[arg-type]


def read_input(path: Path | str) -> bytes:
    """The whole (decompressed) content of the file at ``path``."""
    with open_input(path) as fh:
        return fh.read()


def _zstd_error() -> type[BaseException]:
    import zstandard

    return zstandard.ZstdError


#: What reading a broken compressed file can raise (OSError for a broken gzip or bzip2 stream).
READ_ERRORS: tuple[type[BaseException], ...] = (OSError, EOFError, lzma.LZMAError, _zstd_error())
