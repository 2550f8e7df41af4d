"""IB's Flex Web Service: the account's cash transactions and corporate actions, for either transport.

Neither TWS nor the Client Portal API reports deposits, dividends paid or the splits applied to an
account; IB's Activity Flex statement does. A Flex query (configured once in Client Portal: Reports >
Flex Queries, with the Cash Transactions and Corporate Actions sections) is run with a Flex Web Service
token (``authentication.credentials.flex_token``) and the query's id (``connection.flex_query_id``):

1. ``GET {flex}/SendRequest?t=<token>&q=<query id>&v=3`` -> ``<Status>Success</Status>`` with a
   ``ReferenceCode`` and the ``Url`` to fetch it from, or ``Fail`` with IB's ``ErrorCode``;
2. ``GET {Url}?q=<reference>&t=<token>&v=3`` -> the ``<FlexQueryResponse>`` statement, or ``Warn`` 1019
   ("Statement generation in progress") to be asked again after ``flex_poll_interval`` seconds.

The token travels as the ``t`` query parameter (IB demands it) through an auth flow, so errors and call
records name the endpoint (``GET SendRequest``), never the URL. One statement is fetched per call and
kept for ``flex_cache_seconds`` (IB answers a query at most about once a minute).
"""

from __future__ import annotations

import re
from collections.abc import Generator
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx

from portico.connectors.interactive_brokers.spec import InteractiveBrokersConnection
from portico.errors import AuthError, ConfigurationError, PayloadRejected, ReadTimeout, VenueRejected
from portico.models import CashMovement, CashMovementType, CorporateAction, CorporateActionType

if TYPE_CHECKING:
    from xml.etree.ElementTree import Element

    from portico.sdk import ConnectorContext

__all__ = ["FlexStatements", "actions_from_statement", "movements_from_statement"]

_CASH_TYPES = {
    "Dividends": CashMovementType.DIVIDEND,
    "Payment In Lieu Of Dividends": CashMovementType.DIVIDEND,
    "Broker Interest Received": CashMovementType.INTEREST,
    "Broker Interest Paid": CashMovementType.INTEREST,
    "Bond Interest Received": CashMovementType.INTEREST,
    "Bond Interest Paid": CashMovementType.INTEREST,
    "Withholding Tax": CashMovementType.TAX,
    "Other Fees": CashMovementType.FEE,
    "Commission Adjustments": CashMovementType.FEE,
}
_SPLIT = re.compile(r"SPLIT\s+(?P<to>\d+(?:\.\d+)?)\s+FOR\s+(?P<from>\d+(?:\.\d+)?)", re.IGNORECASE)
_PER_SHARE = re.compile(r"(?:USD|[A-Z]{3})\s+(?P<amount>\d+(?:\.\d+)?)\s+PER SHARE", re.IGNORECASE)
_TOKEN_ERRORS = {"1012", "1015"}  # token expired, token invalid
_IN_PROGRESS = "1019"


class _TokenAuth(httpx.Auth):
    """The Flex token as the ``t`` query parameter."""

    def __init__(self, token: str) -> None:
        self._token = token

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.url = request.url.copy_merge_params({"t": self._token, "v": "3"})
        yield request

    def __repr__(self) -> str:
        return "FlexTokenAuth(t=***)"


def _day(text: str | None) -> date | None:
    text = (text or "").strip()[:8]
    if len(text) != 8 or not text.isdigit():
        return None
    return date(int(text[:4]), int(text[4:6]), int(text[6:]))


def _stamp(text: str | None) -> datetime | None:
    """IB's ``yyyyMMdd;HHmmss`` (the statement's time zone is configured per query; the mock and the
    default query use UTC) or ``yyyyMMdd``."""
    text = (text or "").strip()
    day = _day(text)
    if day is None:
        return None
    clock = text[9:15] if len(text) >= 15 else "000000"
    if not clock.isdigit():
        return datetime(day.year, day.month, day.day, tzinfo=UTC)
    return datetime(
        day.year, day.month, day.day, int(clock[:2]), int(clock[2:4]), int(clock[4:6]), tzinfo=UTC
    )


