"""ISO 20022 custodian and bank files: semt.002 holdings, camt.053 statements, camt.054 notifications.

A delivery is read in three passes, each bounded:

1. **Guard.** The bytes (at most ``max_document_bytes``) go through defusedxml's expat parser with a
   target that counts elements and depth and measures each text node: a DTD, an entity declaration
   (billion laughs), an external reference, a document nested deeper than ``max_depth`` or holding
   more than ``max_elements`` elements is refused before any model is built. The root must be an
   ISO 20022 ``<Document>`` in a namespace this module knows.
2. **Parse.** xsdata binds the document to the schema-generated models (pyiso20022 for camt,
   python-iso20022 for semt), strictly: an element or attribute the schema does not have, or a value
   the schema's type cannot hold, refuses the file.
3. **Validate.** The facets the generated models carry (required elements, occurrence bounds,
   patterns, lengths, digits, minimum values, one branch of a choice) are checked on the whole tree;
   each problem is named by the XPath of its element. A problem inside a holding (``BalForAcct``), a
   balance (``Bal``) or an entry (``Ntry``) rejects that element only; anywhere else it refuses the file.

Every holding, balance and entry is then a record (with its XPath in the ``xpath`` field) or a reject
(the XPath leads the message), so each element is accounted for. A statement's control totals are
checked per currency: opening balance (``OPBD``, else ``PRCD``) plus the booked entries must equal the
closing balance (``CLBD``), and the entry count and net sum of ``TxsSummry`` must match the entries;
a statement that does not add up refuses the file, and the totals are reported in the parsing stage.

Writers (:class:`Camt053Format`, :class:`Semt002Format`) build the same models from portico's rows
and check them with the same validation before a byte is written.

This module is the guard, the binding and the three formats; the version catalogue, the document
type and the facet check are in :mod:`._iso20022_schema`, the record extraction and control totals in
:mod:`._iso20022_records`, and the model builders and serialiser the writers use in
:mod:`._iso20022_write`.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import IO, Any

from portico.errors import ConfigurationError
from portico.jobs._formats import FileRejected, RawChunk
from portico.jobs._iso20022_records import (
    StatementTotals,
    _refuse_outside,
    _summary_problems,
    balance_records,
    entry_records,
    holding_records,
    statement_totals,
)
from portico.jobs._iso20022_schema import (
    _NS,
    CAMT053_VERSIONS,
    CAMT054_VERSIONS,
    SEMT002_VERSIONS,
    IsoDocument,
    SchemaProblem,
    _missing_required,
    _model_class,
    schema_problems,
)
from portico.jobs._iso20022_write import (
    CAMT053_WRITE,
    SEMT002_WRITE,
    _as_decimal,
    _require_columns,
    _write_options_date,
    holdings_document,
    render,
    statement_document,
)

__all__ = [
    "CAMT053_VERSIONS",
    "CAMT054_VERSIONS",
    "SEMT002_VERSIONS",
    "Camt053Format",
    "Camt054Format",
    "IsoDocument",
    "SchemaProblem",
    "Semt002Format",
    "StatementTotals",
    "parse_document",
    "schema_problems",
]


# -- guard ----------------------------------------------------------------------------------------


class _Guard:
    """An expat target that only measures: element count, depth, text size, and the root's name."""

    def __init__(self, *, max_depth: int, max_elements: int, max_text: int, file: str) -> None:
        self.max_depth = max_depth
        self.max_elements = max_elements
        self.max_text = max_text
        self.file = file
        self.root: str | None = None
        self._depth = 0
        self._elements = 0
        self._text = 0

    def start(self, tag: str, attrib: dict[str, str]) -> None:
        self._depth += 1
        self._elements += 1
        self._text = 0
        if self.root is None:
            self.root = tag
        if self._depth > self.max_depth:
            raise FileRejected(
                f"ISO 20022 document nested deeper than {self.max_depth} elements", file=self.file
            )
        if self._elements > self.max_elements:
            raise FileRejected(
                f"ISO 20022 document holds more than max_elements ({self.max_elements}) elements",
                file=self.file,
            )
        for value in attrib.values():
            if len(value) > self.max_text:
                raise FileRejected(
                    f"an attribute of <{_local(tag)}> is longer than {self.max_text} characters",
                    file=self.file,
                )

    def data(self, text: str) -> None:
        self._text += len(text)
        if self._text > self.max_text:
            raise FileRejected(f"a text node is longer than {self.max_text} characters", file=self.file)

    def end(self, tag: str) -> None:
        self._depth -= 1
        self._text = 0

    def close(self) -> None:
        return None


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _read_bounded(stream: IO[bytes], limit: int, file: str) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        block = stream.read(1 << 16)
        if not block:
            return b"".join(parts)
        total += len(block)
        if total > limit:
            raise FileRejected(f"ISO 20022 document is larger than max_document_bytes ({limit})", file=file)
        parts.append(block)


