"""The LSEG Data Platform (RDP) mock: token service, historical pricing, pricing snapshots and the datagrid.

Routes (relative to the platform's base URL, as lseg-data's config names them):

* ``POST /auth/oauth2/v1/token`` (password and refresh_token grants), ``POST /auth/oauth2/v2/token``
  (client_credentials), ``POST /auth/oauth2/v1/revoke`` (form bodies, see :mod:`._auth`).
* ``GET /data/historical-pricing/v1/views/interday-summaries/{ric}``, ``.../intraday-summaries/{ric}``,
  ``.../events/{ric}``: a one-element list ``[{"universe", "interval", "summaryTimestampLabel", "adjustments",
  "defaultPricingField", "qos", "headers", "data"}]``, rows newest first; in-body ``status`` errors
  (``TS.Interday.UserRequestError.70005`` unknown RIC, ``TS.Interday.UserNotPermission.70112`` no permission)
  at HTTP 200, the way lseg-data's historical content validator reads them.
* ``GET /data/pricing/snapshots/v1/?universe=&fields=``: a list of ``Refresh`` messages (``Key``, ``State``,
  ``Fields``), ``Status`` messages for RICs that are not found.
* ``POST /data/datagrid/beta1/`` (``{"universe", "fields", "parameters"}``): the RDP datagrid answer
  ``{"headers", "data", "messages", "totalRowsCount", "totalColumnsCount"}``.
* ``GET /streaming/pricing/v1/`` and the OMM WebSocket ``/WebSocket`` (see :mod:`._stream`).
* ``POST /discovery/search/v1/`` (``{"Query", "View", "Top", "Skip", "Select"}``): ``{"Total", "Hits"}`` with the
  selected properties of each matching equity (``RIC``, ``DocumentTitle``, ``CommonName``, ``ExchangeName``...).

Admin (never faulted): ``GET|POST /__mock__/refinitiv/permissions`` (RICs answered ``UserNotPermission``),
``GET|DELETE /__mock__/refinitiv/sessions`` (open sessions per user; DELETE frees every user's quota).

Data calls need ``Authorization: Bearer``; gateway errors use LSEG's envelope
``{"error": {"id", "code", "message", "status", "errors"?}}``. Each user may make ``requests_per_second``
data calls per second (429 past it) and a summaries answer holds at most ``interday_row_cap`` rows
(``intraday_datapoint_cap`` datapoints, rows times fields, intraday): longer ranges must be paged.
"""

from __future__ import annotations

import re
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route, WebSocketRoute

from portico.mocks._kit import NEW_YORK, MockApp, MockClock, is_trading_day, json_response
from portico.mocks.refinitiv._auth import TokenService, oauth_error
from portico.mocks.refinitiv._data import EQUITIES, Equity, FxRic, PriceBook, parse_fx_ric
from portico.mocks.refinitiv._stream import PricingStream

__all__ = ["HP_PREFIX", "RefinitivMock", "create_app", "gateway_error"]

HP_PREFIX = "/data/historical-pricing/v1/views"

_INTRADAY = {"PT1M": 1, "PT5M": 5, "PT10M": 10, "PT30M": 30, "PT60M": 60, "PT1H": 60}
_INTERDAY = {"P1D": "1day", "P7D": "1week", "P1W": "1week", "P1M": "1month"}
_EQUITY_FIELDS = ("OPEN_PRC", "HIGH_1", "LOW_1", "TRDPRC_1", "ACVOL_UNS", "VWAP", "NUM_MOVES", "BID", "ASK")
_FX_FIELDS = ("OPEN_BID", "BID_HIGH_1", "BID_LOW_1", "BID", "OPEN_ASK", "ASK_HIGH_1", "ASK_LOW_1", "ASK",
              "MID_PRICE", "NUM_BIDS")  # fmt: skip
_INTEGER_FIELDS = {
    "ACVOL_UNS",
    "NUM_MOVES",
    "NUM_BIDS",
    "BIDSIZE",
    "ASKSIZE",
    "TRDVOL_1",
    "ACVOL_1",
    "SEQNUM",
}
_STRING_FIELDS = {"DSPLY_NAME", "CURRENCY", "TRADE_DATE", "QUOTIM", "QUOTE_DATE", "TRDTIM_1", "VALUE_TS1",
                  "VALUE_DT1", "EVENT_TYPE"}  # fmt: skip