def _decimal(text: str | None, *, what: str, system: str) -> Decimal:
    try:
        return Decimal((text or "").replace(",", ""))
    except ArithmeticError:
        raise PayloadRejected(f"IB's Flex statement has a bad number in {what}: {text!r}", field=what,
                              system=system) from None  # fmt: skip


def _parse(xml: bytes | str, *, system: str) -> Element:
    from xml.etree.ElementTree import ParseError

    from defusedxml import DefusedXmlException
    from defusedxml.ElementTree import fromstring

    try:
        return fromstring(xml)
    except (ParseError, DefusedXmlException) as exc:
        raise PayloadRejected(
            f"IB's Flex Web Service answered unreadable XML: {exc}", system=system
        ) from None


def movements_from_statement(root: Element, *, system: str) -> list[CashMovement]:
    """The statement's ``CashTransaction`` rows (detail level) as cash movements, oldest first."""
    out: dict[str, CashMovement] = {}
    for row in root.iter("CashTransaction"):
        a = row.attrib
        if a.get("levelOfDetail", "DETAIL").upper() not in {"DETAIL", ""}:
            continue  # summary rows repeat the detail
        amount = _decimal(a.get("amount"), what="CashTransaction.amount", system=system)
        kind = a.get("type", "")
        if kind == "Deposits/Withdrawals":
            movement_type = CashMovementType.DEPOSIT if amount >= 0 else CashMovementType.WITHDRAWAL
        else:
            movement_type = _CASH_TYPES.get(kind, CashMovementType.OTHER)
        when = _day(a.get("settleDate")) or _day(a.get("reportDate")) or _day(a.get("dateTime"))
        if when is None:
            raise PayloadRejected(f"IB's Flex CashTransaction {a.get('transactionID')!r} has no date",
                                  field="CashTransaction.settleDate", system=system)  # fmt: skip
        description = a.get("description") or None
        per_share = None
        if movement_type is CashMovementType.DIVIDEND and description:
            found = _PER_SHARE.search(description)
            per_share = Decimal(found.group("amount")) if found else None
        movement_id = (
            a.get("transactionID") or f"{a.get('accountId')}:{kind}:{when}:{a.get('symbol')}:{amount}"
        )
        quantity = (amount / per_share).quantize(Decimal("0.0001")).normalize() if per_share else None
        out[movement_id] = CashMovement(
            movement_id=movement_id,
            account_id=a.get("accountId", ""),
            movement_type=movement_type,
            amount=amount,
            currency=a.get("currency") or "USD",
            date=when,
            symbol=a.get("symbol") or None,
            quantity=quantity,
            per_share=per_share,
            description=description,
            status="booked",
            timestamp=_stamp(a.get("dateTime")),
            source=system,
        )
    return sorted(out.values(), key=lambda m: (m.date, m.movement_id))


def actions_from_statement(root: Element, *, system: str) -> list[CorporateAction]:
    """The statement's splits (``CorporateAction`` rows of type FS forward, RS reverse) as corporate
    actions, oldest first, one per symbol and date however many accounts or lots report it.

    Dividends are not made actions here: a Flex cash transaction carries the pay date, not the ex date
    an action is identified by, so another provider's report of the same dividend would not be
    recognised; they are cash movements (:func:`movements_from_statement`)."""
    out: dict[str, CorporateAction] = {}
    for row in root.iter("CorporateAction"):
        a = row.attrib
        kind = a.get("type", "")
        if kind not in {"FS", "RS"}:
            continue
        found = _SPLIT.search(a.get("description", ""))
        when = _day(a.get("reportDate")) or _day(a.get("dateTime"))
        if found is None or when is None:
            raise PayloadRejected(
                f"IB's Flex CorporateAction {a.get('transactionID')!r} names no 'SPLIT n FOR m' and date",
                field="CorporateAction.description", system=system,
            )  # fmt: skip
        action = CorporateAction(
            symbol=a.get("symbol", "").upper(),
            action_type=CorporateActionType.SPLIT if kind == "FS" else CorporateActionType.REVERSE_SPLIT,
            ex_date=when,
            ratio_from=Decimal(found.group("from")),
            ratio_to=Decimal(found.group("to")),
            action_id=a.get("actionID") or None,
            source=system,
        )
        out.setdefault(action.key, action)
    return sorted(out.values(), key=lambda x: (x.ex_date, x.symbol))


