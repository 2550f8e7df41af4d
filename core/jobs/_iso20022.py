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
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from functools import cache
from typing import IO, Any

from portico.errors import ConfigurationError
from portico.jobs._formats import FileRejected, RawChunk

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

_NS = "urn:iso:std:iso:20022:tech:xsd:"

CAMT053_VERSIONS: dict[str, tuple[str, str]] = {
    f"{_NS}camt.053.001.{v:02d}": (f"pyiso20022.camt.camt_053_001_{v:02d}", "Document") for v in range(1, 13)
}
"""camt.053 namespaces read (001.01 through 001.12) and the model (module, class) each binds to."""

CAMT054_VERSIONS: dict[str, tuple[str, str]] = {
    f"{_NS}camt.054.001.{v:02d}": (f"pyiso20022.camt.camt_054_001_{v:02d}", "Document") for v in range(1, 13)
}
"""camt.054 namespaces read (001.01 through 001.12)."""

SEMT002_VERSIONS: dict[str, tuple[str, str]] = {
    f"{_NS}semt.002.001.02": ("python_iso20022.semt.semt_002_001_02", "Semt00200102"),
    f"{_NS}semt.002.001.11": ("python_iso20022.semt.semt_002_001_11", "Semt00200111"),
}
"""semt.002 namespaces read: the custody statement of holdings (001.02) and the securities balance
custody report (001.11). python-iso20022 0.3.0 ships no other semt.002.001 version (001.12 included)."""

_BOOKED = "BOOK"


@dataclass(frozen=True)
class SchemaProblem:
    """A schema violation: the XPath of the element (or ``@attribute``) and what is wrong."""

    xpath: str
    message: str

    def __str__(self) -> str:
        return f"{self.xpath}: {self.message}"


@dataclass
class IsoDocument:
    """A parsed, validated ISO 20022 document.

    Attributes:
        namespace: the document's namespace (names message and version).
        model: the bound xsdata model (the ``Document``).
        problems: every schema violation found, in document order.
    """

    namespace: str
    model: Any
    problems: list[SchemaProblem] = field(default_factory=list)

    @property
    def message(self) -> str:
        """``camt.053.001.08`` and the like."""
        return self.namespace.removeprefix(_NS)

    def problems_under(self, xpath: str) -> list[SchemaProblem]:
        """Problems at ``xpath`` or inside it."""
        return [
            p
            for p in self.problems
            if p.xpath == xpath or p.xpath.startswith(xpath + "/") or p.xpath.startswith(xpath + "@")
        ]


@dataclass
class StatementTotals:
    """One statement's control totals in one currency (decimal strings in :meth:`to_dict`)."""

    statement: str
    account: str
    currency: str
    opening: Decimal | None
    closing: Decimal | None
    entries: Decimal
    count: int

    @property
    def balanced(self) -> bool:
        """Opening plus entries equals closing (true when the statement has no opening or closing)."""
        return self.opening is None or self.closing is None or self.opening + self.entries == self.closing

    def to_dict(self) -> dict[str, Any]:
        return {
            "statement": self.statement,
            "account": self.account,
            "currency": self.currency,
            "opening": None if self.opening is None else str(self.opening),
            "entries": str(self.entries),
            "closing": None if self.closing is None else str(self.closing),
            "count": self.count,
            "balanced": self.balanced,
        }


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


_MISSING_RE = re.compile(r"^(\w+)\.__init__\(\) missing \d+ required keyword-only arguments?: (.+)$")


def _missing_required(exc: TypeError, document: type) -> str:
    """A model that will not build without an element (pyiso20022's keyword-only fields), in schema terms."""
    found = _MISSING_RE.match(str(exc))
    if found is None:
        return str(exc)
    owner = getattr(importlib.import_module(document.__module__), found.group(1), None)
    names = re.findall(r"'(\w+)'", found.group(2))
    if owner is None or not is_dataclass(owner):
        return f"required elements missing: {names}"
    by_attr = {f.name: _element_name(f) for f in fields(owner)}
    elements = ", ".join(f"<{by_attr.get(n, n)}>" for n in names)
    return f"required {elements} missing in an element of type {found.group(1)}"


