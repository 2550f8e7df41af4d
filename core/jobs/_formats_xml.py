"""The XML format: one element per record with its fields as child elements or attributes, read as
expat streams it with depth, text and token sizes bounded, and written back one element per row."""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from typing import IO, Any

from portico.jobs._formats import FileRejected, RawChunk, _cell, _chunk_rows
from portico.jobs._limits import ReadLimits

__all__ = ["XmlFormat"]


class XmlFormat:
    """``<records><record><field>value</field>...</record></records>`` (or fields as attributes).

    Parsed with defusedxml (DTDs, entity declarations such as billion laughs, and external references
    are refused) into records directly, as expat streams: no element tree is built, element depth,
    each field's text (``max_text``), each record's text (``max_record_chars``) and each tag or comment
    (``max_xml_token_bytes``) are bounded before the text is kept. A field given twice (two elements,
    or an attribute and an element) rejects its record.
    """

    name = "xml"
    extensions: tuple[str, ...] = (".xml",)
    line_numbers = False
    columnar = False
    max_depth = 32
    max_text = 64 * 1024

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        from xml.etree.ElementTree import ParseError

        from defusedxml import DefusedXmlException
        from defusedxml.ElementTree import XMLParser

        limits = ReadLimits.from_options(options, format_name=self.name)
        target = _XmlRecords(
            record_tag=options.get("record_tag"),
            max_depth=int(options.get("max_depth", self.max_depth)),
            max_text=int(options.get("max_text", self.max_text)),
            max_record=limits.max_record_chars,
            file=file,
        )
        size = _chunk_rows(options)
        chunk = RawChunk()
        fed = quiet_since = seen = 0
        try:
            parser = XMLParser(target=target, forbid_dtd=True)
            while True:
                block = stream.read(1 << 16)
                if block:
                    parser.feed(block)
                else:
                    parser.close()
                fed += len(block)
                if target.events != seen:
                    seen, quiet_since = target.events, fed
                elif fed - quiet_since > limits.max_xml_token_bytes:
                    # expat holds a tag, comment or instruction whole until it ends: refuse a huge one
                    raise FileRejected(
                        f"an XML tag, comment or instruction is longer than max_xml_token_bytes ({limits.max_xml_token_bytes})",
                        file=file,
                    )
                for n, record, problem, fieldname in target.take():
                    if problem is not None:
                        chunk.reject(n, problem, fieldname)
                    else:
                        chunk.records.append((n, record))
                    if len(chunk.records) + len(chunk.errors) >= size:
                        yield chunk
                        chunk = RawChunk()
                if not block:
                    break
        except DefusedXmlException as exc:
            raise FileRejected(f"hostile XML refused: {type(exc).__name__}: {exc}", file=file) from None
        except ParseError as exc:
            line = exc.position[0] if getattr(exc, "position", None) else None
            raise FileRejected(f"malformed or truncated XML: {exc}", file=file, line=line) from None
        yield chunk

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
        from xml.sax.saxutils import escape

        encoding = options.get("encoding", "utf-8")
        root = options.get("root_tag", "records")
        tag = options.get("record_tag", "record")
        names = {c: _xml_name(c) for c in columns}
        stream.write(f'<?xml version="1.0" encoding="{encoding}"?>\n<{root}>\n'.encode(encoding))
        count = 0
        for row in rows:
            cells = "".join(f"<{names[c]}>{escape(str(_cell(row.get(c))))}</{names[c]}>" for c in columns)
            stream.write(f"  <{tag}>{cells}</{tag}>\n".encode(encoding, errors="xmlcharrefreplace"))
            count += 1
        stream.write(f"</{root}>\n".encode(encoding))
        return count


class _XmlRecords:
    """An expat parser target that builds flat records as the parser streams, holding bounded text.

    A record is a child of the root (or any element named ``record_tag``); its attributes and its
    child elements' text are its fields. Finished records wait in :meth:`take`.
    """

    def __init__(
        self, *, record_tag: str | None, max_depth: int, max_text: int, max_record: int, file: str
    ) -> None:
        self.record_tag = record_tag
        self.max_depth = max_depth
        self.max_text = max_text
        self.max_record = max_record
        self.file = file
        self.events = 0
        self._depth = 0
        self._record_depth: int | None = None
        self._record: dict[str, Any] = {}
        self._n = 0
        self._field: str | None = None
        self._parts: list[str] = []
        self._field_chars = 0
        self._record_chars = 0
        self._problem: tuple[str, str | None] | None = None
        self._done: list[tuple[int, dict[str, Any], str | None, str | None]] = []

    def take(self) -> list[tuple[int, dict[str, Any], str | None, str | None]]:
        """Records finished since the last call: ``(number, record, problem, field)``."""
        done, self._done = self._done, []
        return done

    def _flag(self, problem: str, fieldname: str | None = None) -> None:
        if self._problem is None:
            self._problem = (problem, fieldname)

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self.events += 1
        self._depth += 1
        if self._depth > self.max_depth:
            raise FileRejected(f"XML nested deeper than {self.max_depth} elements", file=self.file)
        if self._record_depth is None:
            if (tag == self.record_tag) if self.record_tag else self._depth == 2:
                self._record_depth = self._depth
                self._n += 1
                self._record, self._problem = {}, None
                self._record_chars = 0
                for key, value in attrib.items():
                    self._keep(key, value)
            return
        if self._depth == self._record_depth + 1:
            self._field, self._parts, self._field_chars = tag, [], 0
            if tag in self._record:
                self._flag(f"duplicate field {tag!r} in the record", tag)
        elif self._field is not None:
            self._flag(f"field <{self._field}> has nested elements", self._field)

    def data(self, text: str) -> None:
        self.events += 1
        if self._field is None or self._record_depth is None or self._depth != self._record_depth + 1:
            return
        self._field_chars += len(text)
        self._record_chars += len(text)
        # count but stop keeping text past a limit: the value is never built
        if self._field_chars > self.max_text:
            self._flag(f"field <{self._field}> longer than {self.max_text} characters", self._field)
        elif self._record_chars > self.max_record:
            self._flag(f"record longer than max_record_chars ({self.max_record} characters)")
        else:
            self._parts.append(text)

    def end(self, tag: str) -> None:
        self.events += 1
        depth = self._depth
        self._depth -= 1
        if self._record_depth is None:
            return
        if depth == self._record_depth + 1 and self._field is not None:
            if self._field not in self._record:
                self._record[self._field] = "".join(self._parts).strip()
            self._field, self._parts = None, []
        elif depth == self._record_depth:
            problem, fieldname = self._problem if self._problem is not None else (None, None)
            self._done.append((self._n, self._record if problem is None else {}, problem, fieldname))
            self._record_depth, self._record, self._problem = None, {}, None

    def comment(self, text: str) -> None:
        self.events += 1

    def pi(self, target: str, text: str) -> None:
        self.events += 1

    def close(self) -> None:
        return None

    def _keep(self, key: str, value: str) -> None:
        self._record_chars += len(value)
        if len(value) > self.max_text:
            self._flag(f"field {key!r} longer than {self.max_text} characters", key)
        elif self._record_chars > self.max_record:
            self._flag(f"record longer than max_record_chars ({self.max_record} characters)")
        else:
            self._record[key] = value.strip()


def _xml_name(column: str) -> str:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", column)
    return name if re.match(r"^[A-Za-z_]", name) else f"_{name}"