def _guard(data: bytes, options: Mapping[str, Any], file: str) -> str:
    """Run the defused pass over ``data``; the root's namespace."""
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import XMLParser

    target = _Guard(
        max_depth=int(options.get("max_depth", 64)),
        max_elements=int(options.get("max_elements", 2_000_000)),
        max_text=int(options.get("max_text", 64 * 1024)),
        file=file,
    )
    try:
        parser = XMLParser(target=target, forbid_dtd=True)
        parser.feed(data)
        parser.close()
    except DefusedXmlException as exc:
        raise FileRejected(f"hostile XML refused: {type(exc).__name__}: {exc}", file=file) from None
    except ParseError as exc:
        line = exc.position[0] if getattr(exc, "position", None) else None
        raise FileRejected(f"malformed or truncated XML: {exc}", file=file, line=line) from None
    root = target.root or ""
    if _local(root) != "Document":
        raise FileRejected(
            f"not an ISO 20022 document: the root element is <{_local(root)}>, not <Document>", file=file
        )
    namespace = root[1:].split("}", 1)[0] if root.startswith("{") else ""
    if not namespace.startswith(_NS):
        raise FileRejected(
            f"not an ISO 20022 document: <Document> is in namespace {namespace!r}, not {_NS}<message>",
            file=file,
        )
    return namespace


# -- parse and validate ---------------------------------------------------------------------------


def parse_document(
    data: bytes | IO[bytes],
    versions: Mapping[str, tuple[str, str]],
    options: Mapping[str, Any] | None = None,
    *,
    file: str = "document",
) -> IsoDocument:
    """Guard, bind and validate ``data`` as one of ``versions``.

    Raises:
        FileRejected: hostile, malformed or oversized XML; a namespace not in ``versions``; an
            element, attribute or value the schema does not allow.
    """
    from xsdata.exceptions import ParserError
    from xsdata.formats.dataclass.parsers import XmlParser
    from xsdata.formats.dataclass.parsers.config import ParserConfig
    from xsdata.formats.dataclass.parsers.handlers import XmlEventHandler

    opts = options or {}
    if not isinstance(data, bytes):
        data = _read_bounded(data, int(opts.get("max_document_bytes", 256 * 1024 * 1024)), file)
    elif len(data) > int(opts.get("max_document_bytes", 256 * 1024 * 1024)):
        raise FileRejected(
            f"ISO 20022 document is larger than max_document_bytes ({opts.get('max_document_bytes')})",
            file=file,
        )
    namespace = _guard(data, opts, file)
    if namespace not in versions:
        known = ", ".join(ns.removeprefix(_NS) for ns in versions)
        raise FileRejected(
            f"unsupported ISO 20022 message {namespace.removeprefix(_NS)!r}; this format reads {known}",
            file=file,
        )
    cls = _model_class(*versions[namespace])
    # the guard pass refused any DTD, so the stdlib parser below meets no entity to expand
    parser = XmlParser(
        config=ParserConfig(
            fail_on_unknown_properties=True, fail_on_unknown_attributes=True, fail_on_converter_warnings=True
        ),
        handler=XmlEventHandler,
    )
    try:
        model: Any = parser.from_bytes(data, cls)
    except TypeError as exc:
        raise FileRejected(
            f"not schema-valid {namespace.removeprefix(_NS)}: {_missing_required(exc, cls)}", file=file
        ) from None
    except (ParserError, ValueError, InvalidOperation) as exc:
        raise FileRejected(f"not schema-valid {namespace.removeprefix(_NS)}: {exc}", file=file) from None
    except Warning as exc:  # fail_on_converter_warnings turns a value the type cannot hold into an error
        raise FileRejected(f"not schema-valid {namespace.removeprefix(_NS)}: {exc}", file=file) from None
    return IsoDocument(namespace=namespace, model=model, problems=schema_problems(model))