@cache
def _model_class(module: str, name: str) -> type:
    return getattr(importlib.import_module(module), name)  # type: ignore[no-any-return]


def _element_name(f: Any) -> str:
    return str(f.metadata.get("name", f.name))


def _is_attribute(f: Any) -> bool:
    return f.metadata.get("type") == "Attribute"


def _is_text(f: Any) -> bool:
    return f.name == "value" and "name" not in f.metadata


def schema_problems(model: Any, root: str = "/Document") -> list[SchemaProblem]:
    """Every facet of the schema that ``model`` (an xsdata dataclass tree) breaks, by XPath."""
    found: list[SchemaProblem] = []
    _check(model, root, found)
    return found


def _check(obj: Any, path: str, found: list[SchemaProblem]) -> None:
    cls = type(obj)
    set_fields = 0
    for f in fields(obj):
        value = getattr(obj, f.name)
        name = _element_name(f)
        where = f"{path}@{name}" if _is_attribute(f) else (path if _is_text(f) else f"{path}/{name}")
        meta = f.metadata
        if isinstance(value, list):
            if value:
                set_fields += 1
            low, high = meta.get("min_occurs"), meta.get("max_occurs")
            if low is not None and len(value) < low:
                found.append(SchemaProblem(where, f"at least {low} <{name}> required, found {len(value)}"))
            if high is not None and len(value) > high:
                found.append(SchemaProblem(where, f"at most {high} <{name}> allowed, found {len(value)}"))
            for i, item in enumerate(value, start=1):
                _check_value(item, f"{where}[{i}]", meta, found)
            continue
        if value is None:
            if meta.get("required"):
                found.append(
                    SchemaProblem(
                        where, "text is required" if _is_text(f) else f"required <{name}> is missing"
                    )
                )
            continue
        set_fields += 1
        _check_value(value, where, meta, found)
    # the generator turns an xs:choice into a class of optional fields: exactly one must be given
    if "Choice" in cls.__name__ and fields(obj) and set_fields != 1:
        names = [_element_name(f) for f in fields(obj)]
        found.append(SchemaProblem(path, f"exactly one of {names} required, found {set_fields}"))


def _check_value(value: Any, where: str, meta: Mapping[str, Any], found: list[SchemaProblem]) -> None:
    if is_dataclass(value):
        _check(value, where, found)
        return
    if isinstance(value, Enum):
        return
    if isinstance(value, str):
        pattern = meta.get("pattern")
        if pattern is not None and not _pattern(pattern).fullmatch(value):
            found.append(SchemaProblem(where, f"{value[:40]!r} does not match the pattern {pattern}"))
        low, high = meta.get("min_length"), meta.get("max_length")
        if low is not None and len(value) < low:
            found.append(SchemaProblem(where, f"shorter than {low} characters"))
        if high is not None and len(value) > high:
            found.append(SchemaProblem(where, f"longer than {high} characters"))
        return
    if isinstance(value, Decimal):
        if not value.is_finite():
            found.append(SchemaProblem(where, f"{value} is not a finite number"))
            return
        _, digits, exponent = value.as_tuple()
        assert isinstance(exponent, int)
        fraction = max(0, -exponent)
        total = max(len(digits), fraction) + max(0, exponent)
        if meta.get("fraction_digits") is not None and fraction > meta["fraction_digits"]:
            found.append(SchemaProblem(where, f"{value} has more than {meta['fraction_digits']} decimals"))
        if meta.get("total_digits") is not None and total > meta["total_digits"]:
            found.append(SchemaProblem(where, f"{value} has more than {meta['total_digits']} digits"))
        if meta.get("min_inclusive") is not None and value < meta["min_inclusive"]:
            found.append(SchemaProblem(where, f"{value} is below the minimum {meta['min_inclusive']}"))
        if meta.get("max_inclusive") is not None and value > meta["max_inclusive"]:
            found.append(SchemaProblem(where, f"{value} is above the maximum {meta['max_inclusive']}"))


