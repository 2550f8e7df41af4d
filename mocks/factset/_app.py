"""The FactSet mock: the Prices API under ``/content``, the batch flow, the OpenID well-known document and a
token endpoint that verifies private_key_jwt client assertions with the registered public JWK.

Prices are seeded per id from ``seed`` (business days, deterministic); tickers resolve to FactSet
permanent ids (``XXXXXX-R``) through the mock's symbology table. Errors use FactSet's envelope
``{status, timestamp, path, message, subErrors}``.

OAuth clients are registered with ``create_app(clients={clientId: public JWK})`` or, on a served mock
(``portico mock factset``), by ``POST /__mock__/factset/clients`` with ``{"clientId", "jwk"}``; only the
public members of the JWK are kept.
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from portico.mocks._kit import MockApp, MockClock, json_response

__all__ = ["DEFAULT_SECURITIES", "FactSetMock", "create_app", "error_body"]

DEFAULT_SECURITIES: dict[str, tuple[str, str, str]] = {
    # ticker-region: (fsymId, name, currency)
    "AAPL-US": ("MH33D6-R", "Apple Inc.", "USD"),
    "MSFT-US": ("P8R3C2-R", "Microsoft Corporation", "USD"),
    "FDS-US": ("TNBWK4-R", "FactSet Research Systems Inc.", "USD"),
    "VOD-GB": ("R7DHYB-R", "Vodafone Group Plc", "GBP"),
}
_PREFIX = "/content"
_TOKEN_PATH = "/as/token.oauth2"
_ASSERTION_TYPE = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def error_body(
    status: int, reason: str, path: str, message: str, now: datetime, rejected: list[str] | None = None
) -> dict[str, Any]:
    """FactSet's error envelope."""
    body: dict[str, Any] = {
        "status": reason,
        "timestamp": now.strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
        "path": path,
        "message": message,
    }
    if rejected is not None:
        body["subErrors"] = {"object": "ids", "field": "ids", "message": message, "rejectedValue": rejected}
    return body


@dataclass
class _Batch:
    id: str
    start: datetime
    ready_at: datetime
    data: list[dict[str, Any]]


@dataclass
class FactSetMock:
    """The mock's state: accounts, OAuth clients, tokens, batches."""

    seed: int
    clock: MockClock
    users: dict[str, str] = field(default_factory=dict)  # USERNAME-SERIAL -> API key
    clients: dict[str, dict[str, Any]] = field(default_factory=dict)  # clientId -> public JWK
    tokens: dict[str, datetime] = field(default_factory=dict)
    batches: dict[str, _Batch] = field(default_factory=dict)
    securities: dict[str, tuple[str, str, str]] = field(default_factory=lambda: dict(DEFAULT_SECURITIES))
    batch_seconds: float = 2.0
    token_lifetime: int = 3600
    issuer: str = "https://auth.factset.mock"
    token_requests: int = 0
    seen_jti: set[str] = field(default_factory=set)
    assertions: list[dict[str, Any]] = field(default_factory=list)
    """Header and claims of every accepted client assertion (tests read what the client signed)."""
    requests_per_second: int | None = None
    """When set, more content calls than this in one second of the mock's clock are answered 429."""
    _window: tuple[int, int] = (0, 0)

    def throttled(self) -> bool:
        """Count one content call against the per-second limit; True when it is over the limit."""
        if self.requests_per_second is None:
            return False
        second = int(self.clock.now().timestamp())
        start, count = self._window
        count = count + 1 if start == second else 1
        self._window = (second, count)
        return count > self.requests_per_second

    def resolve(self, raw: str) -> tuple[str, str, str, str] | None:
        """(requestId, fsymId, name, currency) of a ticker or FactSet id, None when unknown."""
        ident = raw.strip().upper()
        by_fsym = {v[0]: v for v in self.securities.values()}
        if ident in by_fsym:
            return (raw, *by_fsym[ident])
        key = ident if "-" in ident else f"{ident}-US"
        if key in self.securities:
            return (raw, *self.securities[key])
        return None

    def _rng(self, fsym: str) -> random.Random:
        digest = hashlib.sha256(f"{self.seed}:{fsym}".encode()).digest()
        return random.Random(int.from_bytes(digest[:8], "big"))

    def series(
        self, fsym: str, start: date, end: date
    ) -> list[tuple[date, float, float, float, float, float]]:
        """(date, open, high, low, close, volume) per business day from 2020-01-01, cut to [start, end]."""
        rng = self._rng(fsym)
        day = date(2020, 1, 1)
        price = 50 + rng.random() * 150
        out = []
        while day <= end:
            if day.weekday() < 5:
                change = rng.gauss(0, 0.015)
                open_ = price
                price = round(max(1.0, price * (1 + change)), 4)
                high = round(max(open_, price) * (1 + rng.random() * 0.01), 4)
                low = round(min(open_, price) * (1 - rng.random() * 0.01), 4)
                volume = float(rng.randint(100_000, 5_000_000))
                if day >= start:
                    out.append((day, round(open_, 4), high, low, price, volume))
            day += timedelta(days=1)
        return out