# -- formats --------------------------------------------------------------------------------------


def _chunked(
    items: Iterable[tuple[str, dict[str, Any] | None, str | None]], size: int, detail: dict[str, Any]
) -> Iterator[RawChunk]:
    chunk = RawChunk(detail=detail)
    for n, (xpath, record, problem) in enumerate(items, start=1):
        if record is None:
            chunk.reject(n, problem or f"{xpath}: rejected", xpath)
        else:
            chunk.records.append((n, record))
        if len(chunk.records) + len(chunk.errors) >= size:
            yield chunk
            chunk = RawChunk()
    yield chunk


class _IsoFormat:
    """What the three ISO 20022 formats share: options, and no extension (``.xml`` is the plain XML format)."""

    name = ""
    extensions: tuple[str, ...] = ()
    line_numbers = False
    columnar = False
    versions: Mapping[str, tuple[str, str]] = {}

    def parse(self, stream: IO[bytes] | bytes, options: Mapping[str, Any], *, file: str) -> IsoDocument:
        """Guard, bind and validate one document of this format's message."""
        return parse_document(stream, self.versions, options, file=file)

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
        raise ConfigurationError(
            f"the {self.name} format has no writer: export camt053 or semt002", path="format"
        )


class Camt053Format(_IsoFormat):
    """camt.053 bank-to-customer statements (001.01 to 001.12) into ``cash_balances`` or ``cash_flows``.

    The ``data_type`` option (the importer passes the import's record type) chooses what is read: the
    statements' balances (``cash_balances``) or their entries (``cash_flows``, the default). Either way
    every statement's control totals are checked before a record is handed on.
    """

    name = "camt053"
    versions = CAMT053_VERSIONS

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        doc = self.parse(stream, options, file=file)
        data_type = options.get("data_type", "cash_flows")
        if data_type not in ("cash_flows", "cash_balances"):
            raise FileRejected(
                f"a camt.053 statement holds cash_balances and cash_flows, not {data_type}", file=file
            )
        balances = list(balance_records(doc))
        entries = list(entry_records(doc))
        _refuse_outside(doc, [x for x, _, _ in balances + entries], file)
        summary = _summary_problems(doc)
        if summary:
            raise FileRejected(f"statement control totals do not match: {summary[0]}", file=file)
        totals = statement_totals(doc)
        broken = [t for t in totals if not t.balanced]
        if broken:
            t = broken[0]
            raise FileRejected(
                f"statement {t.statement} ({t.account}) does not add up in {t.currency}: opening {t.opening} + entries {t.entries} = {t.opening + t.entries if t.opening is not None else None}, closing balance is {t.closing}",
                file=file,
            )
        detail = {"message": doc.message, "statement_totals": [t.to_dict() for t in totals]}
        yield from _chunked(
            balances if data_type == "cash_balances" else entries,
            int(options.get("chunk_rows", 50_000)),
            detail,
        )

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
        """Write ``cash_flows`` rows as a camt.053.001.08 statement per account and currency.

        Options: ``opening_balances`` (``{"account/currency": amount}``), ``statement_date``,
        ``message_id`` (default ``PORTICO-<date>``), ``created`` (ISO date-time).
        """
        given = options.get("opening_balances") or {}
        opening: dict[tuple[str, str], Decimal] = {}
        for k, v in given.items():
            account, sep, currency = str(k).rpartition("/")
            if not sep or not account or not currency:
                raise FileRejected(f"opening_balances keys are 'account/currency', got {k!r}")
            opening[(account, currency)] = _as_decimal(v, f"opening balance {k}")
        materialised = list(rows)
        _require_columns(
            materialised, ("flow_id", "account", "date", "amount", "currency"), "camt.053", "cash_flows"
        )
        day = _write_options_date(
            options,
            "statement_date",
            max((date.fromisoformat(str(r["date"])) for r in materialised), default=date.today()),
        )
        created = (
            datetime.fromisoformat(str(options["created"]))
            if options.get("created")
            else datetime.combine(day, datetime.min.time())
        )
        model = statement_document(
            materialised,
            opening=opening,
            statement_date=day,
            created=created,
            message_id=str(options.get("message_id") or f"PORTICO-{day.isoformat()}"),
        )
        stream.write(render(model, CAMT053_WRITE))
        return len(materialised)