_DEFAULT_COUNT = 20
_SEARCH_VIEWS = {"SearchAll", "EquityQuotes", "Entities", "Instruments", "Quotes", "QuotesAndSTIRs"}
_SEARCH_DEFAULT = ("BusinessEntity", "DocumentTitle", "PermID", "PI", "RIC")
_MAX_COUNT = 10000
_NANOS = re.compile(r"(\.\d{6})\d+")

_DATAGRID_FIELDS: dict[str, tuple[str, str]] = {
    "TR.COMMONNAME": ("Company Common Name", "string"),
    "TR.EXCHANGENAME": ("Exchange Name", "string"),
    "TR.HEADQUARTERSCOUNTRY": ("Country of Headquarters", "string"),
    "TR.TRBCECONOMICSECTOR": ("TRBC Economic Sector Name", "string"),
    "TR.TRBCINDUSTRY": ("TRBC Industry Name", "string"),
    "TR.PRICECLOSE": ("Price Close", "number"),
    "TR.PRICECLOSE.CURRENCY": ("Currency", "string"),
    "TR.COMPANYMARKETCAP": ("Company Market Cap", "number"),
    "TR.SHARESOUTSTANDING": ("Outstanding Shares", "number"),
    "TR.EPSACTVALUE": ("Earnings Per Share - Actual", "number"),
    "TR.PE": ("P/E (Daily Time Series Ratio)", "number"),
    "TR.DIVIDENDYIELD": ("Dividend yield", "number"),
    "TR.BETA": ("Beta", "number"),
    "TR.REVENUE": ("Revenue", "number"),
    "TR.ISIN": ("ISIN", "string"),
}
"""TR fields the datagrid answers: title and type, by upper-case name."""


def gateway_error(status: int, message: str, *, errors: list[dict[str, str]] | None = None) -> dict[str, Any]:
    """LSEG's API gateway error envelope."""
    reasons = {400: "Bad Request", 401: "Unauthorized", 403: "Forbidden", 404: "Not Found",
               429: "Too Many Requests", 500: "Internal Server Error"}  # fmt: skip
    error: dict[str, Any] = {"id": str(uuid.uuid4()), "code": str(status), "message": message,
                             "status": reasons.get(status, "Error")}  # fmt: skip
    if errors:
        error["errors"] = errors
    return {"error": error}


def _parse_time(value: str, name: str) -> datetime:
    text = _NANOS.sub(r"\1", value.strip()).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"{name} {value!r} is not an ISO 8601 date or time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _stamp(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")


def _header(name: str) -> dict[str, str]:
    if name in _STRING_FIELDS:
        return {"name": name, "type": "string"}
    if name in _INTEGER_FIELDS:
        return {"name": name, "type": "number", "decimalChar": "."}
    return {"name": name, "type": "number", "decimalChar": "."}