class FlexStatements:
    """Runs the configured Flex query and reads its statement.

    Args:
        context: the connector's context (``flex`` URL, ``flex_token`` credential, ``flex_query_id``).
    """

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        self.system = context.system_id
        settings = context.settings_as(InteractiveBrokersConnection)
        self.query_id = settings.flex_query_id
        self.poll_interval = settings.flex_poll_interval
        self.max_polls = settings.flex_max_polls
        self.cache_seconds = settings.flex_cache_seconds
        self._http: Any = None
        self._held: tuple[float, Element] | None = None

    def _configured(self) -> str:
        token = self.context.credentials.get("flex_token")
        if self.query_id is None or token is None:
            missing = [n for n, v in (("connection.flex_query_id", self.query_id), ("credentials.flex_token", token))
                       if v is None]  # fmt: skip
            raise ConfigurationError(
                f"{self.system}: cash movements and corporate actions come from an IB Flex query; "
                f"set {' and '.join(missing)}",
                path=f"systems.{self.system}.{missing[0]}",
                system=self.system,
            )
        return token.get_secret_value() if hasattr(token, "get_secret_value") else str(token)

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    async def statement(self) -> Element:
        """The statement of the configured query (fetched at most once per ``flex_cache_seconds``)."""
        token = self._configured()
        now = self.context.clock.now().timestamp()
        if self._held is not None and now - self._held[0] < self.cache_seconds:
            return self._held[1]
        if self._http is None:
            self._http = self.context.api_client("flex", auth=_TokenAuth(token))
        sent = _parse(
            (await self._http.request("GET", "SendRequest", params={"q": self.query_id},
                                      endpoint="GET SendRequest")).content,
            system=self.system,
        )  # fmt: skip
        self._check(sent, "SendRequest")
        reference, url = sent.findtext("ReferenceCode"), sent.findtext("Url")
        if not reference or not url:
            raise PayloadRejected("IB's Flex SendRequest answered no ReferenceCode/Url", system=self.system)
        for attempt in range(self.max_polls):
            got = _parse(
                (
                    await self._http.request("GET", url, params={"q": reference}, endpoint="GET GetStatement")
                ).content,
                system=self.system,
            )
            if got.tag == "FlexQueryResponse":
                self._held = (self.context.clock.now().timestamp(), got)
                return got
            if got.findtext("ErrorCode") != _IN_PROGRESS:
                self._check(got, "GetStatement")
                raise PayloadRejected(f"IB's Flex GetStatement answered <{got.tag}>", system=self.system)
            if attempt + 1 < self.max_polls:
                await self.context.clock.sleep(self.poll_interval)
        raise ReadTimeout(
            f"IB's Flex statement was still being generated after {self.max_polls} polls", system=self.system
        )

    def _check(self, answer: Element, call: str) -> None:
        if answer.findtext("Status") == "Success":
            return
        code = answer.findtext("ErrorCode") or ""
        text = f"IB's Flex {call} refused: {code} {answer.findtext('ErrorMessage') or ''}".strip()
        if code in _TOKEN_ERRORS:
            raise AuthError(text, system=self.system, venue_code=code)
        raise VenueRejected(text, system=self.system, venue_code=code or None)

    async def cash_movements(
        self, account_id: str | None, *, since: datetime | None, until: datetime | None
    ) -> list[CashMovement]:
        found = movements_from_statement(await self.statement(), system=self.system)
        return [
            m
            for m in found
            if (account_id is None or m.account_id == account_id)
            and (since is None or m.date >= since.astimezone(UTC).date())
            and (until is None or m.date < until.astimezone(UTC).date())
        ]

    async def corporate_actions(
        self, symbol: str, *, start: datetime | None, end: datetime | None
    ) -> list[CorporateAction]:
        found = actions_from_statement(await self.statement(), system=self.system)
        return [
            a
            for a in found
            if a.symbol == symbol.strip().upper()
            and (start is None or a.ex_date >= start.astimezone(UTC).date())
            and (end is None or a.ex_date <= end.astimezone(UTC).date())
        ]