@cache
def _pattern(pattern: str) -> re.Pattern[str]:
    return re.compile(pattern)


# -- reading values by element path ---------------------------------------------------------------


def _fields_by_element(obj: Any) -> dict[str, str]:
    kind: Any = type(obj)
    return _by_element(kind)


@cache
def _by_element(cls: Any) -> dict[str, str]:
    return {_element_name(f): f.name for f in fields(cls)}


def _pick(obj: Any, path: str) -> Any:
    """The value at ``path`` (element names, ``/``-separated; a list step takes its first item), or None."""
    for step in path.split("/"):
        if obj is None:
            return None
        if isinstance(obj, list):
            obj = obj[0] if obj else None
            if obj is None:
                return None
        attr = _fields_by_element(obj).get(step)
        if attr is None:
            return None
        obj = getattr(obj, attr)
    if isinstance(obj, list):
        return obj[0] if obj else None
    return obj


def _items(obj: Any, name: str) -> list[Any]:
    if obj is None:
        return []
    attr = _fields_by_element(obj).get(name)
    value = getattr(obj, attr) if attr else None
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, Enum):
        value = value.value
    return str(value)


def _day(choice: Any) -> str | None:
    """A ``DateAndDateTimeChoice`` as an ISO date."""
    if choice is None:
        return None
    day = _pick(choice, "Dt")
    if day is not None:
        return _xml_date(day)
    moment = _pick(choice, "DtTm")
    if moment is not None:
        return _xml_date(moment)
    return None


def _xml_date(value: Any) -> str:
    return f"{value.year:04d}-{value.month:02d}-{value.day:02d}"


def _signed(amount: Any, indicator: Any) -> Decimal | None:
    if amount is None:
        return None
    value = amount if isinstance(amount, Decimal) else Decimal(str(amount))
    return -value if _text(indicator) == "DBIT" else value


def _amount(obj: Any, path: str = "Amt") -> tuple[Decimal | None, str | None]:
    node = _pick(obj, path)
    if node is None:
        return None, None
    return getattr(node, "value", None), getattr(node, "ccy", None)


# -- camt.053 / camt.054 --------------------------------------------------------------------------


def _statements(doc: IsoDocument, container: str) -> list[tuple[str, Any]]:
    """``(xpath, statement)`` for every ``Stmt`` (or ``Ntfctn``) of the document's one message."""
    message_field = next(f for f in fields(doc.model))
    message = getattr(doc.model, message_field.name)
    base = f"/Document/{_element_name(message_field)}"
    return [(f"{base}/{container}[{i}]", s) for i, s in enumerate(_items(message, container), start=1)]


def _account(statement: Any) -> str | None:
    return (
        _text(_pick(statement, "Acct/Id/IBAN"))
        or _text(_pick(statement, "Acct/Id/Othr/Id"))
        or _text(_pick(statement, "Acct/Id/PrtryAcct/Id"))
    )


def _balance_code(balance: Any) -> str | None:
    return (
        _text(_pick(balance, "Tp/CdOrPrtry/Cd"))
        or _text(_pick(balance, "Tp/Cd"))
        or _text(_pick(balance, "Tp/CdOrPrtry/Prtry"))
        or _text(_pick(balance, "Tp/Prtry"))
    )


def _entry_status(entry: Any) -> str | None:
    status = _pick(entry, "Sts")
    if status is not None and is_dataclass(status):
        return _text(_pick(status, "Cd")) or _text(_pick(status, "Prtry"))
    return _text(status)


def _transaction_code(entry: Any) -> str | None:
    domain = _text(_pick(entry, "BkTxCd/Domn/Cd"))
    if domain:
        family = _text(_pick(entry, "BkTxCd/Domn/Fmly/Cd")) or ""
        sub = _text(_pick(entry, "BkTxCd/Domn/Fmly/SubFmlyCd")) or ""
        return "/".join(x for x in (domain, family, sub) if x)
    return _text(_pick(entry, "BkTxCd/Prtry/Cd"))


