"""The FactSet mock: the Prices API under ``/content``, the batch flow, the OpenID well-known document and a
token endpoint that verifies private_key_jwt client assertions with the registered public JWK.

Prices are seeded per id from ``seed`` (business days, deterministic); tickers resolve to FactSet
permanent ids (``XXXXXX-R``) through the mock's symbology table. Errors use FactSet's envelope
``{status, timestamp, path, message, subErrors}``.
"""

from __future__ import annotations

import base64
import hashlib
import random
import secrets
import time
import uuid
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


def error_body(status: int, reason: str, path: str, message: str, now: datetime, rejected: list[str] | None = None) -> dict[str, Any]:
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

    def series(self, fsym: str, start: date, end: date) -> list[tuple[date, float, float, float, float, float]]:
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


def _date(value: str | None, default: date) -> date:
    return date.fromisoformat(value) if value else default


def create_app(
    seed: int = 0,
    faults: Any = None,
    *,
    clock: MockClock | None = None,
    users: dict[str, str] | None = None,
    clients: dict[str, dict[str, Any]] | None = None,
    batch_seconds: float = 2.0,
) -> MockApp:
    """The FactSet mock app; ``users`` maps USERNAME-SERIAL to API key, ``clients`` clientId to public JWK."""
    clock = clock or MockClock()
    mock = FactSetMock(
        seed=seed,
        clock=clock,
        users=dict(users if users is not None else {"PORTICO-123456": "mock-api-key"}),
        clients=dict(clients or {}),
        batch_seconds=batch_seconds,
    )

    def error(request: Request, status: int, reason: str, message: str, rejected: list[str] | None = None) -> Response:
        return json_response(error_body(status, reason, request.url.path, message, clock.now(), rejected), status)

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
        currency = args.get("currency")
        out: list[dict[str, Any]] = []
        unknown: list[str] = []
        for raw in ids_of(args.get("ids")):
            found = mock.resolve(raw)
            if found is None:
                unknown.append(raw)
                continue
            request_id, fsym, name, local = found
            cur = str(currency or local).upper()
            series = mock.series(fsym, start - timedelta(days=7), end)
            if kind == "references":
                out.append({"fsymId": fsym, "name": name, "currency": local, "requestId": request_id,
                            "ticker": next((k for k, v in mock.securities.items() if v[0] == fsym), None)})
                continue
            prev = None
            for d, o, h, lo, c, v in series:
                if d >= start:
                    base = {"fsymId": fsym, "date": d.isoformat(), "adjDate": d.isoformat(), "currency": cur,
                            "requestId": request_id}
                    if kind == "prices":
                        out.append({**base, "price": c, "priceOpen": o, "priceHigh": h, "priceLow": lo, "volume": v})
                    elif kind == "returns" and prev is not None:
                        out.append({**base, "totalReturn": round((c / prev - 1) * 100, 6)})
                    elif kind == "market-value":
                        out.append({"fsymId": fsym, "date": d.isoformat(), "currency": cur,
                                    "marketValue": round(c * 1_000_000, 2), "requestId": request_id})
                    elif kind == "shares":
                        out.append({"fsymId": fsym, "date": d.isoformat(), "sharesOutstanding": 1_000_000.0,
                                    "requestId": request_id})
                prev = c
            if kind == "dividends":
                out.append({"fsymId": fsym, "date": date(2024, 5, 10).isoformat(), "currency": cur,
                            "divsPaid": 0.25, "divType": "Regular Cash", "requestId": request_id})
            elif kind == "splits":
                out.append({"fsymId": fsym, "date": date(2024, 6, 10).isoformat(), "splitFactor": 0.5,
                            "splitComment": "2-for-1 split", "requestId": request_id})
        return out, unknown

    def content_route(kind: str) -> Any:
        async def handler(request: Request) -> Response:
            if not authorized(request):
                return error(request, 401, "Unauthorized", "User Authentication Failed.")
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
                batch = _Batch(str(uuid.UUID(int=random.Random(len(mock.batches) + seed).getrandbits(128))),
                               now, now + timedelta(seconds=mock.batch_seconds), data)
                mock.batches[batch.id] = batch
                return json_response({"data": status_of(batch)}, 202,
                                     headers={"Location": f"{_PREFIX}/batch/v1/status?id={batch.id}"})
            return json_response({"data": data})

        return handler

    def status_of(batch: _Batch) -> dict[str, Any]:
        done = clock.now() >= batch.ready_at
        return {"id": batch.id, "startTime": batch.start.isoformat().replace("+00:00", "Z"),
                "endTime": batch.ready_at.isoformat().replace("+00:00", "Z") if done else None,
                "status": "DONE" if done else "EXECUTING"}

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
        return json_response({"issuer": base, "token_endpoint": f"{base}{_TOKEN_PATH}",
                              "token_endpoint_auth_methods_supported": ["private_key_jwt"],
                              "grant_types_supported": ["client_credentials"]})

    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        mock.token_requests += 1
        if form.get("grant_type") != "client_credentials" or form.get("client_assertion_type") != _ASSERTION_TYPE:
            return json_response({"error": "invalid_request"}, 400)
        assertion = str(form.get("client_assertion", ""))
        try:
            # joserfc picks the registered public key by the assertion header's kid
            keys = KeySet.import_key_set({"keys": list(mock.clients.values())})
            decoded = jwt.decode(assertion, keys, algorithms=["RS256"])
        except (JoseError, ValueError):
            return json_response({"error": "invalid_client", "error_description": "bad signature"}, 401)
        claims = decoded.claims
        # the client signs with its own (wall) clock, so the assertion's window is checked against wall time;
        # the token's lifetime runs on the mock's clock
        now = time.time()
        aud = claims.get("aud")
        auds = aud if isinstance(aud, list) else [aud]
        if (claims.get("iss") != claims.get("sub") or claims.get("sub") not in mock.clients
                or mock.issuer not in auds or not (claims.get("nbf", 0) - 60 <= now < claims.get("exp", 0) + 60)):
            return json_response({"error": "invalid_client", "error_description": "assertion rejected"}, 401)
        access = secrets.token_urlsafe(24)
        mock.tokens[access] = clock.now() + timedelta(seconds=mock.token_lifetime)
        return json_response({"access_token": access, "token_type": "Bearer", "expires_in": mock.token_lifetime})

    kinds = ("prices", "returns", "dividends", "splits", "shares", "market-value", "references")
    routes = [Route(f"{_PREFIX}/factset-prices/v1/{k}", content_route(k), methods=["GET", "POST"]) for k in kinds]
    routes += [
        Route(f"{_PREFIX}/batch/v1/status", batch_handler, methods=["GET", "POST"]),
        Route(f"{_PREFIX}/batch/v1/result", batch_handler, methods=["GET", "POST"]),
        Route("/.well-known/openid-configuration", well_known),
        Route(_TOKEN_PATH, token, methods=["POST"]),
    ]
    app = MockApp(routes, name="factset", seed=seed, faults=faults, clock=clock, url_keys={"base": _PREFIX})
    app.state.mock = mock
    return app

