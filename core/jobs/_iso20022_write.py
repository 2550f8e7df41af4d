"""ISO 20022 writing: camt.053 statements and semt.002 holdings built from portico's rows as
schema-generated models, checked with the same facet validation the reader applies, then serialised."""

from __future__ import annotations

import importlib
import re
from collections.abc import Iterable, Mapping
from dataclasses import fields, is_dataclass
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from enum import Enum
from typing import Any

from portico.jobs._formats import FileRejected
from portico.jobs._iso20022_schema import (
    _BOOKED,
    _NS,
    CAMT053_VERSIONS,
    SEMT002_VERSIONS,
    _element_name,
    _is_text,
    _model_class,
    schema_problems,
)

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