def balance_records(doc: IsoDocument) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """``(xpath, record, problem)`` for every ``Bal`` of every statement (``record`` None when rejected)."""
    for spath, stmt in _statements(doc, "Stmt"):
        statement_id, account = _text(_pick(stmt, "Id")), _account(stmt)
        for i, bal in enumerate(_items(stmt, "Bal"), start=1):
            xpath = f"{spath}/Bal[{i}]"
            problem = _first_problem(doc, xpath)
            if problem is not None:
                yield xpath, None, problem
                continue
            value, currency = _amount(bal)
            amount = _signed(value, _pick(bal, "CdtDbtInd"))
            yield (
                xpath,
                {
                    "account": account,
                    "date": _day(_pick(bal, "Dt")),
                    "type": _balance_code(bal),
                    "amount": None if amount is None else str(amount),
                    "currency": currency,
                    "statement": statement_id,
                    "xpath": xpath,
                },
                None,
            )


def entry_records(
    doc: IsoDocument, container: str = "Stmt"
) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """``(xpath, record, problem)`` for every ``Ntry``; entries not booked are rejected with their status."""
    for spath, stmt in _statements(doc, container):
        statement_id, account = _text(_pick(stmt, "Id")), _account(stmt)
        for i, entry in enumerate(_items(stmt, "Ntry"), start=1):
            xpath = f"{spath}/Ntry[{i}]"
            problem = _first_problem(doc, xpath)
            if problem is not None:
                yield xpath, None, problem
                continue
            status = _entry_status(entry)
            if status != _BOOKED:
                yield (
                    xpath,
                    None,
                    f"{xpath}: entry status {status} is not booked ({_BOOKED}): not a cash movement yet",
                )
                continue
            value, currency = _amount(entry)
            amount = _signed(value, _pick(entry, "CdtDbtInd"))
            reference = _text(_pick(entry, "AcctSvcrRef"))
            flow_id = (
                f"{account}:{reference}"
                if reference
                else f"{statement_id}:{_text(_pick(entry, 'NtryRef')) or f'entry-{i}'}"
            )
            yield (
                xpath,
                {
                    "flow_id": flow_id,
                    "account": account,
                    "date": _day(_pick(entry, "BookgDt")) or _day(_pick(entry, "ValDt")),
                    "amount": None if amount is None else str(amount),
                    "currency": currency,
                    "type": _transaction_code(entry),
                    "xpath": xpath,
                },
                None,
            )


def statement_totals(doc: IsoDocument) -> list[StatementTotals]:
    """Control totals of every statement, per currency (schema-invalid balances and entries left out)."""
    totals: list[StatementTotals] = []
    for spath, stmt in _statements(doc, "Stmt"):
        statement_id, account = _text(_pick(stmt, "Id")) or spath, _account(stmt) or ""
        per: dict[str, StatementTotals] = {}

        def of(
            currency: str,
            sid: str = statement_id,
            acct: str = account,
            bucket: dict[str, StatementTotals] = per,
        ) -> StatementTotals:
            if currency not in bucket:
                bucket[currency] = StatementTotals(sid, acct, currency, None, None, Decimal(0), 0)
            return bucket[currency]

        opening: dict[str, tuple[str, Decimal]] = {}
        for i, bal in enumerate(_items(stmt, "Bal"), start=1):
            if doc.problems_under(f"{spath}/Bal[{i}]"):
                continue
            value, currency = _amount(bal)
            amount = _signed(value, _pick(bal, "CdtDbtInd"))
            code = _balance_code(bal)
            if amount is None or currency is None:
                continue
            if code in ("OPBD", "PRCD") and (
                code == "OPBD" or currency not in opening or opening[currency][0] != "OPBD"
            ):
                opening[currency] = (code, amount)
            elif code == "CLBD":
                of(currency).closing = amount
        for currency, (_, amount) in opening.items():
            of(currency).opening = amount
        for i, entry in enumerate(_items(stmt, "Ntry"), start=1):
            if doc.problems_under(f"{spath}/Ntry[{i}]") or _entry_status(entry) != _BOOKED:
                continue
            value, currency = _amount(entry)
            amount = _signed(value, _pick(entry, "CdtDbtInd"))
            if amount is None or currency is None:
                continue
            t = of(currency)
            t.entries += amount
            t.count += 1
        totals.extend(per.values())
    return totals