_USD_PER_UNIT: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.08,
    "GBP": 1.25,
    "JPY": 0.0068,
    "CHF": 1.12,
    "CAD": 0.74,
}
"""Fixed conversion rates of the mock: US dollars per unit of each currency it can convert to."""
_SHARES: dict[str, float] = {
    "MH33D6-R": 15_204_137_000.0,
    "P8R3C2-R": 7_433_038_000.0,
    "TNBWK4-R": 38_050_000.0,
    "R7DHYB-R": 27_033_000_000.0,
}
"""Security-level shares outstanding, in base units as the Prices API reports them."""
_SPLITS: dict[str, tuple[date, float, str]] = {
    "MH33D6-R": (date(2020, 8, 31), 0.25, "4-for-1 Split"),
    "TNBWK4-R": (date(2024, 6, 10), 0.5, "2-for-1 Split"),
}
_EXCHANGES: dict[str, tuple[str, str]] = {"US": ("NASDAQ", "US"), "GB": ("London Stock Exchange", "GB")}
_PERIODS = ("D", "W", "M", "AM", "CQ", "FQ", "AY", "CY", "FY")


def _date(value: str | None, default: date) -> date:
    return date.fromisoformat(value) if value else default


def _period_key(day: date, frequency: str) -> tuple[int, ...]:
    if frequency == "D":
        return (day.toordinal(),)
    if frequency == "W":
        iso = day.isocalendar()
        return (iso.year, iso.week)
    if frequency in ("M", "AM"):
        return (day.year, day.month)
    if frequency in ("CQ", "FQ"):
        return (day.year, (day.month - 1) // 3)
    return (day.year,)


def _by_period(
    daily: list[tuple[date, float, float, float, float, float]], frequency: str
) -> list[list[Any]]:
    """Daily rows grouped by the calendar period ``frequency`` names (fiscal periods taken as calendar ones)."""
    groups: dict[tuple[int, ...], list[Any]] = {}
    for row in daily:
        groups.setdefault(_period_key(row[0], frequency), []).append(row)
    return list(groups.values())


def create_app(
    seed: int = 0,
    faults: Any = None,
    *,
    clock: MockClock | None = None,
    users: dict[str, str] | None = None,
    clients: dict[str, dict[str, Any]] | None = None,
    batch_seconds: float = 2.0,
    requests_per_second: int | None = None,
    assertion_time: Callable[[], float] = time.time,
) -> MockApp:
    """The FactSet mock app; ``users`` maps USERNAME-SERIAL to API key, ``clients`` clientId to public JWK.

    ``batch_seconds`` is how long a batch request runs on the mock's clock; ``requests_per_second``
    (off by default) answers calls beyond it within one second with 429, as the API's 25/s limit does.
    ``assertion_time`` is the clock a client assertion's ``nbf``/``exp`` are checked against: wall time
    (the vendor SDK signs with it), or a test's fake clock.
    """
    clock = clock or MockClock()
    mock = FactSetMock(
        seed=seed,
        clock=clock,
        users=dict(users if users is not None else {"PORTICO-123456": "mock-api-key"}),
        clients=dict(clients or {}),
        batch_seconds=batch_seconds,
        requests_per_second=requests_per_second,
    )

    def error(
        request: Request, status: int, reason: str, message: str, rejected: list[str] | None = None
    ) -> Response:
        return json_response(
            error_body(status, reason, request.url.path, message, clock.now(), rejected), status
        )

    def authorized(request: Request) -> bool:
        header = request.headers.get("authorization", "")
        if header.startswith("Basic "):
            try:
                user, _, key = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return mock.users.get(user) == key and bool(key)
        if header.startswith("Bearer "):
            expiry = mock.tokens.get(header[7:])
            return expiry is not None and expiry > clock.now()
        return False

    async def params(request: Request) -> dict[str, Any]:
        if request.method == "POST":
            body = await request.json()
            return dict(body.get("data") or body) if isinstance(body, dict) else {}
        return dict(request.query_params)

    def ids_of(value: Any) -> list[str]:
        if isinstance(value, list):
            return [str(v) for v in value]
        return [v for v in str(value or "").split(",") if v.strip()]

    def rows(kind: str, args: dict[str, Any]) -> tuple[list[dict[str, Any]], list[str]]:
        today = clock.now().date()
        start = _date(args.get("startDate"), today - timedelta(days=7))
        end = _date(args.get("endDate"), today)
        if start > end:
            raise ValueError(f"startDate {start} is after endDate {end}")
        frequency = str(args.get("frequency") or "D").upper()
        if frequency not in _PERIODS:
            raise ValueError(f"frequency {frequency!r} is not one of {sorted(_PERIODS)}")
        requested = args.get("currency")
        if (
            requested is not None
            and str(requested).upper() not in _USD_PER_UNIT
            and str(requested).upper() != "LOCAL"
        ):
            raise ValueError(f"currency {requested!r} is not supported")
        out: list[dict[str, Any]] = []
        unknown: list[str] = []
        for raw in ids_of(args.get("ids")):
            found = mock.resolve(raw)
            if found is None:
                unknown.append(raw)
                continue
            request_id, fsym, name, local = found
            cur = local if requested is None or str(requested).upper() == "LOCAL" else str(requested).upper()
            rate = _USD_PER_UNIT[local] / _USD_PER_UNIT[cur]
            if kind == "references":
                out.append(reference_row(request_id, fsym, name, local))
                continue
            if kind == "dividends":
                out.extend(dividend_rows(request_id, fsym, cur, rate, start, end))
                continue
            if kind == "splits":
                # the splits endpoint takes ids only and answers each security's whole split history
                out.extend(split_rows(request_id, fsym))
                continue
            daily = mock.series(fsym, start - timedelta(days=400), end)
            periods = _by_period(daily, frequency)
            prev_close: float | None = None
            for bucket in periods:
                inside = [d for d in bucket if d[0] >= start]
                last = bucket[-1]
                close = last[4]
                if inside:
                    first = inside[0]
                    stamp = last[0].isoformat()
                    base = {
                        "fsymId": fsym,
                        "date": stamp,
                        "adjDate": stamp,
                        "currency": cur,
                        "requestId": request_id,
                    }
                    if kind == "prices":
                        # period rows: the first day's open, the period's extremes and summed volume, the last close
                        out.append(
                            {
                                **base,
                                "price": round(close * rate, 4),
                                "priceOpen": round(first[1] * rate, 4),
                                "priceHigh": round(max(d[2] for d in inside) * rate, 4),
                                "priceLow": round(min(d[3] for d in inside) * rate, 4),
                                "volume": round(sum(d[5] for d in inside) / 1000, 3),
                            }
                        )
                    elif kind == "returns":
                        if prev_close is not None:
                            out.append({**base, "totalReturn": round((close / prev_close - 1) * 100, 6)})
                    elif kind == "market-value":
                        shares = _SHARES.get(fsym, 1_000_000.0)
                        value = round(close * rate * shares, 2)
                        out.append(
                            {
                                "fsymId": fsym,
                                "date": stamp,
                                "currency": cur,
                                "securityMarketValue": value,
                                "entityMarketValue": value,
                                "entityMarketValueExNonTraded": value,
                                "requestId": request_id,
                            }
                        )
                    elif kind == "shares":
                        shares = _SHARES.get(fsym, 1_000_000.0)
                        out.append(
                            {
                                "fsymId": fsym,
                                "date": stamp,
                                "adjDate": stamp,
                                "sharesSecurity": shares,
                                "sharesCompany": shares,
                                "sharesCompanyNontraded": 0.0,
                                "requestId": request_id,
                            }
                        )
                prev_close = close
        return out, unknown

    def reference_row(request_id: str, fsym: str, name: str, currency: str) -> dict[str, Any]:
        ticker = next((k for k, v in mock.securities.items() if v[0] == fsym), "")
        region = ticker.rpartition("-")[2]
        exchange, country = _EXCHANGES.get(region, ("", region))
        return {
            "fsymId": fsym,
            "name": name,
            "secType": "Shares",
            "secTypeCode": "SHARE",
            "secTypeCodeDet": "SHARE",
            "currency": currency,
            "country": country,
            "primaryExchange": exchange,
            "exchangeCountry": country,
            "localIndex": None,
            "nextTradingHolidayDate": None,
            "firstDate": "2020-01-01",
            "lastDate": clock.now().date().isoformat(),
            "requestId": request_id,
        }

    def dividend_rows(
        request_id: str, fsym: str, cur: str, rate: float, start: date, end: date
    ) -> list[dict[str, Any]]:
        # a regular quarterly cash dividend on the 10th of Feb, May, Aug and Nov
        out = []
        for year in range(start.year, end.year + 1):
            for month in (2, 5, 8, 11):
                ex = date(year, month, 10)
                if start <= ex <= end:
                    out.append(
                        {
                            "fsymId": fsym,
                            "divsExDate": ex.isoformat(),
                            "adjDate": ex.isoformat(),
                            "currency": cur,
                            "divsPaid": round(0.25 * rate, 6),
                            "divsRecDate": (ex + timedelta(days=1)).isoformat(),
                            "divsPayDate": (ex + timedelta(days=14)).isoformat(),
                            "divsTypeC": 0,
                            "divsTypeD": "Regular Cash",
                            "divsTaxC": "0",
                            "divsTaxD": "Normal Taxable",
                            "divsNGFlag": "0",
                            "divsNGEquiv": None,
                            "requestId": request_id,
                        }
                    )
        return out

    def split_rows(request_id: str, fsym: str) -> list[dict[str, Any]]:
        ex = _SPLITS.get(fsym)
        if ex is None:
            return []
        return [
            {
                "fsymId": fsym,
                "date": ex[0].isoformat(),
                "splitFactor": ex[1],
                "splitComment": ex[2],
                "requestId": request_id,
            }
        ]

    def content_route(kind: str) -> Any:
        async def handler(request: Request) -> Response:
            if not authorized(request):
                return error(request, 401, "Unauthorized", "User Authentication Failed.")
            if mock.throttled():
                response = error(
                    request, 429, "Too Many Requests", "Rate limit is set to 25 requests per second."
                )
                response.headers["Retry-After"] = "1"
                return response
            try:
                args = await params(request)
                data, unknown = rows(kind, args)
            except ValueError as exc:
                return error(request, 400, "Bad Request", f"Invalid parameter: {exc}")
            if not ids_of(args.get("ids")):
                return error(request, 400, "Bad Request", "The 'ids' parameter is required.")
            if unknown and not data:
                return error(request, 400, "Bad Request", "Invalid identifier(s).", unknown)
            if str(args.get("batch", "N")).upper() == "Y":
                now = clock.now()
                batch = _Batch(
                    str(uuid.UUID(int=random.Random(len(mock.batches) + seed).getrandbits(128))),
                    now,
                    now + timedelta(seconds=mock.batch_seconds),
                    data,
                )
                mock.batches[batch.id] = batch
                return json_response(
                    {"data": status_of(batch)},
                    202,
                    headers={"Location": f"{_PREFIX}/batch/v1/status?id={batch.id}"},
                )
            return json_response({"data": data})

        return handler

    def status_of(batch: _Batch) -> dict[str, Any]:
        done = clock.now() >= batch.ready_at
        return {
            "id": batch.id,
            "startTime": batch.start.isoformat().replace("+00:00", "Z"),
            "endTime": batch.ready_at.isoformat().replace("+00:00", "Z") if done else None,
            "status": "DONE" if done else "EXECUTING",
        }

    async def batch_handler(request: Request) -> Response:
        if not authorized(request):
            return error(request, 401, "Unauthorized", "User Authentication Failed.")
        args = await params(request)
        batch = mock.batches.get(str(args.get("id", "")))
        if batch is None:
            return error(request, 404, "Not Found", "Batch request id not found.")
        done = clock.now() >= batch.ready_at
        if request.url.path.endswith("/status"):
            return json_response({"data": status_of(batch)}, 201 if done else 202)
        if not done:
            return json_response({"data": status_of(batch)}, 202)
        return json_response({"data": batch.data})

    async def well_known(request: Request) -> Response:
        base = f"{request.url.scheme}://{request.url.netloc}"
        mock.issuer = base
        return json_response(
            {
                "issuer": base,
                "token_endpoint": f"{base}{_TOKEN_PATH}",
                "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                "grant_types_supported": ["client_credentials"],
            }
        )

    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        mock.token_requests += 1
        if (
            form.get("grant_type") != "client_credentials"
            or form.get("client_assertion_type") != _ASSERTION_TYPE
        ):
            return json_response({"error": "invalid_request"}, 400)
        assertion = str(form.get("client_assertion", ""))
        try:
            # joserfc picks the registered public key by the assertion header's kid
            keys = KeySet.import_key_set({"keys": list(mock.clients.values())})
            decoded = jwt.decode(assertion, keys, algorithms=["RS256"])
        except (JoseError, ValueError):
            return json_response({"error": "invalid_client", "error_description": "bad signature"}, 401)
        claims = decoded.claims
        # the client signs with its own clock (wall time for the vendor SDK), so the assertion's window is
        # checked against that; the token's lifetime runs on the mock's clock
        now = assertion_time()
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if (
            claims.get("iss") != claims.get("sub")
            or claims.get("sub") not in mock.clients
            or mock.issuer not in auds
            or not (claims.get("nbf", 0) - 60 <= now < claims.get("exp", 0) + 60)
        ):
            return json_response({"error": "invalid_client", "error_description": "assertion rejected"}, 401)
        jti = str(claims.get("jti") or "")
        if not jti or jti in mock.seen_jti:
            return json_response({"error": "invalid_client", "error_description": "assertion replayed"}, 401)
        mock.seen_jti.add(jti)
        mock.assertions.append({"header": dict(decoded.header), "claims": dict(claims)})
        access = secrets.token_urlsafe(24)
        mock.tokens[access] = clock.now() + timedelta(seconds=mock.token_lifetime)
        return json_response(
            {"access_token": access, "token_type": "Bearer", "expires_in": mock.token_lifetime}
        )

    async def register_client(request: Request) -> Response:
        # lets `portico mock factset` serve OAuth: register a client's public JWK as FactSet's portal does
        if request.method == "GET":
            return json_response({"clients": sorted(mock.clients)})
        try:
            body = await request.json()
        except ValueError:
            return json_response({"error": "body must be JSON {clientId, jwk}"}, 400)
        client_id = body.get("clientId") if isinstance(body, dict) else None
        jwk = body.get("jwk") if isinstance(body, dict) else None
        if not isinstance(client_id, str) or not client_id or not isinstance(jwk, dict) or not jwk.get("kid"):
            return json_response({"error": "give clientId and a public RSA jwk with a kid"}, 400)
        public = {k: v for k, v in jwk.items() if k in ("kty", "kid", "alg", "use", "n", "e")}
        try:
            KeySet.import_key_set({"keys": [public]})
        except (JoseError, ValueError):
            return json_response({"error": "jwk is not a valid RSA public key"}, 400)
        mock.clients[client_id] = public
        return json_response({"clientId": client_id, "kid": public["kid"]}, 201)

    kinds = ("prices", "returns", "dividends", "splits", "shares", "market-value", "references")
    routes = [
        Route(f"{_PREFIX}/factset-prices/v1/{k}", content_route(k), methods=["GET", "POST"]) for k in kinds
    ]
    routes += [
        Route(f"{_PREFIX}/batch/v1/status", batch_handler, methods=["GET", "POST"]),
        Route(f"{_PREFIX}/batch/v1/result", batch_handler, methods=["GET", "POST"]),
        Route("/.well-known/openid-configuration", well_known),
        Route(_TOKEN_PATH, token, methods=["POST"]),
        Route("/__mock__/factset/clients", register_client, methods=["GET", "POST"]),
    ]
    app = MockApp(
        routes, name="factset", seed=seed, faults=faults, clock=clock, url_keys={"base": _PREFIX, "auth": ""}
    )
    app.state.mock = mock
    return app
