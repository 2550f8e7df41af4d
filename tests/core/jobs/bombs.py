"""Decompression bombs built small at test time, and an import measured in a child process.

The attack is a ratio: a few megabytes on disk that expand to gigabytes. Each builder streams its
output (never holding the expanded bytes), so building a 2 GB bomb costs the test a few megabytes.
:func:`measured_import` runs one import in a fresh interpreter and reports its peak RSS, so a test
can state a memory bound and a reason.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import zlib
from pathlib import Path
from typing import Any

MIB = 1024 * 1024
ADDRESS_SPACE_CAP = 2 * 1024 * MIB
_BLOCK = b"A" * MIB

_CHILD = r"""
import json, resource, sys
# a safety net, far above the bound a test asserts: a regression fails its test with a MemoryError
# instead of taking the shared machine's memory
resource.setrlimit(resource.RLIMIT_AS, (int(sys.argv[4]), int(sys.argv[4])))
from portico.clock import FakeClock
from portico.jobs import JobService
from portico.store import Database


def peak_rss_mb():
    # VmHWM is this address space's own high-water mark; getrusage's ru_maxrss survives exec on Linux,
    # so a child forked from a large test process would report the parent's size instead of its own
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024

path, data_type, options = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
db = Database()
service = JobService(db=db, clock=FakeClock(), config={})
result = service.importer.import_file(path, data_type, options=options)
rows = result.loaded
service.shutdown()
db.dispose()


def peak_rss_mb():
    # VmHWM is this address space's own peak; ru_maxrss would carry the parent's peak over the exec
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