def _summary_problems(doc: IsoDocument) -> list[str]:
    """Where a statement's ``TxsSummry`` disagrees with its entries."""
    found: list[str] = []
    for spath, stmt in _statements(doc, "Stmt"):
        entries = _items(stmt, "Ntry")
        stated = _pick(stmt, "TxsSummry/TtlNtries/NbOfNtries")
        if stated is not None and str(stated).strip() != str(len(entries)):
            found.append(
                f"{spath}/TxsSummry/TtlNtries/NbOfNtries: says {stated} entries, the statement has {len(entries)}"
            )
        net = _pick(stmt, "TxsSummry/TtlNtries/TtlNetNtry")
        if net is not None:
            stated_net = _signed(_pick(net, "Amt"), _pick(net, "CdtDbtInd"))
            actual = Decimal(0)
            for entry in entries:
                amount = _signed(_amount(entry)[0], _pick(entry, "CdtDbtInd"))
                actual += amount or Decimal(0)
            if stated_net is not None and stated_net != actual:
                found.append(
                    f"{spath}/TxsSummry/TtlNtries/TtlNetNtry: says a net {stated_net}, the entries sum to {actual}"
                )
    return found


def _first_problem(doc: IsoDocument, xpath: str) -> str | None:
    problems = doc.problems_under(xpath)
    if not problems:
        return None
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{xpath}: not schema-valid: {problems[0]}{more}"


def _refuse_outside(doc: IsoDocument, record_paths: Iterable[str], file: str) -> None:
    """Refuse the file for a schema problem outside every record element."""
    prefixes = tuple(record_paths)
    outside = [
        p
        for p in doc.problems
        if not any(
            p.xpath == x or p.xpath.startswith(x + "/") or p.xpath.startswith(x + "@") for x in prefixes
        )
    ]
    if outside:
        more = f" (and {len(outside) - 1} more)" if len(outside) > 1 else ""
        raise FileRejected(f"not schema-valid {doc.message}: {outside[0]}{more}", file=file)


# -- semt.002 -------------------------------------------------------------------------------------


def holding_records(doc: IsoDocument) -> Iterator[tuple[str, dict[str, Any] | None, str | None]]:
    """``(xpath, record, problem)`` for every holding (``BalForAcct``, and ``BalForSubAcct`` of sub-accounts)."""
    message_field = next(f for f in fields(doc.model))
    report = getattr(doc.model, message_field.name)
    base = f"/Document/{_element_name(message_field)}"
    general = _pick(report, "StmtGnlDtls")
    day = _day(_pick(general, "StmtDtTm"))
    account = (
        _text(_pick(report, "SfkpgAcct/Id"))
        or _text(_pick(report, "AcctDtls/Id/SmplId/Prtry/Id"))
        or _text(_pick(report, "AcctDtls/Id/IdAndPurp/Id/Prtry/Id"))
    )
    for i, holding in enumerate(_items(report, "BalForAcct"), start=1):
        yield _holding(doc, f"{base}/BalForAcct[{i}]", holding, account, day)
    for j, sub in enumerate(_items(report, "SubAcctDtls"), start=1):
        sub_account = _text(_pick(sub, "SfkpgAcct/Id")) or _text(_pick(sub, "Id/SmplId/Prtry/Id"))
        for k, holding in enumerate(_items(sub, "BalForSubAcct"), start=1):
            yield _holding(doc, f"{base}/SubAcctDtls[{j}]/BalForSubAcct[{k}]", holding, sub_account, day)


