"""The Morningstar Data API mock: the ``/md-api/v1`` functions ``morningstar-data`` calls, its task flow,
signed result files and the JWKS that verifies the bearer tokens it issues.

What the package sends and reads was taken from its source (``morningstar_data`` 1.13.0,
``mdapi/_mdapi.py``, ``direct/investment.py``, ``direct/returns.py``, ``direct/holdings.py``,
``utils/_helpers.py``):

- ``POST {MD_API}/v1/<function>`` with the request dataclass as JSON answers a task
  ``{id, poll_url, status, next_poll_delay_milliseconds, task_timeout_seconds}``; the package GETs
  ``poll_url`` (``?task_start_time=``) until ``status`` is not ``pending``; ``success`` carries
  ``result.dataframe_file_url`` (a feather file, read with ``pd.read_feather``) or ``result.pages[].url``
  (gzipped JSON lines, read with ``pd.read_json(lines=True, compression="gzip")``), ``failure`` carries
  ``error_class`` and ``error_message``. Result files are fetched without the bearer token (pre-signed
  storage URLs), so the mock signs them with an HMAC and an expiry instead.
- An HTTP error answers ``{"error_class", "error_message"}``; the package raises the ``mdapi`` exception of
  that name (``BadRequestError``, ``ResourceNotFoundError``, ``AccessDeniedError``).
- ``GET {MD_API}/v1/search_security`` takes the InvestmentIdentifier fields as query parameters and
  answers ``{"investments": [...]}``; ``POST {MD_API}/v1/get_holding_dates`` answers ``{"holdings_dates"}``.
- The token is an RS256 JWT; the package finds its key in the JWKS at ``UIM_DECODE_KEY`` and reads the
  user id from the ``https://morningstar.com/mstar_id`` claim.

Assumed (the endpoint catalogue is not public): the column names of the result files beyond those the
package's documentation shows, the keys inside ``holdingDetails``, HTTP statuses of errors, and that the
service checks the token's signature and expiry on every call.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import io
import json
import random
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

import polars as pl
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet, RSAKey
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.clock import Clock, system_clock
from portico.mocks._kit import MockApp, MockClock, json_response
from portico.mocks.morningstar._universe import (
    STATIC_DATA_POINTS,
    TIME_SERIES_DATA_POINTS,
    MockInvestment,
    Universe,
)

__all__ = ["USER_ID_CLAIM", "MorningstarMock", "create_app", "error_body"]

USER_ID_CLAIM = "https://morningstar.com/mstar_id"
"""The claim the package reads the user id from."""

_PREFIX = "/md-api"
_JWKS_PATH = "/.well-known/jwks.json"
_FILES = f"{_PREFIX}/files"
_MAX_INVESTMENTS = 500  # the package's NUMBER_OF_INVESTMENTIDENTIFIERS_ALLOWED
_FORMATS = ("Wide", "Long", "LongWithoutName")


def error_body(error_class: str, message: str) -> dict[str, str]:
    """The API's error answer: the package raises the ``mdapi`` exception named by ``error_class``."""
    return {"error_class": error_class, "error_message": message}


