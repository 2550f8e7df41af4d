"""Connector imports of reference and event data: corporate actions, news, fundamentals, cash movements.

Each turns a connector's canonical models into records of the matching record type, so a scheduled
import with ``data_type: corporate_actions | news | fundamentals | cash_movements`` loads, rejects or
quarantines them like any file's rows. News is deduplicated across providers by the article's
canonical URL (its ``news_id``): an article already stored by an earlier import, from whichever
provider, is not loaded again.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from portico.errors import ConfigurationError
from portico.models import CashMovement, CorporateAction, Fundamentals, NewsItem

if TYPE_CHECKING:
    from portico.store import Database

__all__ = [
    "REFERENCE_TYPES",
    "cash_movement_records",
    "corporate_action_records",
    "fundamentals_records",
    "loaded_rows",
    "news_records",
    "pull_reference_records",
    "stored_news_ids",
]

REFERENCE_TYPES = frozenset({"corporate_actions", "news", "fundamentals", "cash_movements"})
"""The record types a connector import can pull besides prices."""

_PROFILE = (
    "name", "description", "exchange", "country", "sector", "industry", "market_capitalization", "pe_ratio",
    "eps", "dividend_yield", "beta", "shares_outstanding", "fiscal_year_end", "latest_quarter",
)  # fmt: skip
_STATEMENTS = (
    ("income", "income_statements"),
    ("balance", "balance_sheets"),
    ("cash_flow", "cash_flows"),
    ("earnings", "earnings"),
)


def corporate_action_records(actions: Iterable[CorporateAction], *, source: str) -> list[dict[str, Any]]:
    """``corporate_actions`` records (one per action key, the last report winning)."""
    out: dict[str, dict[str, Any]] = {}
    for a in actions:
        out[a.key] = {
            "symbol": a.symbol.upper(),
            "action_type": a.action_type.value,
            "ex_date": a.ex_date,
            "record_date": a.record_date,
            "pay_date": a.pay_date,
            "cash_amount": a.cash_amount,
            "currency": a.currency,
            "ratio_from": a.ratio_from,
            "ratio_to": a.ratio_to,
            "new_symbol": a.new_symbol,
            "source": a.source or source,
        }
    return list(out.values())


def news_records(
    items: Iterable[NewsItem], *, source: str, skip: set[str] | None = None
) -> list[dict[str, Any]]:
    """``news`` records keyed by each article's digest; articles in ``skip`` (already stored) and
    repeats within ``items`` are left out."""
    seen = set(skip or ())
    out = []
    for item in items:
        if item.digest in seen:
            continue
        seen.add(item.digest)
        out.append(
            {
                "news_id": item.digest,
                "published_at": item.published_at.astimezone(UTC).isoformat(),
                "headline": item.headline[:4000],
                "summary": (item.summary or "")[:4000] or None,
                "url": item.url,
                "source": item.source,
                "provider": item.provider or source,
                "symbols": ",".join(item.symbols) or None,
                "sentiment": item.sentiment,
            }
        )
    return out


def _period_end(row: Mapping[str, Any]) -> Any:
    from datetime import date

    text = row.get("fiscalDateEnding") or row.get("period_end") or row.get("date")
    if isinstance(text, date):
        return text
    try:
        return date.fromisoformat(str(text)[:10]) if text else None
    except ValueError:
        return None


def fundamentals_records(f: Fundamentals, *, source: str) -> list[dict[str, Any]]:
    """``fundamentals`` records: one per profile figure, and one per line item of each statement period."""
    out: list[dict[str, Any]] = []
    base = {"symbol": f.symbol.upper(), "currency": f.currency, "source": f.source or source}
    for name in _PROFILE:
        value = getattr(f, name)
        if value is None:
            continue
        numeric = isinstance(value, Decimal | int)
        out.append({**base, "statement": "profile", "period": "current", "period_end": None, "item": name,
                    "value": Decimal(value) if numeric else None, "text": None if numeric else str(value)[:256]})  # fmt: skip
    for statement, attribute in _STATEMENTS:
        for row in getattr(f, attribute):
            period = str(row.get("period") or "annual")
            end = _period_end(row)
            for item, value in row.items():
                if item in ("period", "fiscalDateEnding", "reportedCurrency", "period_end") or value is None:
                    continue
                numeric = isinstance(value, Decimal | int)
                out.append({**base, "statement": statement, "period": period, "period_end": end, "item": item,
                            "value": Decimal(value) if numeric else None,
                            "text": None if numeric else str(value)[:256]})  # fmt: skip
    return out


def cash_movement_records(movements: Iterable[CashMovement], *, source: str) -> list[dict[str, Any]]:
    """``cash_movements`` records."""
    return [
        {
            "movement_id": m.movement_id,
            "account": m.account_id,
            "date": m.date,
            "type": m.movement_type.value,
            "amount": m.amount,
            "currency": m.currency,
            "symbol": m.symbol,
            "quantity": m.quantity,
            "description": (m.description or None) and m.description[:256],
            "source": m.source or source,
        }
        for m in movements
    ]


def stored_news_ids(db: Database | None, candidates: Iterable[str]) -> set[str]:
    """Which of ``candidates`` are already stored as ``news`` records."""
    wanted = sorted(set(candidates))
    if db is None or not wanted:
        return set()
    import sqlalchemy as sa

    from portico.jobs._records import RECORD_TYPES
    from portico.jobs._tables import data_table

    table = data_table(RECORD_TYPES["news"])
    db.ensure_tables(table)
    found: set[str] = set()
    with db.begin() as conn:
        for i in range(0, len(wanted), 500):
            chunk = wanted[i : i + 500]
            found.update(conn.execute(sa.select(table.c.news_id).where(table.c.news_id.in_(chunk))).scalars())
    return found


def _when(value: Any) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


async def pull_reference_records(
    connector: Any, data_type: str, params: Mapping[str, Any], *, source: str, db: Database | None = None
) -> tuple[list[dict[str, Any]], int]:
    """Records of ``data_type`` pulled from ``connector`` for the import's ``symbols``, ``start``/``end``
    (``since``/``until`` for cash movements) and ``limit``, and how many items were left out as already
    stored (news another import, from any provider, loaded before).

    Raises:
        ConfigurationError: no symbols for a per-symbol type, or a type this module does not pull.
    """
    symbols = [str(s).strip().upper() for s in params.get("symbols") or [] if str(s).strip()]
    start, end = _when(params.get("start")), _when(params.get("end"))
    if data_type == "cash_movements":
        movements = await connector.get_cash_movements(
            params.get("account"),
            since=_when(params.get("since")) or start,
            until=_when(params.get("until")) or end,
        )
        return cash_movement_records(movements, source=source), 0
    if not symbols:
        raise ConfigurationError(f"a connector import of {data_type} needs symbols", path="symbols")
    if data_type == "corporate_actions":
        actions = []
        for symbol in symbols:
            actions.extend(await connector.get_corporate_actions(symbol, start=start, end=end))
        return corporate_action_records(actions, source=source), 0
    if data_type == "news":
        limit = params.get("limit")
        items = await connector.get_news(symbols, start=start, end=end, limit=int(limit) if limit else None)
        stored = stored_news_ids(db, (i.digest for i in items))
        return news_records(items, source=source, skip=stored), len({i.digest for i in items} & stored)
    if data_type == "fundamentals":
        rows: list[dict[str, Any]] = []
        for symbol in symbols:
            f = await connector.get_fundamentals(symbol, statements=bool(params.get("statements", True)))
            rows.extend(fundamentals_records(f, source=source))
        return rows, 0
    raise ConfigurationError(
        f"connector imports pull prices and {', '.join(sorted(REFERENCE_TYPES))}; not {data_type!r}",
        path="data_type",
    )


def loaded_rows(db: Database, rt: Any, load_id: str) -> list[dict[str, Any]]:
    """The rows one committed load stored for record type ``rt``, in file order, typed as loaded."""
    import sqlalchemy as sa

    from portico.jobs._tables import data_table, job_tables

    table = data_table(rt)
    numbers = job_tables()["load_numbers"]
    with db.begin() as conn:
        load_no = conn.execute(sa.select(numbers.c.load_no).where(numbers.c.load_id == load_id)).scalar()
        rows = conn.execute(
            sa.select(*[table.c[f] for f in rt.fields]).where(table.c.load_no == load_no).order_by(table.c.line)
        ).all()
    return [dict(zip(rt.fields, row, strict=True)) for row in rows]