def _holding(
    doc: IsoDocument, xpath: str, holding: Any, account: str | None, day: str | None
) -> tuple[str, dict[str, Any] | None, str | None]:
    problem = _first_problem(doc, xpath)
    if problem is not None:
        return xpath, None, problem
    isin = _text(_pick(holding, "FinInstrmId/ISIN")) or _text(_pick(holding, "FinInstrmDtls/Id/ISIN"))
    symbol = (
        _text(_pick(holding, "FinInstrmId/Desc"))
        or _text(_pick(holding, "FinInstrmId/OthrId/Id"))
        or _text(_pick(holding, "FinInstrmDtls/Id/TckrSymb"))
        or _text(_pick(holding, "FinInstrmDtls/Nm"))
        or isin
    )
    quantity: Decimal | None = None
    for path in ("AggtBal/Qty/Qty/Qty", "AggtQty/Qty"):
        q = _pick(holding, path)
        if q is not None:
            quantity = (
                _pick(q, "Unit") or _pick(q, "FaceAmt") or _pick(q, "AmtsdVal") or _pick(q, "DgtlTknUnit")
            )
            break
    if quantity is not None and _text(_pick(holding, "AggtBal/ShrtLngInd")) == "SHOR":
        quantity = -quantity
    price, currency = _amount(holding, "PricDtls/Val/Amt")
    currency = currency or _text(_pick(holding, "FinInstrmAttrbts/DnmtnCcy"))
    return (
        xpath,
        {
            "account": account,
            "isin": isin,
            "symbol": symbol,
            "quantity": None if quantity is None else str(quantity),
            "price": None if price is None else str(price),
            "currency": currency,
            "date": day,
            "xpath": xpath,
        },
        None,
    )


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


# -- writers --------------------------------------------------------------------------------------

CAMT053_WRITE = f"{_NS}camt.053.001.08"
"""The camt.053 version the writer produces."""
SEMT002_WRITE = f"{_NS}semt.002.001.11"
"""The semt.002 version the writer produces."""


def build(cls: type, values: Mapping[str, Any]) -> Any:
    """An xsdata model of ``cls`` from ``values`` keyed by element (and attribute) names, recursively.

    A list value fills a repeating element; ``value`` is an element's text when it also has
    attributes (``{"value": Decimal("1.00"), "Ccy": "CHF"}``).

    Raises:
        ValueError: a name ``cls`` has no element or attribute for.
    """
    from typing import get_args, get_origin, get_type_hints

    hints = get_type_hints(cls)
    by_name = {("value" if _is_text(f) else _element_name(f)): f for f in fields(cls)}
    kwargs: dict[str, Any] = {}
    for key, value in values.items():
        f = by_name.get(key)
        if f is None:
            raise ValueError(f"{cls.__name__} has no element {key!r}")
        kind = hints[f.name]
        if get_origin(kind) is not list:
            # Optional[X] -> X
            kind = next((a for a in get_args(kind) if a is not type(None)), kind)
        many = get_origin(kind) is list
        inner = get_args(kind)[0] if many else kind
        items = value if isinstance(value, list) else [value]
        built = [_coerce(inner, v) for v in items]
        kwargs[f.name] = built if many else built[0]
    return cls(**kwargs)


def _coerce(kind: Any, value: Any) -> Any:
    from xsdata.models.datatype import XmlDate, XmlDateTime

    if isinstance(kind, type) and is_dataclass(kind):
        return build(kind, value)
    if isinstance(kind, type) and issubclass(kind, Enum):
        return kind(value)
    if kind is XmlDate:
        return XmlDate.from_date(value) if isinstance(value, date) else XmlDate.from_string(str(value))
    if kind is XmlDateTime:
        return (
            XmlDateTime.from_datetime(value)
            if isinstance(value, datetime)
            else XmlDateTime.from_string(str(value))
        )
    if kind is Decimal:
        return value if isinstance(value, Decimal) else Decimal(str(value))
    if kind is bool:
        return bool(value)
    return value if kind is Any else kind(value)


