"""Proof that the bytes an import parsed are the bytes it validated and records the checksum of.

File validation hashes a delivery in one pass and parsing reads it again. A producer still writing
the file, or overwriting it in place, between or during those reads would get its new rows loaded
under the checksum of the old bytes, and the old bytes' re-import would then look like a duplicate.
:class:`ReadGuard` hashes every byte the parser reads (re-hashing the open file when a parser seeks,
as XLSX and Parquet readers do) and compares the file's identity (device, inode, size, modification
and change times) before and after; any difference fails the delivery before anything commits.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from portico.jobs._formats import CappedDecompression, FileRejected
from portico.jobs._limits import ReadLimits

__all__ = ["FileIdentity", "ReadGuard", "file_identity"]

_BUFFER = 1 << 20


@dataclass(frozen=True)
class FileIdentity:
    """What ``stat`` says about a file: any write, truncation, rename-over or ``touch`` changes it."""

    device: int
    inode: int
    size: int
    mtime_ns: int
    ctime_ns: int


def file_identity(path: Path) -> FileIdentity:
    """The identity of ``path`` now (raises OSError when it cannot be stat'ed)."""
    st = path.stat()
    return FileIdentity(st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


class _HashingReader(io.RawIOBase):
    """A raw reader over an open file that hashes the bytes read, in order, from the start.

    A read that does not continue where the hashed prefix ends (a parser seeking around) makes the
    prefix unusable; :meth:`digest` then re-hashes the whole open file instead. Closing it (a text
    wrapper closing what it wraps) leaves the file open for :meth:`digest`; :meth:`release` closes it.
    """

    def __init__(self, raw: io.FileIO) -> None:
        super().__init__()
        self._raw = raw
        self._hash = hashlib.sha256()
        self._hashed = 0
        self._pos = 0
        self.sequential = True

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        n = self._raw.readinto(buffer) or 0
        if self._pos != self._hashed:
            self.sequential = False
        if n and self.sequential:
            self._hash.update(memoryview(buffer)[:n])
            self._hashed += n
        self._pos += n
        return n

    def seek(self, offset: int, whence: int = os.SEEK_SET) -> int:
        self._pos = self._raw.seek(offset, whence)
        if self._pos == 0 and self.sequential:
            # rewound to the start (after a peek): the bytes are hashed again as they are read again
            self._hash = hashlib.sha256()
            self._hashed = 0
        return self._pos

    def tell(self) -> int:
        return self._pos

    def digest(self) -> str:
        """The sha256 of the whole open file: the hashed prefix plus the rest, or a fresh pass after seeks."""
        if not self.sequential:
            self._hash = hashlib.sha256()
            self._hashed = 0
        self._raw.seek(self._hashed)
        while block := self._raw.read(_BUFFER):
            self._hash.update(block)
            self._hashed += len(block)
        return self._hash.hexdigest()

    def release(self) -> None:
        """Close the file."""
        self._raw.close()


class ReadGuard:
    """Opens a delivery for parsing and proves afterwards that it read the validated bytes.

    Args:
        path: the delivery.
        sha256: the checksum file validation computed (and the load will be recorded under).
        identity: the file's identity when validation started.
        file: the name used in errors.
    """

    def __init__(self, path: Path, sha256: str, identity: FileIdentity, *, file: str) -> None:
        self.path = path
        self.sha256 = sha256
        self.identity = identity
        self.file = file
        self._digests: list[str] = []

    @contextlib.contextmanager
    def open(self, *, decompress: bool = True, limits: ReadLimits | None = None) -> Iterator[IO[bytes]]:
        """The delivery as a binary stream (gzip decompressed when ``decompress``, refusing to expand
        past ``limits``), hashed as it is read.

        On a normal exit the rest of the file is hashed too and the digest kept for :meth:`verify`; a
        read abandoned by an error proves nothing and is not kept.
        """
        reader = _HashingReader(io.FileIO(self.path, "rb"))
        try:
            buffered = io.BufferedReader(reader, buffer_size=_BUFFER)
            stream: IO[bytes] = buffered
            if decompress and buffered.peek(2)[:2] == b"\x1f\x8b":
                stream = CappedDecompression(buffered, limits or ReadLimits(), file=self.file)  # type: ignore[assignment]
            yield stream
            self._digests.append(reader.digest())
        finally:
            reader.release()

    def verify(self) -> None:
        """Raise unless every completed read saw exactly the validated bytes and the file is unchanged.

        Raises:
            FileRejected: the file changed while it was being imported (nothing may be loaded).
        """
        try:
            now: FileIdentity | None = file_identity(self.path)
        except OSError:
            now = None
        if now != self.identity:
            raise FileRejected(
                "the file changed while it was being imported (its size, times or inode differ from when it was validated); "
                "nothing was loaded: import it again once it is complete",
                file=self.file,
            )
        if not self._digests:
            raise FileRejected("the file was not read to its end; nothing was loaded", file=self.file)
        for digest in self._digests:
            if digest != self.sha256:
                raise FileRejected(
                    f"the file changed while it was being imported: the bytes parsed have sha256 {digest}, "
                    f"the bytes validated {self.sha256}; nothing was loaded: import it again once it is complete",
                    file=self.file,
                )
