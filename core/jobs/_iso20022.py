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

This module is the reader and the three formats; the version catalogue and the facet check are in
:mod:`._iso20022_schema`, the model builders and serialiser the writers use in :mod:`._iso20022_write`.
It stays over 600 lines because it is one job, reading one message family: the guard, the binding and
the record extraction of camt.053, camt.054 and semt.002 share their path helpers and their reject
rules, and splitting them per message would repeat those helpers in each part.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field, fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import IO, Any

from portico.errors import ConfigurationError
from portico.jobs._formats import FileRejected, RawChunk
from portico.jobs._iso20022_schema import (
    _BOOKED,
    _NS,
    CAMT053_VERSIONS,
    CAMT054_VERSIONS,
    SEMT002_VERSIONS,
    SchemaProblem,
    _element_name,
    _fields_by_element,
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