def render(model: Any, namespace: str) -> bytes:
    """Serialise ``model`` as ``<Document xmlns="namespace">``, refusing it when it breaks the schema.

    Raises:
        FileRejected: the model breaks a facet of the schema (the first problem named by XPath).
    """
    from xsdata.formats.dataclass.serializers import XmlSerializer
    from xsdata.formats.dataclass.serializers.config import SerializerConfig

    problems = schema_problems(model)
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise FileRejected(f"would write an invalid {namespace.removeprefix(_NS)}: {problems[0]}{more}")
    cls = type(model)
    # python-iso20022 names its root class after the message; the element must be <Document>
    root = type("Document", (cls,), {"Meta": type("Meta", (), {"name": "Document", "namespace": namespace})})
    document = root(**{f.name: getattr(model, f.name) for f in fields(model)})
    text = XmlSerializer(config=SerializerConfig(indent="  ", xml_declaration=True, encoding="UTF-8")).render(
        document, ns_map={None: namespace}
    )
    return text.encode("utf-8")


def _amount_of(value: Decimal, currency: str) -> dict[str, Any]:
    return {"value": abs(value), "Ccy": currency}


def _direction(value: Decimal) -> str:
    return "DBIT" if value < 0 else "CRDT"


def _as_decimal(value: Any, what: str) -> Decimal:
    try:
        result = value if isinstance(value, Decimal) else Decimal(str(value))
    except (InvalidOperation, ValueError):
        raise FileRejected(f"{what} {value!r} is not a number") from None
    if not result.is_finite():
        raise FileRejected(f"{what} {value!r} is not a finite number")
    return result


def statement_document(
    entries: Iterable[Mapping[str, Any]],
    *,
    opening: Mapping[tuple[str, str], Decimal] | None = None,
    statement_date: date,
    created: datetime,
    message_id: str,
) -> Any:
    """A camt.053.001.08 model: one statement per (account, currency) of ``entries`` (cash_flows rows).

    Each statement opens with ``opening[(account, currency)]`` (default zero) and closes with the
    opening plus its entries, so the statement's control totals hold by construction.
    """
    module = importlib.import_module(CAMT053_VERSIONS[CAMT053_WRITE][0])
    groups: dict[tuple[str, str], list[Mapping[str, Any]]] = {}
    for row in entries:
        groups.setdefault((str(row["account"]), str(row["currency"])), []).append(row)
    for key in opening or {}:
        groups.setdefault(key, [])
    statements = []
    day = statement_date.isoformat()
    for n, ((account, currency), rows) in enumerate(sorted(groups.items()), start=1):
        start = _as_decimal(
            (opening or {}).get((account, currency), Decimal(0)), f"opening balance of {account} {currency}"
        )
        total = Decimal(0)
        ntries = []
        for row in rows:
            amount = _as_decimal(row["amount"], f"amount of flow {row.get('flow_id')}")
            total += amount
            entry: dict[str, Any] = {
                "NtryRef": str(row["flow_id"])[:35],
                "Amt": _amount_of(amount, currency),
                "CdtDbtInd": _direction(amount),
                "Sts": {"Cd": _BOOKED},
                "BookgDt": {"Dt": str(row["date"])},
                "ValDt": {"Dt": str(row["date"])},
                "AcctSvcrRef": str(row["flow_id"])[:35],
                "BkTxCd": {"Prtry": {"Cd": str(row.get("type") or "PORTICO")[:35], "Issr": "PORTICO"}},
            }
            ntries.append(entry)
        closing = start + total
        account_id = (
            {"IBAN": account}
            if re.fullmatch(r"[A-Z]{2}[0-9]{2}[a-zA-Z0-9]{1,30}", account)
            else {"Othr": {"Id": account[:34]}}
        )
        statements.append(
            {
                "Id": f"{message_id}-{n}"[:35],
                "CreDtTm": created,
                "Acct": {"Id": account_id, "Ccy": currency},
                "Bal": [
                    {
                        "Tp": {"CdOrPrtry": {"Cd": "OPBD"}},
                        "Amt": _amount_of(start, currency),
                        "CdtDbtInd": _direction(start),
                        "Dt": {"Dt": day},
                    },
                    {
                        "Tp": {"CdOrPrtry": {"Cd": "CLBD"}},
                        "Amt": _amount_of(closing, currency),
                        "CdtDbtInd": _direction(closing),
                        "Dt": {"Dt": day},
                    },
                ],
                "TxsSummry": {
                    "TtlNtries": {
                        "NbOfNtries": str(len(ntries)),
                        "TtlNetNtry": {"Amt": abs(total), "CdtDbtInd": _direction(total)},
                    }
                },
                "Ntry": ntries,
            }
        )
    if not statements:
        raise FileRejected(
            "nothing to write: a camt.053 statement needs an account (cash flows or an opening balance)"
        )
    return build(
        module.Document,
        {"BkToCstmrStmt": {"GrpHdr": {"MsgId": message_id[:35], "CreDtTm": created}, "Stmt": statements}},
    )