@dataclass
class RefinitivMock:
    """The mock platform's state: token service, prices, limits and permissions.

    Attributes:
        seed: the data seed.
        clock: the mock's clock.
        tokens: the token service (accounts, sessions, tokens).
        prices: seeded prices.
        unpermitted: RICs every user lacks permission for (``UserNotPermission`` answers).
        quiet: RICs whose feed went quiet, with the time of their last quote (snapshots keep showing it).
        requests_per_second: data calls each user may make per second.
        interday_row_cap: rows one interday answer holds at most.
        intraday_datapoint_cap: rows times fields one intraday answer holds at most.
    """

    seed: int
    clock: MockClock
    tokens: TokenService
    prices: PriceBook
    unpermitted: set[str] = field(default_factory=set)
    quiet: dict[str, datetime] = field(default_factory=dict)
    requests_per_second: int = 5
    interday_row_cap: int = 3000
    intraday_datapoint_cap: int = 50000
    calls: dict[str, deque[float]] = field(default_factory=dict)

    # -- plumbing --------------------------------------------------------------------------------

    @staticmethod
    async def form(request: Request) -> dict[str, str]:
        """A form body, parsed without python-multipart."""
        return {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}

    def authorize(self, request: Request) -> tuple[str | None, Response | None]:
        """The caller's user, or the 401/429 answer to send."""
        user, reason = self.tokens.bearer(request.headers.get("authorization", ""))
        if user is None:
            return None, json_response(gateway_error(401, reason), 401)
        now = self.clock.monotonic()
        window = self.calls.setdefault(user, deque())
        # a microsecond of slack: a client pacing itself exactly to the second is within the limit
        while window and window[0] <= now - 1.0 + 1e-6:
            window.popleft()
        if len(window) >= self.requests_per_second:
            return None, json_response(gateway_error(429, "Too many requests, please try again later."), 429)
        window.append(now)
        return user, None

    # -- auth ------------------------------------------------------------------------------------

    async def token_v1(self, request: Request) -> Response:
        status, body = self.tokens.grant(await self.form(request), version=1)
        return json_response(body, status)

    async def token_v2(self, request: Request) -> Response:
        status, body = self.tokens.grant(await self.form(request), version=2)
        return json_response(body, status)

    async def revoke(self, request: Request) -> Response:
        form = await self.form(request)
        if not form.get("token"):
            return json_response(oauth_error("invalid_request", "token is required"), 400)
        self.tokens.revoke(form)
        return Response(status_code=200)

    # -- historical pricing ----------------------------------------------------------------------

    def resolve(self, ric: str) -> Equity | FxRic | None:
        """The equity or FX pair a RIC names, None when the mock does not know it."""
        return EQUITIES.get(ric) or parse_fx_ric(ric)

    def snapshot_fields(self, found: Equity | FxRic) -> dict[str, Any]:
        """Every snapshot field of an instrument now (at its last quote time when its feed went quiet)."""
        now = self.clock.now()
        fields = (
            self.prices.fx_snapshot(found, now)
            if isinstance(found, FxRic)
            else self.prices.equity_snapshot(found, now)
        )
        quiet = self.quiet.get(found.ric)
        if quiet is not None:
            stamp, day = quiet.strftime("%H:%M:%S"), quiet.date().isoformat()
            fields.update({"QUOTIM": stamp, "VALUE_TS1": stamp, "QUOTE_DATE": day, "VALUE_DT1": day})
        return fields

    @staticmethod
    def _status(ric: str, code: str, message: str) -> Response:
        return json_response([{"universe": {"ric": ric}, "status": {"code": code, "message": message}}])

    def _window(self, query: Any) -> tuple[datetime | None, datetime, int | None]:
        now = self.clock.now()
        start = _parse_time(query["start"], "start") if query.get("start") else None
        end = min(_parse_time(query["end"], "end"), now) if query.get("end") else now
        count = None
        if query.get("count"):
            try:
                count = int(query["count"])
            except ValueError:
                raise ValueError(f"count {query['count']!r} is not an integer") from None
            if not 1 <= count <= _MAX_COUNT:
                raise ValueError(f"count must be between 1 and {_MAX_COUNT}")
        return start, end, count

    @staticmethod
    def _fields(query: Any, available: tuple[str, ...]) -> list[str]:
        asked = [f.strip().upper() for f in str(query.get("fields") or "").split(",") if f.strip()]
        return [f for f in asked if f in available] if asked else list(available)

    async def summaries(self, request: Request) -> Response:
        _, refused = self.authorize(request)
        if refused is not None:
            return refused
        view = request.path_params["view"]
        ric = request.path_params["ric"]
        if view not in ("interday-summaries", "intraday-summaries"):
            return json_response(gateway_error(404, f"no view {view!r}"), 404)
        intraday = view == "intraday-summaries"
        family = "Intraday" if intraday else "Interday"
        query = request.query_params
        interval = str(query.get("interval") or ("PT1M" if intraday else "P1D")).upper()
        if (intraday and interval not in _INTRADAY) or (not intraday and interval not in _INTERDAY):
            return self._status(ric, f"TS.{family}.UserRequestError.{'90006' if intraday else '70006'}",
                                f"The interval {interval} is not supported by the {view} view.")  # fmt: skip
        found = self.resolve(ric)
        if found is None:
            code = "90001" if intraday else "70005"
            return self._status(ric, f"TS.{family}.UserRequestError.{code}", "The universe is not found.")
        if ric in self.unpermitted:
            code = "92000" if intraday else "70112"
            return self._status(ric, f"TS.{family}.UserNotPermission.{code}", "User has no permission.")
        try:
            start, end, count = self._window(query)
        except ValueError as exc:
            return json_response(
                gateway_error(400, "Validation error", errors=[{"key": "query", "reason": str(exc)}]), 400
            )
        available = _FX_FIELDS if isinstance(found, FxRic) else _EQUITY_FIELDS
        fields = self._fields(query, available)
        now = self.clock.now()
        cap = max(1, self.intraday_datapoint_cap // (len(fields) + 1)) if intraday else self.interday_row_cap
        wanted = min(count or (cap if start is not None else _DEFAULT_COUNT), cap)
        if intraday:
            rows = self._intraday_rows(found, _INTRADAY[interval], start, end, now, wanted)
        else:
            rows = self._interday_rows(found, interval, start, end, now, wanted)
        rows = sorted(rows, key=lambda r: r["start"], reverse=True)[:wanted]
        label = "startPeriod" if intraday else "endPeriod"
        stamp_name = "DATE_TIME" if intraday else "DATE"
        data = []
        for row in rows:
            stamp = _stamp(row["start"]) if intraday else row["date"].isoformat()
            data.append([stamp, *(row.get(f) for f in fields)])
        headers = [{"name": stamp_name, "type": "string"}, *(_header(f) for f in fields)]
        body = {
            "universe": {"ric": ric},
            "interval": interval,
            "summaryTimestampLabel": label,
            "adjustments": ["exchangeCorrection", "manualCorrection", "CCH", "CRE", "RTS", "RPO"],
            "defaultPricingField": "MID_PRICE" if isinstance(found, FxRic) else "TRDPRC_1",
            "qos": {"timeliness": "delayed"},
            "headers": headers,
            "data": data,
        }
        return json_response([body])

    def _interday_rows(
        self,
        found: Equity | FxRic,
        interval: str,
        start: datetime | None,
        end: datetime,
        now: datetime,
        wanted: int,
    ) -> list[dict[str, Any]]:
        timeframe = _INTERDAY[interval]
        last = end.astimezone(UTC).date()
        # without a start, only as far back as the newest ``wanted`` periods can reach (holidays included)
        days_per_period = {"1day": 1.6, "1week": 7.5, "1month": 31.5}[timeframe]
        lookback = timedelta(days=int(wanted * days_per_period) + 10)
        first = start.astimezone(UTC).date() if start else last - lookback
        first = max(first, last - timedelta(days=365 * 30))
        if isinstance(found, FxRic):
            days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
            days = [d for d in days if is_trading_day(d)]
            if timeframe != "1day":
                return self._fx_periods(found, days, timeframe, now)
            stamps = [datetime.combine(d, time(0), UTC) for d in days]
            out = []
            for stamp in stamps:
                step = min(timedelta(days=1), max(timedelta(seconds=1), now - stamp))
                row = self.prices.fx_summaries(found, [stamp], step)[0]
                out.append({**row, "date": stamp.date()})
            return out
        local_start = datetime.combine(first, time(0), NEW_YORK)
        local_end = datetime.combine(last, time(23, 59), NEW_YORK)
        rows = self.prices.equity_summaries(found.ric, timeframe, local_start, local_end, now)
        for row in rows:
            day = row["start"].astimezone(NEW_YORK).date()
            row["date"] = _period_end(day, timeframe)
        return [r for r in rows if first <= r["date"] <= last or timeframe != "1day"]

    def _fx_periods(
        self, found: FxRic, days: list[date], timeframe: str, now: datetime
    ) -> list[dict[str, Any]]:
        groups: dict[tuple[int, int], list[date]] = {}
        for d in days:
            key = d.isocalendar()[:2] if timeframe == "1week" else (d.year, d.month)
            groups.setdefault(key, []).append(d)
        out = []
        for members in groups.values():
            stamps = [datetime.combine(d, time(0), UTC) for d in members]
            parts = self.prices.fx_summaries(found, stamps, timedelta(days=1))
            row = {
                **parts[-1],
                "OPEN_BID": parts[0]["OPEN_BID"], "OPEN_ASK": parts[0]["OPEN_ASK"],
                "BID_HIGH_1": max(p["BID_HIGH_1"] for p in parts), "BID_LOW_1": min(p["BID_LOW_1"] for p in parts),
                "ASK_HIGH_1": max(p["ASK_HIGH_1"] for p in parts), "ASK_LOW_1": min(p["ASK_LOW_1"] for p in parts),
                "NUM_BIDS": sum(p["NUM_BIDS"] for p in parts),
                "date": _period_end(members[0], timeframe),
            }  # fmt: skip
            if stamps[0] <= now:
                out.append(row)
        return out

    def _intraday_rows(
        self,
        found: Equity | FxRic,
        minutes: int,
        start: datetime | None,
        end: datetime,
        now: datetime,
        wanted: int,
    ) -> list[dict[str, Any]]:
        step = timedelta(minutes=minutes)
        # equities trade 390 minutes a weekday, FX around the clock on weekdays
        per_day = 1440 // minutes if isinstance(found, FxRic) else max(1, 390 // minutes)
        first = start or end - timedelta(days=int(wanted / per_day * 1.5) + 4)
        first = max(first, end - timedelta(days=400))
        if isinstance(found, FxRic):
            epoch = datetime(2000, 1, 3, tzinfo=UTC)
            t = epoch + step * ((first - epoch) // step)
            if t < first:
                t += step
            stamps = []
            while t <= end and t + step <= now + step:
                if is_trading_day(t.date()):
                    stamps.append(t)
                t += step
            return self.prices.fx_summaries(found, stamps, step)
        timeframe = f"{minutes}min" if minutes < 60 else "1hour"
        return self.prices.equity_summaries(found.ric, timeframe, first, end, now)

    async def events(self, request: Request) -> Response:
        _, refused = self.authorize(request)
        if refused is not None:
            return refused
        ric = request.path_params["ric"]
        found = self.resolve(ric)
        if found is None:
            return self._status(ric, "TS.Intraday.UserRequestError.90001", "The universe is not found.")
        if ric in self.unpermitted:
            return self._status(ric, "TS.Intraday.UserNotPermission.92000", "User has no permission.")
        try:
            start, end, count = self._window(request.query_params)
        except ValueError as exc:
            return json_response(
                gateway_error(400, "Validation error", errors=[{"key": "query", "reason": str(exc)}]), 400
            )
        kinds = {
            k.strip().lower() for k in str(request.query_params.get("eventTypes") or "trade,quote").split(",")
        }
        wanted = min(count or _DEFAULT_COUNT, _MAX_COUNT)
        first = start or end - timedelta(hours=2)
        events: list[tuple[datetime, list[Any]]] = []
        if isinstance(found, FxRic):
            # FX has quotes only: one every three seconds on weekdays, the newest ``wanted`` of the range
            if "quote" in kinds:
                tick = datetime.fromtimestamp(int(end.timestamp()) // 3 * 3, UTC)
                while tick >= first and len(events) < wanted:
                    if is_trading_day(tick.date()):
                        bid, ask = self.prices.fx_quote(found, tick)
                        events.append((tick, ["quote", None, None, bid, None, ask, None]))
                    tick -= timedelta(seconds=3)
        else:
            root = PriceBook.root(ric)
            generator = self.prices.generator
            if "trade" in kinds:
                for t in generator.trades(root, first, end, limit=None):
                    events.append((t.timestamp, ["trade", t.price, t.size, None, None, None, None]))
            if "quote" in kinds:
                for q in generator.quotes(root, first, end, limit=None):
                    events.append(
                        (q.timestamp, ["quote", None, None, q.bid_price, q.bid_size, q.ask_price, q.ask_size])
                    )
        events.sort(key=lambda e: e[0], reverse=True)
        # a sequence number that stays the event's own from page to page (the feed's, not the answer's)
        data = [
            [_stamp(when), *values, int(when.timestamp() * 1000) * 2 + (values[0] == "quote")]
            for when, values in events[:wanted]
        ]
        names = ("EVENT_TYPE", "TRDPRC_1", "TRDVOL_1", "BID", "BIDSIZE", "ASK", "ASKSIZE", "SEQNUM")
        body = {
            "universe": {"ric": ric},
            "adjustments": ["exchangeCorrection", "manualCorrection"],
            "defaultPricingField": "BID" if isinstance(found, FxRic) else "TRDPRC_1",
            "qos": {"timeliness": "delayed"},
            "headers": [{"name": "DATE_TIME", "type": "string"}, *(_header(n) for n in names)],
            "data": data,
        }
        return json_response([body])

    # -- snapshots -------------------------------------------------------------------------------

    async def snapshots(self, request: Request) -> Response:
        _, refused = self.authorize(request)
        if refused is not None:
            return refused
        universe = [
            u.strip() for u in str(request.query_params.get("universe") or "").split(",") if u.strip()
        ]
        if not universe:
            return json_response(gateway_error(400, "Validation error",
                                               errors=[{"key": "universe", "reason": "universe is required"}]), 400)  # fmt: skip
        fields = [
            f.strip().upper() for f in str(request.query_params.get("fields") or "").split(",") if f.strip()
        ]
        out = []
        for i, ric in enumerate(universe):
            found = self.resolve(ric)
            key = {"Service": "IDN_RDF", "Name": ric}
            if found is None or ric in self.unpermitted:
                code, text = ("NotFound", "**The record could not be found") if found is None else (
                    "NotEntitled", "Access Denied: User req to PE(62)")  # fmt: skip
                out.append({"Type": "Status", "ID": i, "Key": {"Name": ric},
                            "State": {"Stream": "Closed", "Data": "Suspect", "Code": code, "Text": text}})  # fmt: skip
                continue
            values = self.snapshot_fields(found)
            if fields:
                values = {f: values.get(f) for f in fields if f in values}
            out.append({"Type": "Refresh", "ID": i, "Key": key,
                        "State": {"Stream": "NonStreaming", "Data": "Ok", "Text": "All is well"},
                        "Fields": values})  # fmt: skip
        return json_response(out)

    # -- datagrid --------------------------------------------------------------------------------

    async def datagrid(self, request: Request) -> Response:
        _, refused = self.authorize(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return json_response(gateway_error(400, "Malformed JSON body"), 400)
        universe = body.get("universe") if isinstance(body, dict) else None
        fields = body.get("fields") if isinstance(body, dict) else None
        if isinstance(universe, str):
            universe = [universe]
        if not isinstance(universe, list) or not universe or not isinstance(fields, list) or not fields:
            return json_response(gateway_error(400, "Validation error", errors=[
                {"key": "universe", "reason": "universe and fields are required lists"}]), 400)  # fmt: skip
        names = [str(f.get("name") if isinstance(f, dict) else f) for f in fields]
        known = [n for n in names if n.upper() in _DATAGRID_FIELDS]
        if not known:
            return json_response({"error": {"code": 218, "description": "Unable to resolve all requested fields in "
                                            f"{names}. The formula must contain at least one field or function."}})  # fmt: skip
        equities = [EQUITIES.get(str(u)) for u in universe]
        if not any(equities):
            return json_response(
                {
                    "error": {
                        "code": 412,
                        "description": f"Unable to resolve all requested identifiers in {universe}.",
                    }
                }
            )
        now = self.clock.now()
        descriptions = []
        data = []
        for ric, equity in zip(universe, equities, strict=True):
            values = self.prices.reference(equity, now) if equity else {}
            if equity is None:
                descriptions.append(
                    {
                        "code": 416,
                        "description": f"Unable to collect data for the field(s) and some specific identifier(s): {ric}.",
                    }
                )
            data.append([ric, *(values.get(n.upper()) for n in names)])
        for n in names:
            if n.upper() not in _DATAGRID_FIELDS:
                descriptions.append(
                    {"code": 416, "description": f"Unable to collect data for the field '{n}'."}
                )
        headers = [{"name": "instrument", "title": "Instrument", "type": "string",
                    "description": "The requested Instrument as defined by the user."}]  # fmt: skip
        for n in names:
            title, kind = _DATAGRID_FIELDS.get(n.upper(), (n, "string"))
            headers.append({"name": n, "title": title, "type": kind, "description": title})
        answer: dict[str, Any] = {
            "links": {"count": len(data)},
            "variability": "",
            "universe": [
                {
                    "Instrument": r,
                    "Company Common Name": e.name if e else None,
                    "Organization PermID": None,
                    "Reporting Currency": e.currency if e else None,
                }
                for r, e in zip(universe, equities, strict=True)
            ],
            "data": data,
            "messages": {"codes": [[-1] * (len(names) + 1) for _ in data], "descriptions": descriptions},
            "headers": headers,
            "totalRowsCount": len(data),
            "totalColumnsCount": len(names) + 1,
        }
        return json_response(answer)

    # -- admin -----------------------------------------------------------------------------------

    async def admin_permissions(self, request: Request) -> Response:
        """``GET``: the RICs nobody may see; ``POST {"deny": [...], "allow": [...]}`` changes them."""
        if request.method == "POST":
            try:
                body = await request.json()
            except ValueError:
                return json_response({"message": "give a JSON object with 'deny' and/or 'allow' lists"}, 422)
            deny, allow = (body.get(k, []) if isinstance(body, dict) else None for k in ("deny", "allow"))
            if not isinstance(deny, list) or not isinstance(allow, list):
                return json_response({"message": "'deny' and 'allow' must be lists of RICs"}, 422)
            self.unpermitted.update(str(r) for r in deny)
            self.unpermitted.difference_update(str(r) for r in allow)
        return json_response({"unpermitted": sorted(self.unpermitted)})

    async def admin_sessions(self, request: Request) -> Response:
        """``GET``: the open v1 sessions per user; ``DELETE``: end them all (what a crashed script leaves behind)."""
        if request.method == "DELETE":
            for session in list(self.tokens.sessions):
                self.tokens.end(session)
        users: dict[str, int] = {}
        for session in self.tokens.sessions:
            users[session.user] = users.get(session.user, 0) + 1
        return json_response({"sessions": users})

    # -- search ----------------------------------------------------------------------------------

    async def search(self, request: Request) -> Response:
        _, refused = self.authorize(request)
        if refused is not None:
            return refused
        try:
            body = await request.json()
        except ValueError:
            return json_response(gateway_error(400, "Malformed JSON body"), 400)
        if not isinstance(body, dict):
            return json_response(
                gateway_error(400, "Validation error", errors=[{"key": "body", "reason": "an object"}]), 400
            )
        view = str(body.get("View") or "SearchAll")
        if view not in _SEARCH_VIEWS:
            return json_response(
                gateway_error(
                    400, "Validation error", errors=[{"key": "View", "reason": f"unknown view {view!r}"}]
                ),
                400,
            )
        try:
            top = int(body.get("Top", 10))
            skip = int(body.get("Skip", 0))
        except (TypeError, ValueError):
            return json_response(
                gateway_error(400, "Validation error", errors=[{"key": "Top", "reason": "an integer"}]), 400
            )
        select = [
            p.strip() for p in str(body.get("Select") or ",".join(_SEARCH_DEFAULT)).split(",") if p.strip()
        ]
        words = str(body.get("Query") or "").lower().split()
        hits = []
        for equity in EQUITIES.values():
            text = f"{equity.ric} {equity.name} {equity.exchange}".lower()
            if all(word in text for word in words):
                hits.append(_search_document(equity, self.seed))
        # an exact RIC match ranks first
        hits.sort(key=lambda d: (d["RIC"].lower() not in words, d["RIC"]))
        page = [
            {k: doc[k] for k in select if k in doc} for doc in hits[skip : skip + max(0, min(top, 10000))]
        ]
        return json_response({"Total": len(hits), "Hits": page, "Warnings": []})


def _search_document(equity: Equity, seed: int) -> dict[str, Any]:
    permid = str(4295900000 + sum(map(ord, equity.ric)) * 7 + seed)
    return {
        "RIC": equity.ric,
        "DocumentTitle": f"{equity.name}, Ordinary Share, {equity.exchange}",
        "CommonName": equity.name,
        "ExchangeName": equity.exchange,
        "PermID": permid,
        "BusinessEntity": "QUOTExEQUITY",
        "PI": permid,
    }


def _period_end(day: date, timeframe: str) -> date:
    if timeframe == "1week":
        return day + timedelta(days=4 - day.weekday())
    if timeframe == "1month":
        following = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
        last = following - timedelta(days=1)
        while last.weekday() >= 5:
            last -= timedelta(days=1)
        return last
    return day


def create_app(
    seed: int = 0,
    faults: Any = None,
    *,
    clock: MockClock | None = None,
    start: datetime | None = None,
    realtime: bool | None = None,
    users: dict[str, str] | None = None,
    app_keys: set[str] | None = None,
    clients: dict[str, str] | None = None,
    access_lifetime: int = 300,
    login_limit: int = 50,
    session_quota: int = 1,
    unpermitted: set[str] | None = None,
    requests_per_second: int = 5,
    interday_row_cap: int = 3000,
    intraday_datapoint_cap: int = 50000,
) -> MockApp:
    """The LSEG Data Platform mock.

    Args:
        seed: the data and fault seed.
        faults: fault rules (see the mock kit).
        clock: the mock's clock; by default one starting at ``start`` (or now), running with wall time
            unless ``realtime`` says otherwise.
        users: v1 username to password (default ``{"portico-user": "portico-password"}``).
        app_keys: accepted app keys (default ``{"portico-app-key"}``).
        clients: v2 client id to secret (default ``{"portico-service": "portico-secret"}``).
        access_lifetime: ``expires_in`` of access tokens, seconds.
        login_limit: token requests per user a minute before 429.
        session_quota: concurrent v1 sessions per user.
        unpermitted: RICs answered with ``UserNotPermission``.
        requests_per_second: data calls per user a second before 429.
        interday_row_cap: rows per interday answer.
        intraday_datapoint_cap: rows times fields per intraday answer.

    Returns:
        The app; ``app.state.mock`` is the :class:`RefinitivMock`.
    """
    if clock is None:
        if realtime is None:
            realtime = start is None
        clock = MockClock(start or datetime.now(UTC).replace(microsecond=0), realtime=realtime)
    tokens = TokenService(
        clock=clock,
        users=dict(users if users is not None else {"portico-user": "portico-password"}),
        app_keys=set(app_keys if app_keys is not None else {"portico-app-key"}),
        clients=dict(clients if clients is not None else {"portico-service": "portico-secret"}),
        access_lifetime=access_lifetime,
        login_limit=login_limit,
        session_quota=session_quota,
    )
    mock = RefinitivMock(
        seed=seed,
        clock=clock,
        tokens=tokens,
        prices=PriceBook(seed),
        unpermitted=set(unpermitted or ()),
        requests_per_second=requests_per_second,
        interday_row_cap=interday_row_cap,
        intraday_datapoint_cap=intraday_datapoint_cap,
    )
    stream = PricingStream(mock)
    routes = [
        Route("/streaming/pricing/v1/", stream.discovery, methods=["GET"]),
        Route("/streaming/pricing/v1", stream.discovery, methods=["GET"]),
        WebSocketRoute("/WebSocket", stream.websocket),
        Route("/auth/oauth2/v1/token", mock.token_v1, methods=["POST"]),
        Route("/auth/oauth2/v2/token", mock.token_v2, methods=["POST"]),
        Route("/auth/oauth2/v1/revoke", mock.revoke, methods=["POST"]),
        # events share the path shape of the summaries views: routed first
        Route(HP_PREFIX + "/events/{ric:str}", mock.events, methods=["GET"]),
        Route(HP_PREFIX + "/{view:str}/{ric:str}", mock.summaries, methods=["GET"]),
        Route("/data/pricing/snapshots/v1/", mock.snapshots, methods=["GET"]),
        Route("/data/pricing/snapshots/v1", mock.snapshots, methods=["GET"]),
        Route("/data/datagrid/beta1/", mock.datagrid, methods=["POST"]),
        Route("/data/datagrid/beta1", mock.datagrid, methods=["POST"]),
        Route("/discovery/search/v1/", mock.search, methods=["POST"]),
        Route("/discovery/search/v1", mock.search, methods=["POST"]),
        Route("/__mock__/refinitiv/permissions", mock.admin_permissions, methods=["GET", "POST"]),
        Route("/__mock__/refinitiv/sessions", mock.admin_sessions, methods=["GET", "DELETE"]),
    ]
    app = MockApp(routes, name="refinitiv", seed=seed, faults=faults, clock=clock, url_keys={"base": ""})
    app.state.mock = mock
    return app
