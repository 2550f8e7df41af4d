"""File validation: one streaming pass for checksum, encoding, line structure and the trailer."""

from __future__ import annotations

import codecs
import hashlib
from dataclasses import dataclass
from pathlib import Path

from portico.jobs._formats import FileRejected, open_maybe_gzip
from portico.jobs._limits import ReadLimits

__all__ = ["FileScan", "scan_file"]

_BLOCK = 1 << 20


@dataclass
class FileScan:
    """What one pass over a file found.

    Attributes:
        sha256: checksum of the file as delivered (compressed bytes when gzip).
        size: bytes as delivered.
        lines: newline-terminated lines (plus a last unterminated one) of the decompressed text.
        gzip: whether the file was gzip.
        has_quote: whether the quote character occurs (quoted fields may span lines).
        has_blank_line: whether an empty line occurs.
        delimiters: occurrences of the delimiter.
        last_line: the last non-empty line (for trailer detection), decoded.
        has_long_line: whether a line is longer (in bytes) than the limits' ``max_record_chars``:
            such a file is read record by record, which rejects that record without holding it.
    """

    sha256: str
    size: int
    lines: int
    gzip: bool
    has_quote: bool
    has_blank_line: bool
    delimiters: int
    last_line: str
    has_long_line: bool = False


def scan_file(
    path: Path,
    *,
    encoding: str | None,
    delimiter: str = ",",
    quotechar: str = '"',
    file: str | None = None,
    limits: ReadLimits | None = None,
) -> FileScan:
    """Read ``path`` once: checksum, decode check (when ``encoding`` is given), counts.

    Memory stays at one block whatever the file holds; a gzip file is refused as soon as it expands
    past ``limits`` (defaults when not given).

    Raises:
        FileRejected: the file is missing, unreadable, truncated gzip, a decompression bomb, or not
            valid in ``encoding`` (the message names the line and byte offset).
    """
    import numpy as np

    limits = limits or ReadLimits()
    max_line = limits.max_record_chars
    name = file or path.name
    digest = hashlib.sha256()
    try:
        size = path.stat().st_size
        with path.open("rb") as raw:
            gz = raw.read(2) == b"\x1f\x8b"
        if gz:
            # the checksum is of the bytes as delivered: for gzip, a separate pass over the compressed file
            for block in _raw_blocks(path):
                digest.update(block)
    except OSError as exc:
        raise FileRejected(f"cannot read file: {exc.strerror or exc}", file=name) from None
    decoder = codecs.getincrementaldecoder(encoding)("strict") if encoding else None
    lines = 0
    offset = 0
    quote = quotechar.encode() if quotechar else b""
    delim = delimiter.encode() if delimiter else b""
    has_quote = False
    blank = False
    delimiters = 0
    tail = b""
    prev_last = b"\n"  # the file starts as if after a line end: an empty first line is blank
    run = 0  # bytes since the last newline
    long_line = False
    try:
        stream = open_maybe_gzip(path, limits, file=name)
        with stream:
            while True:
                block = stream.read(_BLOCK)
                if not block:
                    break
                if not gz:
                    digest.update(block)
                # pure ASCII is valid in every encoding we accept: skip decoding it (the common case)
                if decoder is not None and not (block.isascii() and _ascii_compatible(encoding)):
                    try:
                        decoder.decode(block)
                    except UnicodeDecodeError as exc:
                        line = lines + block.count(b"\n", 0, exc.start) + 1
                        raise FileRejected(
                            f"not valid {encoding}: byte {offset + exc.start} ({exc.reason})", file=name, line=line
                        ) from None
                # the newline positions, found once, give the line count, the line lengths and the blank
                # lines (bytes.split or a b"\n\n" search costs several times more on files of short lines)
                arr = np.frombuffer(block, dtype=np.uint8)
                ends = np.flatnonzero(arr == 10)
                lines += int(ends.size)
                gaps = np.diff(ends) if ends.size > 1 else None
                if not long_line:
                    if not ends.size:
                        run += len(block)
                    else:
                        first, last = int(ends[0]), int(ends[-1])
                        inner = gaps is not None and int(gaps.max()) - 1 > max_line
                        long_line = run + first > max_line or inner
                        run = len(block) - last - 1
                    long_line = long_line or run > max_line
                if quote and not has_quote and quote in block:
                    has_quote = True
                if delim:
                    delimiters += block.count(delim)
                if not blank:
                    # an empty line ("\n\n") or one holding only "\r" ("\n\r\n"), inside the block or
                    # across its start (the previous block's last two bytes)
                    joined = prev_last + block[:3]
                    if b"\n\n" in joined or b"\n\r\n" in joined:
                        blank = True
                    elif gaps is not None:
                        blank = bool((gaps == 1).any()) or bool((arr[ends[:-1][gaps == 2] + 1] == 13).any())
                prev_last = block[-2:] if len(block) >= 2 else (prev_last + block)[-2:]
                tail = block[-4096:] if len(block) >= 4096 else (tail + block)[-4096:]
                offset += len(block)
            if decoder is not None:
                try:
                    decoder.decode(b"", final=True)
                except UnicodeDecodeError:
                    raise FileRejected(f"not valid {encoding}: the file ends inside a character", file=name) from None
    except (EOFError, OSError) as exc:
        raise FileRejected(f"truncated or corrupt compressed file: {exc}", file=name) from None
    if tail and not tail.endswith(b"\n"):
        lines += 1
    stripped = tail.rstrip(b"\r\n")
    final_line = stripped.rsplit(b"\n", 1)[-1].rstrip(b"\r")
    return FileScan(
        sha256=digest.hexdigest(),
        size=size,
        lines=lines,
        gzip=gz,
        has_quote=has_quote,
        has_blank_line=blank,
        delimiters=delimiters,
        last_line=final_line.decode(encoding or "utf-8", errors="replace"),
        has_long_line=long_line,
    )


def _ascii_compatible(encoding: str | None) -> bool:
    return (encoding or "").lower().replace("_", "-") in {"utf-8", "utf8", "latin-1", "latin1", "iso-8859-1", "cp1252", "windows-1252", "ascii", "us-ascii", "iso-8859-15"}


def _raw_blocks(path: Path):  # type: ignore[no-untyped-def]
    with path.open("rb") as handle:
        while True:
            block = handle.read(_BLOCK)
            if not block:
                return
            yield block