class _Refused(Exception):
    """A request the API refuses: the status, the package's exception name and the message."""

    def __init__(self, status: int, error_class: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.error_class = error_class
        self.message = message


@dataclass
class _Task:
    id: str
    kind: str
    polls_left: int
    result: dict[str, Any] | None = None
    error: tuple[str, str] | None = None


@dataclass
class MorningstarMock:
    """The mock's state: the universe, the signing key, tasks and result files.

    ``wall`` is the time tokens are issued and checked with: the package checks ``exp`` with its own wall
    clock (PyJWT), so tokens live in real time while the data (portfolio dates, return periods) follows the
    mock's simulated ``clock``.
    """

    seed: int
    clock: MockClock
    wall: Clock
    universe: Universe
    key: RSAKey
    kid: str
    issuer: str = "https://login-prod.morningstar.mock/"
    pending_polls: int = 1
    poll_delay_ms: int = 20
    file_lifetime: int = 900
    page_size: int = 1000
    """Holdings lines per result page."""
    poll_base: str | None = None
    """Where poll URLs point (``https://datalab.morningstar.com``); None: the request's own origin."""
    tasks: dict[str, _Task] = field(default_factory=dict)
    files: dict[str, bytes] = field(default_factory=dict)
    users: set[str] = field(default_factory=set)
    revoked: set[str] = field(default_factory=set)
    _secret: bytes = b""
    _task_rng: random.Random = field(default_factory=random.Random)

    def issue_token(self, user_id: str = "6D3E2C1A-0B4F-4E5D-9C8B-7A6F5E4D3C2B", lifetime: int = 3600) -> str:
        """An RS256 token for ``user_id`` signed with the mock's key, valid ``lifetime`` seconds of wall time
        (negative: already expired)."""
        now = int(self.wall.now().timestamp())
        claims = {
            "iss": self.issuer,
            "sub": f"auth0|{user_id.lower()}",
            "aud": "https://uim-session-manager.morningstar.com",
            "iat": now,
            "exp": now + lifetime,
            USER_ID_CLAIM: user_id,
        }
        self.users.add(user_id.upper())
        return jwt.encode({"alg": "RS256", "typ": "JWT", "kid": self.kid}, claims, self.key)

    def jwks(self) -> dict[str, Any]:
        """The public key set (what ``UIM_DECODE_KEY`` points the package at)."""
        public = self.key.as_dict(private=False)
        return {"keys": [{**public, "kid": self.kid, "alg": "RS256", "use": "sig"}]}

    def verify(self, header: str) -> str:
        """The user id of a valid ``Bearer`` token; raises :class:`_Refused` (401) otherwise."""
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise _Refused(401, "AccessDeniedError", "Missing bearer token.")
        if token in self.revoked:
            raise _Refused(401, "AccessDeniedError", "The token has been revoked.")
        try:
            # verified with what the JWKS publishes, as a client of the JWKS would
            published = KeySet([RSAKey.import_key(key) for key in self.jwks()["keys"]])
            decoded = jwt.decode(token, published, algorithms=["RS256"])
        except (JoseError, ValueError):
            raise _Refused(401, "AccessDeniedError", "Invalid token signature.") from None
        claims = decoded.claims
        if int(claims.get("exp", 0)) <= self.wall.now().timestamp():
            raise _Refused(401, "AccessDeniedError", "The token has expired.")
        user = claims.get(USER_ID_CLAIM)
        if not isinstance(user, str) or not user:
            raise _Refused(401, "AccessDeniedError", "The token carries no Morningstar user id.")
        return user.upper()

    # -- signed result files ---------------------------------------------------------------------

    def _signature(self, name: str, expires: int) -> str:
        return hmac.new(self._secret, f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()

    def store_file(self, origin: str, name: str, content: bytes) -> tuple[str, str]:
        """Keep a result file; its pre-signed URL and expiry time (ISO, as ``pages[].expiry_time``)."""
        self.files[name] = content
        expires_at = self.clock.now() + timedelta(seconds=self.file_lifetime)
        expires = int(expires_at.timestamp())
        url = f"{origin}{_FILES}/{name}?X-Amz-Expires={expires}&X-Amz-Signature={self._signature(name, expires)}"
        return url, expires_at.replace(tzinfo=None).isoformat()

    def read_file(self, name: str, expires: str, signature: str) -> bytes:
        """A stored file when the URL's signature holds and has not expired; raises :class:`_Refused`."""
        try:
            when = int(expires)
        except ValueError:
            raise _Refused(403, "AccessDenied", "Request has expired or is not signed.") from None
        if not hmac.compare_digest(self._signature(name, when), signature):
            raise _Refused(403, "SignatureDoesNotMatch", "The request signature does not match.")
        if self.clock.now().timestamp() > when:
            raise _Refused(403, "AccessDenied", "Request has expired.")
        content = self.files.get(name)
        if content is None:
            raise _Refused(404, "NoSuchKey", "The specified key does not exist.")
        return content

    def new_task_id(self) -> str:
        """A task id (seeded, so a run's ids repeat)."""
        return str(uuid.UUID(int=self._task_rng.getrandbits(128), version=4))


# -- request reading -----------------------------------------------------------------------------


def _investments(mock: MorningstarMock, raw: Any) -> tuple[list[MockInvestment], list[str]]:
    """Known investments and the requested ids not found."""
    if isinstance(raw, str):
        raise _Refused(
            400, "BadRequestError", "Investment lists and saved search criteria are not available on this mock; "
            "give SecIds or InvestmentIdentifier objects.",
        )  # fmt: skip
    if not isinstance(raw, list) or not raw:
        raise _Refused(400, "BadRequestError", "Please specify at least one investment.")
    if len(raw) > _MAX_INVESTMENTS:
        raise _Refused(400, "BadRequestError", f"At most {_MAX_INVESTMENTS} investments per request.")
    found: list[MockInvestment] = []
    missing: list[str] = []
    for item in raw:
        if not isinstance(item, str | dict):
            raise _Refused(400, "BadRequestError", f"Invalid investment {item!r}.")
        inv = mock.universe.find(item)
        if inv is None:
            missing.append(
                item if isinstance(item, str) else ",".join(f"{k}={v}" for k, v in item.items() if v)
            )
        elif inv not in found:
            found.append(inv)
    return found, missing


def _date_arg(value: Any, name: str) -> date | None:
    if value in (None, ""):
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise _Refused(
            400, "BadRequestError", f"Invalid {name} {value!r}; the format is YYYY-MM-DD."
        ) from None


def _data_points(raw: Any) -> list[dict[str, Any]]:
    if raw is None:
        raise _Refused(400, "BadRequestError", "Please specify data points.")
    if isinstance(raw, str):
        raise _Refused(
            400, "BadRequestError", "Saved data sets are not available on this mock; give data point ids."
        )
    if not isinstance(raw, list) or not raw:
        raise _Refused(400, "BadRequestError", "Please specify at least one data point.")
    points: list[dict[str, Any]] = []
    for item in raw:
        point = {"datapointId": item} if isinstance(item, str) else item
        ident = point.get("datapointId") if isinstance(point, dict) else None
        if ident not in STATIC_DATA_POINTS and ident not in TIME_SERIES_DATA_POINTS:
            raise _Refused(400, "BadRequestError", f"Invalid data point id {ident!r}.")
        points.append(point)
    return points


# -- result files --------------------------------------------------------------------------------


def _feather(columns: dict[str, list[Any]], schema: dict[str, Any]) -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame(columns, schema=schema).write_ipc(buffer, compression="uncompressed")
    return buffer.getvalue()


def investment_data_frame(
    mock: MorningstarMock,
    investments: list[MockInvestment],
    points: list[dict[str, Any]],
    time_series_format: str,
) -> bytes:
    """The feather file of a ``get_investment_data`` answer.

    ``Wide``: one row per investment, a column per static data point and per period of each time series
    (``Monthly Return 2021-03-31``). ``Long`` / ``LongWithoutName``: one row per investment and period with
    a ``Date`` column (static values repeated), as ``md.direct.get_returns`` shows it.
    """
    today = mock.clock.now().date()
    series: list[tuple[str, dict[str, dict[date, float]]]] = []
    statics: list[tuple[str, str]] = []
    for point in points:
        ident = point["datapointId"]
        if ident in STATIC_DATA_POINTS:
            statics.append(STATIC_DATA_POINTS[ident])
            continue
        name, frequency = TIME_SERIES_DATA_POINTS[ident]
        start = _date_arg(point.get("startDate"), "startDate") or date(today.year - 1, today.month, 1)
        end = min(_date_arg(point.get("endDate"), "endDate") or today, today)
        if start > end:
            raise _Refused(400, "BadRequestError", f"startDate {start} is after endDate {end}.")
        currency = point.get("currency")
        if currency is not None and str(currency).upper() not in {
            i.currency for i in mock.universe.investments.values()
        }:
            raise _Refused(400, "BadRequestError", f"Invalid currency {currency!r}.")
        values = {
            inv.sec_id: dict(mock.universe.returns(inv.sec_id, frequency, start, end)) for inv in investments
        }
        series.append((name, values))

    def static_type(attr: str) -> Any:
        return {"inception": pl.Date, "expense_ratio": pl.Float64}.get(attr, pl.Utf8)

    columns: dict[str, list[Any]] = {"Id": [i.sec_id for i in investments]}
    schema: dict[str, Any] = {"Id": pl.Utf8}
    if time_series_format == "Wide":
        columns["Name"] = [i.name for i in investments]
        schema["Name"] = pl.Utf8
        for label, attr in statics:
            columns[label] = [getattr(i, attr) for i in investments]
            schema[label] = static_type(attr)
        for name, values in series:
            dates = sorted({d for per in values.values() for d in per})
            for d in dates:
                column = f"{name} {d.isoformat()}"
                columns[column] = [values[i.sec_id].get(d) for i in investments]
                schema[column] = pl.Float64
        return _feather(columns, schema)
    rows: list[tuple[MockInvestment, date | None]] = []
    for inv in investments:
        dates = sorted({d for _, values in series for d in values[inv.sec_id]})
        rows.extend((inv, d) for d in dates) if dates else rows.append((inv, None))
    columns = {"Id": [inv.sec_id for inv, _ in rows]}
    if time_series_format == "Long":
        columns["Name"] = [inv.name for inv, _ in rows]
        schema["Name"] = pl.Utf8
    columns["Date"] = [d for _, d in rows]
    schema["Date"] = pl.Date
    for label, attr in statics:
        columns[label] = [getattr(inv, attr) for inv, _ in rows]
        schema[label] = static_type(attr)
    for name, values in series:
        columns[name] = [values[inv.sec_id].get(d) if d else None for inv, d in rows]
        schema[name] = pl.Float64
    return _feather(columns, schema)


def holdings_pages(
    mock: MorningstarMock, investments: list[MockInvestment], dates: list[date]
) -> list[bytes]:
    """Gzipped JSON-lines pages of holdings (``page_size`` lines each): one line per position,
    ``holdingDetails`` nested as the package flattens it (``{"code", "value"}`` pairs lose their code)."""
    lines = []
    for inv in investments:
        for on in dates:
            for detail in mock.universe.holdings(inv, on):
                lines.append(json.dumps({
                    "masterPortfolioId": inv.master_portfolio_id,
                    "secIds": [inv.sec_id],
                    "portfolioDate": on.isoformat(),
                    "holdingDetails": detail,
                }))  # fmt: skip
    size = max(1, mock.page_size)
    chunks = [lines[i : i + size] for i in range(0, len(lines), size)] or [[]]
    return [gzip.compress(("\n".join(chunk) + "\n").encode(), mtime=0) for chunk in chunks]


# -- the app -------------------------------------------------------------------------------------


def create_app(
    seed: int = 0,
    faults: Any = None,
    *,
    clock: MockClock | None = None,
    wall_clock: Clock | None = None,
    pending_polls: int = 1,
    poll_delay_ms: int = 20,
    key: RSAKey | None = None,
) -> MockApp:
    """The Morningstar mock app.

    Args:
        seed: seeds returns, holdings and task ids.
        faults: initial fault rules.
        clock: the simulated clock (portfolio dates, return periods, file expiry).
        wall_clock: the time tokens are issued and checked with (the package's PyJWT uses wall time).
        pending_polls: how many status polls answer ``pending`` before a task completes.
        poll_delay_ms: the ``next_poll_delay_milliseconds`` the tasks ask for.
        key: the RSA signing key (a new 2048-bit key by default).
    """
    clock = clock or MockClock()
    signing = key or RSAKey.generate_key(2048, private=True)
    mock = MorningstarMock(
        seed=seed,
        clock=clock,
        wall=wall_clock or system_clock,
        universe=Universe.default(seed),
        key=signing,
        kid=signing.thumbprint(),
        pending_polls=pending_polls,
        poll_delay_ms=poll_delay_ms,
        _secret=hashlib.sha256(f"morningstar-mock-files:{seed}:{signing.thumbprint()}".encode()).digest(),
        _task_rng=random.Random(seed),
    )

    def refused(exc: _Refused) -> Response:
        return json_response(error_body(exc.error_class, exc.message), exc.status)

    def origin(request: Request) -> str:
        return f"{request.url.scheme}://{request.url.netloc}"

    async def body_of(request: Request) -> dict[str, Any]:
        try:
            body = await request.json()
        except ValueError:
            raise _Refused(400, "BadRequestError", "The request body must be JSON.") from None
        if not isinstance(body, dict):
            raise _Refused(400, "BadRequestError", "The request body must be a JSON object.")
        return body

    def task_json(request: Request, task: _Task) -> dict[str, Any]:
        status = "pending" if task.polls_left > 0 else ("failure" if task.error else "success")
        out: dict[str, Any] = {
            "id": task.id,
            "poll_url": f"{mock.poll_base or origin(request)}{_PREFIX}/v1/task/{task.id}",
            "status": status,
            "next_poll_delay_milliseconds": mock.poll_delay_ms,
            "task_timeout_seconds": 900,
        }
        if status == "success":
            out["result"] = task.result
        elif status == "failure" and task.error:
            out["error_class"], out["error_message"] = task.error
        return out

    def new_task(kind: str) -> _Task:
        task = _Task(id=mock.new_task_id(), kind=kind, polls_left=mock.pending_polls)
        mock.tasks[task.id] = task
        return task

    def unmatched(
        task: _Task, found: list[MockInvestment], missing: list[str], behavior: str
    ) -> list[str] | None:
        """Warnings for investments not found, or None when the task fails on them."""
        if missing and (not found or behavior == "FAIL"):
            task.error = ("ResourceNotFoundError", f"Investments not found: {', '.join(missing)}")
            return None
        if missing and behavior != "IGNORE":
            return [f"Investments not found: {', '.join(missing)}"]
        return []

    def authorized(handler: Any) -> Any:
        async def wrapped(request: Request) -> Response:
            try:
                mock.verify(request.headers.get("authorization", ""))
                return await handler(request)
            except _Refused as exc:
                return refused(exc)

        return wrapped

    async def get_investment_data(request: Request) -> Response:
        body = await body_of(request)
        found, missing = _investments(mock, body.get("investments"))
        points = _data_points(body.get("datapoints"))
        fmt = str(body.get("time_series_format") or "Wide")
        if fmt not in _FORMATS:
            raise _Refused(
                400, "BadRequestError", f"Invalid time_series_format {fmt!r}; use one of {list(_FORMATS)}."
            )
        behavior = str(body.get("unmatched_investment_behavior") or "WARNING").upper()
        task = new_task("get_investment_data")
        warnings = unmatched(task, found, missing, behavior)
        if warnings is not None:
            content = investment_data_frame(mock, found, points, fmt)
            url, _ = mock.store_file(origin(request), f"{task.id}.feather", content)
            task.result = {
                "dataframe_file_url": url,
                "columns_with_list_values": [],
                "warning_messages": warnings or None,
            }
        return json_response(task_json(request, task))

    async def get_holdings_task(request: Request) -> Response:
        body = await body_of(request)
        found, missing = _investments(mock, body.get("investments"))
        today = mock.clock.now().date()
        available = mock.universe.portfolio_dates(today)
        dates: list[date]
        if body.get("dates"):
            dates = [d for d in (_date_arg(v, "date") for v in body["dates"]) if d is not None]
        elif body.get("start_date") or body.get("end_date"):
            start = _date_arg(body.get("start_date"), "start_date") or min(available)
            end = _date_arg(body.get("end_date"), "end_date") or today
            dates = [d for d in available if start <= d <= end]
        else:
            dates = available[:1]  # the latest portfolio date by default
        task = new_task("get_holdings_task")
        warnings = unmatched(task, found, missing, "WARNING")
        with_holdings = [i for i in found if i.holdings]
        if warnings is not None and not with_holdings:
            task.error = ("ResourceNotFoundError", "No holdings for the requested investments.")
        elif warnings is not None:
            wanted = [d for d in dates if d in available]
            if not wanted:
                task.error = (
                    "ResourceNotFoundError",
                    f"No holdings on {', '.join(d.isoformat() for d in dates)}.",
                )
            else:
                pages = []
                for number, content in enumerate(holdings_pages(mock, with_holdings, wanted), start=1):
                    url, expiry = mock.store_file(
                        origin(request), f"{task.id}-page-{number}.jsonl.gz", content
                    )
                    pages.append({"url": url, "id": number, "expiry_time": expiry})
                task.result = {
                    "dataframe_file_url": "",
                    "columns_with_list_values": [],
                    "warning_messages": warnings or None,
                    "pages": pages,
                }
        return json_response(task_json(request, task))

    async def get_holding_dates(request: Request) -> Response:
        body = await body_of(request)
        found, missing = _investments(mock, body.get("investments"))
        if missing and not found:
            raise _Refused(404, "ResourceNotFoundError", f"Investments not found: {', '.join(missing)}")
        today = mock.clock.now().date()
        dates = [
            {"secId": inv.sec_id, "date": d.isoformat()}
            for inv in found
            if inv.holdings
            for d in mock.universe.portfolio_dates(today)
        ]
        return json_response({"holdings_dates": dates})

    async def search_security(request: Request) -> Response:
        fields = ("sec_id", "ticker", "cusip", "isin", "base_currency", "exchange")
        wanted = {
            k: str(v).upper()
            for k, v in request.query_params.items()
            if k in fields and v not in ("", "None")
        }
        if not wanted:
            raise _Refused(400, "BadRequestError", "Give at least one of sec_id, ticker, cusip, isin.")
        try:
            count = int(request.query_params.get("count", "50"))
        except ValueError:
            raise _Refused(400, "BadRequestError", "count must be a positive integer.") from None
        if count < 1:
            raise _Refused(400, "BadRequestError", "count must be a positive integer.")
        matches = mock.universe.search(wanted)[:count]
        return json_response({"investments": [_listing(inv) for inv in matches]})

    async def task_status(request: Request) -> Response:
        task = mock.tasks.get(request.path_params["task_id"])
        if task is None:
            raise _Refused(404, "ResourceNotFoundError", "Task not found.")
        if task.polls_left > 0:
            task.polls_left -= 1
        return json_response(task_json(request, task))

    async def result_file(request: Request) -> Response:
        name = request.path_params["name"]
        try:
            content = mock.read_file(
                name,
                request.query_params.get("X-Amz-Expires", ""),
                request.query_params.get("X-Amz-Signature", ""),
            )
        except _Refused as exc:
            # storage answers XML, as S3 does; the package only reads the status
            xml = f"<Error><Code>{exc.error_class}</Code><Message>{exc.message}</Message></Error>"
            return Response(xml, exc.status, media_type="application/xml")
        return Response(content, 200, media_type="application/octet-stream")

    async def jwks(request: Request) -> Response:
        return json_response(mock.jwks())

    async def token(request: Request) -> Response:
        # the mock's stand-in for Analytics Lab's "Copy Authentication Token" (interactive use)
        try:
            lifetime = int(request.query_params.get("lifetime", "3600"))
        except ValueError:
            return json_response({"message": "lifetime must be whole seconds"}, 422)
        user = request.query_params.get("user") or "6D3E2C1A-0B4F-4E5D-9C8B-7A6F5E4D3C2B"
        return json_response({"token": mock.issue_token(user, lifetime), "user_id": user.upper()})

    routes = [
        Route(f"{_PREFIX}/v1/{name}", authorized(handler), methods=methods)
        for name, handler, methods in (
            ("get_investment_data", get_investment_data, ["POST"]),
            ("get_holdings_task", get_holdings_task, ["POST"]),
            ("get_lookthrough_holdings_task", get_holdings_task, ["POST"]),
            ("get_holding_dates", get_holding_dates, ["POST"]),
            ("search_security", search_security, ["GET"]),
        )
    ]
    routes += [
        Route(f"{_PREFIX}/v1/task/{{task_id}}", authorized(task_status), methods=["GET"]),
        Route(f"{_FILES}/{{name}}", result_file, methods=["GET"]),
        Route(_JWKS_PATH, jwks, methods=["GET"]),
        Route("/__mock__/morningstar/token", token, methods=["POST"]),
    ]
    app = MockApp(
        routes, name="morningstar", seed=seed, faults=faults, clock=clock,
        url_keys={"base": f"{_PREFIX}/", "jwks": _JWKS_PATH},
    )  # fmt: skip
    app.state.mock = mock
    return app


def _listing(inv: MockInvestment) -> dict[str, Any]:
    """An InvestmentIdentifier-shaped search hit, with the columns ``md.direct.lookup.investments`` selects."""
    return {
        "Name": inv.name,
        "SecId": inv.sec_id,
        "Ticker": inv.ticker,
        "ISIN": inv.isin,
        "CUSIP": inv.cusip,
        "Base Currency": inv.currency,
        "Exchange": inv.exchange_code,
        "Country": inv.country_code,
        "Security Type": inv.universe,
        "Fund Id": inv.fund_id,
        "Performance Id": inv.sec_id if inv.universe == "ST" else None,
    }