def holdings_document(
    positions: Iterable[Mapping[str, Any]], *, account: str, statement_date: date, statement_id: str
) -> Any:
    """A semt.002.001.11 model of ``positions`` (positions rows): one balance per row, short when negative.

    Rows of other accounts than ``account`` are sub-accounts (``SubAcctDtls``).
    """
    cls = _model_class(*SEMT002_VERSIONS[SEMT002_WRITE])
    own: list[dict[str, Any]] = []
    subs: dict[str, list[dict[str, Any]]] = {}
    for row in positions:
        quantity = _as_decimal(row["quantity"], f"quantity of {row.get('isin')}")
        price = _as_decimal(row["price"], f"price of {row.get('isin')}")
        holding: dict[str, Any] = {
            "FinInstrmId": {"ISIN": str(row["isin"]), "Desc": str(row.get("symbol") or row["isin"])[:140]},
            "AggtBal": {
                "ShrtLngInd": "SHOR" if quantity < 0 else "LONG",
                "Qty": {"Qty": {"Qty": {"Unit": abs(quantity)}}},
            },
            "PricDtls": [
                {
                    "Tp": {"Cd": "MRKT"},
                    "Val": {"Amt": {"value": price, "Ccy": str(row["currency"])}},
                    "ValTp": {"ValTp": "PARV"},
                }
            ],
        }
        if str(row["account"]) == account:
            own.append(holding)
        else:
            subs.setdefault(str(row["account"]), []).append(holding)
    report: dict[str, Any] = {
        "Pgntn": {"PgNb": "1", "LastPgInd": True},
        "StmtGnlDtls": {
            "StmtId": statement_id[:35],
            "StmtDtTm": {"Dt": statement_date.isoformat()},
            "Frqcy": {"Cd": "DAIL"},
            "UpdTp": {"Cd": "COMP"},
            "StmtBsis": {"Cd": "TRAD"},
            "ActvtyInd": True,
            "SubAcctInd": bool(subs),
        },
        "SfkpgAcct": {"Id": account[:35]},
        "BalForAcct": own,
    }
    if subs:
        report["SubAcctDtls"] = [
            {"SfkpgAcct": {"Id": sub[:35]}, "ActvtyInd": True, "BalForSubAcct": items}
            for sub, items in sorted(subs.items())
        ]
    return build(cls, {"SctiesBalCtdyRpt": report})


def _require_columns(
    rows: list[Mapping[str, Any]], needed: tuple[str, ...], message: str, data_type: str
) -> None:
    missing = [c for c in needed if rows and c not in rows[0]]
    if missing:
        raise FileRejected(
            f"a {message} document is written from {data_type} rows; these rows lack {missing}"
        )


def _write_options_date(options: Mapping[str, Any], key: str, default: date) -> date:
    value = options.get(key)
    if value is None:
        return default
    return value if isinstance(value, date) else date.fromisoformat(str(value))