print(json.dumps({
    "status": result.status, "error": result.error, "loaded": rows, "rejected": result.rejected,
    "rejects": result.rejects[:5], "peak_rss_mb": peak_rss_mb(),
}))
"""


def measured_import(path: Path, data_type: str, options: dict[str, Any] | None = None, *, timeout: float = 120) -> dict[str, Any]:
    """Import ``path`` in a child interpreter; its result summary plus ``peak_rss_mb`` (its own peak)."""
    done = subprocess.run(
        [sys.executable, "-c", _CHILD, str(path), data_type, json.dumps(options or {}), str(ADDRESS_SPACE_CAP)],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONHASHSEED": "0"},
        check=False,
    )
    assert done.returncode == 0, done.stderr[-1500:]
    return json.loads(done.stdout.strip().splitlines()[-1])


def gzip_with_huge_record(out: Path, head: bytes, mib: int, tail: bytes = b"\n") -> Path:
    """A valid gzip of ``head``, ``mib`` MiB of ``A`` (one record's value) and ``tail``, at ~1000:1.

    Built in milliseconds whatever ``mib`` is (see :func:`_deflate_repeated`): 2048 gives a 2 MB
    file holding one 2 GB record.
    """
    chunks, crc, size = _deflate_repeated(head, _BLOCK, mib, tail)
    with out.open("wb") as handle:
        handle.write(b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff")
        for chunk in chunks:
            handle.write(chunk)
        handle.write(struct.pack("<II", crc, size & 0xFFFFFFFF))
    return out


_XLSX_PARTS = {
    "[Content_Types].xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
        '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
        '<Default Extension="xml" ContentType="application/xml"/>'
        '<Override PartName="/xl/workbook.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>'
        '<Override PartName="/xl/worksheets/sheet1.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.worksheet+xml"/>'
        '<Override PartName="/xl/sharedStrings.xml" ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sharedStrings+xml"/>'
        "</Types>"
    ),
    "_rels/.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="xl/workbook.xml"/>'
        "</Relationships>"
    ),
    "xl/workbook.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<workbook xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships">'
        '<sheets><sheet name="data" sheetId="1" r:id="rId1"/></sheets></workbook>'
    ),
    "xl/_rels/workbook.xml.rels": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
        '<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/worksheet" Target="worksheets/sheet1.xml"/>'
        '<Relationship Id="rId2" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/sharedStrings" Target="sharedStrings.xml"/>'
        "</Relationships>"
    ),
    # the header and one row, every cell a shared string (index 0..7), as Excel writes text
    "xl/worksheets/sheet1.xml": (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        '<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        '<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c><c r="C1" t="s"><v>2</v></c><c r="D1" t="s"><v>3</v></c></row>'
        '<row r="2"><c r="A2" t="s"><v>4</v></c><c r="B2" t="s"><v>5</v></c><c r="C2" t="s"><v>6</v></c><c r="D2" t="s"><v>7</v></c></row>'
        "</sheetData></worksheet>"
    ),
}


def _deflate_repeated(head: bytes, piece: bytes, times: int, tail: bytes) -> tuple[list[bytes], int, int]:
    """Raw deflate of ``head + piece * times + tail`` built from one compression of ``piece``.

    A full flush resets the compressor's window, so ``piece`` compresses to the same bytes each time
    after one: those are repeated instead of compressing gigabytes. Returns (chunks, crc32, size).
    """
    compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
    chunks = [compressor.compress(head) + compressor.flush(zlib.Z_FULL_FLUSH)]
    chunks.append(compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH))
    repeated = compressor.compress(piece) + compressor.flush(zlib.Z_FULL_FLUSH)
    chunks.extend([repeated] * (times - 1))
    chunks.append(compressor.compress(tail) + compressor.flush())
    crc = zlib.crc32(head)
    for _ in range(times):
        crc = zlib.crc32(piece, crc)
    crc = zlib.crc32(tail, crc)
    return chunks, crc & 0xFFFFFFFF, len(head) + len(piece) * times + len(tail)


def _write_zip(out: Path, members: list[tuple[str, list[bytes], int, int]]) -> Path:
    """A zip of already-deflated members ``(name, deflate chunks, crc32, size)`` (each under 4 GiB)."""
    central = []
    with out.open("wb") as handle:
        for name, chunks, crc, size in members:
            offset = handle.tell()
            compressed = sum(len(c) for c in chunks)
            encoded = name.encode()
            fields = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 0x21, crc, compressed, size, len(encoded), 0)
            handle.write(b"PK\x03\x04" + fields + encoded)
            for chunk in chunks:
                handle.write(chunk)
            central.append(b"PK\x01\x02" + struct.pack("<HHHHHHIIIHHHHHII", 20, 20, 0, 8, 0, 0x21, crc, compressed, size, len(encoded), 0, 0, 0, 0, 0, offset) + encoded)
        start = handle.tell()
        directory = b"".join(central)
        handle.write(directory)
        handle.write(b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(central), len(central), len(directory), start, 0))
    return out


def xlsx_with_shared_strings(out: Path, head: bytes, piece: bytes = b"", times: int = 0, tail: bytes = b"</sst>") -> Path:
    """A workbook in Excel's own layout (text cells index a shared-string table) whose table is
    ``head + piece * times + tail``, deflated in milliseconds however large it expands."""
    members = []
    for name, body in _XLSX_PARTS.items():
        data = body.encode()
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        members.append((name, [compressor.compress(data) + compressor.flush()], zlib.crc32(data) & 0xFFFFFFFF, len(data)))
    if times:
        members.append(("xl/sharedStrings.xml", *_deflate_repeated(head, piece, times, tail)))
    else:
        data = head + tail
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        members.append(("xl/sharedStrings.xml", [compressor.compress(data) + compressor.flush()], zlib.crc32(data) & 0xFFFFFFFF, len(data)))
    return _write_zip(out, members)


SST_HEAD = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main">'
SST_HEADER_STRINGS = b"<si><t>symbol</t></si><si><t>date</t></si><si><t>close</t></si><si><t>currency</t></si><si><t>AAPL</t></si><si><t>2026-01-05</t></si><si><t>1</t></si><si><t>USD</t></si>"


SST_START = SST_HEAD + SST_HEADER_STRINGS
TINY_STRINGS = b"<si><t>a</t></si>" * 4096
"""4096 one-letter shared strings, the repeated piece of the many-strings bomb."""
