"""ISO 20022 record extraction: the holdings (semt.002), balances and entries (camt.053 / camt.054)
of a parsed document as records or rejects, each by its XPath, and the statements' control totals."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, fields, is_dataclass
from decimal import Decimal
from enum import Enum
from typing import Any

from portico.jobs._formats import FileRejected
from portico.jobs._iso20022_schema import (
    _BOOKED,
    IsoDocument,
    _element_name,
    _fields_by_element,
)

__all__ = ["StatementTotals", "balance_records", "entry_records", "holding_records", "statement_totals"]


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