class Camt054Format(_IsoFormat):
    """camt.054 debit/credit notifications (001.01 to 001.12): their booked entries into ``cash_flows``."""

    name = "camt054"
    versions = CAMT054_VERSIONS

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        doc = self.parse(stream, options, file=file)
        data_type = options.get("data_type", "cash_flows")
        if data_type != "cash_flows":
            raise FileRejected(f"a camt.054 notification holds cash_flows, not {data_type}", file=file)
        entries = list(entry_records(doc, "Ntfctn"))
        _refuse_outside(doc, [x for x, _, _ in entries], file)
        yield from _chunked(entries, int(options.get("chunk_rows", 50_000)), {"message": doc.message})


class Semt002Format(_IsoFormat):
    """semt.002 statements of holdings (001.02 custody statement, 001.11 balance custody report) into ``positions``."""

    name = "semt002"
    versions = SEMT002_VERSIONS

    def read(self, stream: IO[bytes], options: Mapping[str, Any], *, file: str) -> Iterator[RawChunk]:
        doc = self.parse(stream, options, file=file)
        data_type = options.get("data_type", "positions")
        if data_type != "positions":
            raise FileRejected(f"a semt.002 statement holds positions, not {data_type}", file=file)
        holdings = list(holding_records(doc))
        _refuse_outside(doc, [x for x, _, _ in holdings], file)
        yield from _chunked(holdings, int(options.get("chunk_rows", 50_000)), {"message": doc.message})

    def write(
        self,
        rows: Iterable[Mapping[str, Any]],
        columns: list[str],
        stream: IO[bytes],
        options: Mapping[str, Any],
    ) -> int:
        """Write ``positions`` rows as a semt.002.001.11 statement of holdings.

        Options: ``account`` (the safekeeping account; default: the first row's, others become
        sub-accounts), ``statement_date`` (default: the rows' latest date), ``statement_id``.
        """
        materialised = list(rows)
        if not materialised:
            raise FileRejected("nothing to write: a semt.002 statement needs at least one position")
        _require_columns(
            materialised,
            ("account", "isin", "quantity", "price", "currency", "date"),
            "semt.002",
            "positions",
        )
        day = _write_options_date(
            options, "statement_date", max(date.fromisoformat(str(r["date"])) for r in materialised)
        )
        account = str(options.get("account") or materialised[0]["account"])
        model = holdings_document(
            materialised,
            account=account,
            statement_date=day,
            statement_id=str(options.get("statement_id") or f"PORTICO-{account}-{day.isoformat()}"),
        )
        stream.write(render(model, SEMT002_WRITE))
        return len(materialised)
