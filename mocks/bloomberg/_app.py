"""The Bloomberg Data License REST mock: the OAuth 2 token endpoint, ``/eap`` catalogs, requests, content
responses, their download, and the server-sent notification stream.

What it follows (Bloomberg's published DL REST samples and the v2 API description):

* ``POST /ext/api/as/token.oauth2``: client credentials grant (client id and secret by HTTP Basic, as
  requests-oauthlib sends them, or in the form body); the access token is a signed JWT whose ``exp`` the
  samples decode. Refusals are OAuth 2 bodies (``{"error": "invalid_client", ...}``).
* every ``/eap`` call needs ``api-version: 2`` (400 otherwise) and a valid bearer token (401); answers
  carry ``latest-api-version``. Errors are JSON:API bodies with an RFC 6901 pointer into the submitted
  document. 1200 calls a minute per application, then 429 with ``Retry-After``.
* ``GET /eap/catalogs/``: the ``bbg`` catalog and the account's catalog (``subscriptionType: scheduled``).
* ``POST /eap/catalogs/{catalog}/requests/``: a ``DataRequest`` or ``HistoryRequest`` with an inline
  universe, field list and ``SubmitTrigger``; 201 with ``Location`` and ``{"request": {...}}``.
* ``GET /eap/catalogs/{catalog}/content/responses/?prefix=&requestIdentifier=``: the outputs ready so far
  (a request is answered ``processing_seconds`` of mock time after it was submitted).
* ``GET /eap/catalogs/{catalog}/content/responses/{key}``: the file (CSV or JSON), gzip when asked by
  ``Accept-Encoding``, with ``Content-Disposition``.
* ``GET /eap/notifications/sse``: ``text/event-stream`` of ``DistributionPublishedActivity`` events
  (the event body's exact shape is not published; this one names the output's key and request).
"""

from __future__ import annotations

import asyncio
import base64
import csv
import gzip
import hashlib
import io
import json
import re
import secrets
import threading
import uuid
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any
from urllib.parse import parse_qs
from zoneinfo import ZoneInfo

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import OctKey
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route
from starlette.types import Receive, Scope, Send

from portico.mocks._kit import MockApp, MockClock, MockFaultSource, json_response
from portico.mocks._kit._faults import FaultRule
from portico.mocks.bloomberg._data import (
    DATA_FIELDS,
    EQUITIES,
    HISTORY_FIELDS,
    IDENTIFIER_TYPES,
    Security,
    history_rows,
    reference_rows,
    resolve,
)

__all__ = ["ACCOUNT_CATALOG", "TOKEN_PATH", "BloombergMock", "create_app", "jsonapi_error"]

TOKEN_PATH = "/ext/api/as/token.oauth2"
ACCOUNT_CATALOG = "1234"
"""The mock account's Data License number (its scheduled catalog)."""
_CONTEXT = "https://api.bloomberg.com/eap/context.jsonld"
_SNAPSHOT_TZ = "America/New_York"
_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,128}$")
_IDENTIFIER = re.compile(r"^[A-Za-z0-9]{1,64}$")
_MEDIA = {"text/csv": "csv", "application/json": "json"}
_PERIODS = ("daily", "weekly", "monthly")
_FIELD_LIST = {"DataRequest": "DataFieldList", "HistoryRequest": "HistoryFieldList"}


def jsonapi_error(status: int, title: str, detail: str, pointer: str | None = None) -> dict[str, Any]:
    """Data License's error body: JSON:API errors, each with an RFC 6901 pointer into the document sent."""
    error: dict[str, Any] = {"id": str(uuid.uuid4()), "status": str(status), "title": title, "detail": detail}
    if pointer is not None:
        error["source"] = {"pointer": pointer}
    return {"errors": [error]}


class _Invalid(Exception):
    def __init__(self, detail: str, pointer: str, status: int = 400, title: str = "Bad Request") -> None:
        super().__init__(detail)
        self.detail = detail
        self.pointer = pointer
        self.status = status
        self.title = title


@dataclass
class _DataRequest:
    catalog: str
    identifier: str
    name: str
    kind: str
    members: list[tuple[str, Security | None]]
    fields: list[str]
    media: str
    submitted: datetime
    ready_at: datetime
    document: dict[str, Any]
    start: date | None = None
    end: date | None = None
    period: str = "daily"
    published: bool = False


@dataclass
class _Output:
    key: str
    request: _DataRequest
    snapshot: datetime
    media: str
    body: bytes


@dataclass
class BloombergMock:
    """The mock's state: applications (client id to secret), tokens, requests, outputs and events."""

    seed: int
    clock: MockClock
    clients: dict[str, str]
    processing_seconds: float = 0.0
    token_lifetime: int = 3600
    per_minute: int = 1200
    catalog: str = ACCOUNT_CATALOG
    requests: dict[tuple[str, str], _DataRequest] = field(default_factory=dict)
    outputs: dict[tuple[str, str], _Output] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    equities: set[str] = field(default_factory=lambda: set(EQUITIES))
    """The equity tickers the mock knows (others are unknown securities, RC 10)."""
    unknown_identifiers: set[str] = field(default_factory=set)
    """Identifier values answered as unknown securities (RC 10), to simulate a vendor gap."""
    token_requests: int = 0
    _calls: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        from portico.mocks._kit import MarketDataGenerator

        self.data = MarketDataGenerator(self.seed)
        self.currencies = set(self.data.currencies())
        # the signing key follows the seed, so tokens are reproducible; clients never verify it
        self._key = OctKey.import_key(hashlib.sha256(f"bloomberg-mock:{self.seed}".encode()).digest())

    # -- tokens --------------------------------------------------------------------------------

    def issue_token(self, client_id: str) -> dict[str, Any]:
        """A bearer token for ``client_id``: a JWT with ``exp`` (what the samples decode)."""
        self.token_requests += 1
        now = int(self.clock.now().timestamp())
        claims = {
            "iss": "https://bsso.blpprofessional.com", "sub": client_id, "client_id": client_id,
            "iat": now, "exp": now + self.token_lifetime, "jti": secrets.token_hex(8), "scope": "eap",
        }  # fmt: skip
        token = jwt.encode({"alg": "HS256", "typ": "JWT"}, claims, self._key)
        return {"access_token": token, "token_type": "Bearer", "expires_in": self.token_lifetime}

    def token_owner(self, token: str) -> tuple[str | None, str]:
        """The client id a bearer token was issued to, or None and why it is refused."""
        try:
            claims = jwt.decode(token, self._key).claims
        except (JoseError, ValueError):
            return None, "The access token is invalid"
        if int(claims.get("exp", 0)) <= self.clock.now().timestamp():
            return None, "The access token expired"
        owner = claims.get("client_id")
        if owner not in self.clients:
            return None, "The access token was issued to an unknown application"
        return str(owner), ""

    def over_limit(self, client_id: str) -> float | None:
        """Seconds to wait when ``client_id`` has made ``per_minute`` calls in the last minute."""
        now = self.clock.monotonic()
        calls = self._calls.setdefault(client_id, deque())
        while calls and calls[0] <= now - 60.0:
            calls.popleft()
        if len(calls) >= self.per_minute:
            return max(1.0, 60.0 - (now - calls[0]))
        calls.append(now)
        return None

    # -- requests and outputs ------------------------------------------------------------------

    def publish_due(self) -> None:
        """Produce the output of every request whose processing time has passed."""
        with self._lock:  # the clock's listener runs on the test's thread, requests arrive on the server's
            self._publish(self.clock.now())

    def add(self, request: _DataRequest) -> None:
        """Accept a validated request."""
        with self._lock:
            self.requests[(request.catalog, request.identifier)] = request

    def _publish(self, now: datetime) -> None:
        for request in list(self.requests.values()):
            if request.published or request.ready_at > now:
                continue
            request.published = True
            output = self._output(request)
            self.outputs[(request.catalog, output.key)] = output
            self.events.append(
                {
                    "@context": _CONTEXT,
                    "type": "DistributionPublishedActivity",
                    "published": output.snapshot.isoformat().replace("+00:00", "Z"),
                    "generated": {
                        "@id": f"/eap/catalogs/{request.catalog}/content/responses/{output.key}",
                        "key": output.key,
                        "requestIdentifier": request.identifier,
                        "requestName": request.name,
                        "catalog": request.catalog,
                        "contentType": "text/csv" if output.media == "csv" else "application/json",
                    },
                }
            )

    def _output(self, request: _DataRequest) -> _Output:
        snapshot = request.ready_at
        if request.kind == "HistoryRequest":
            assert request.start is not None and request.end is not None
            rows = history_rows(
                self.data,
                request.members,
                request.fields,
                request.start,
                request.end,
                request.period,
                snapshot,
            )
        else:
            rows = reference_rows(self.data, request.members, request.fields, snapshot)
        local = snapshot.astimezone(ZoneInfo(_SNAPSHOT_TZ))
        head = {
            "DL_REQUEST_ID": request.identifier,
            "DL_REQUEST_NAME": request.name,
            "DL_REQUEST_TYPE": request.kind,
            "DL_SNAPSHOT_START_TIME": local.strftime("%Y-%m-%dT%H:%M:%S"),
            "DL_SNAPSHOT_TZ": _SNAPSHOT_TZ,
        }
        records = [{**head, **row} for row in rows]
        key = f"{request.name}.{local.strftime('%Y%m%dT%H%M%S')}.{request.media}"
        return _Output(key, request, snapshot, request.media, _encode(records, request.media))


def _encode(records: list[dict[str, Any]], media: str) -> bytes:
    if media == "json":
        return json.dumps(records, separators=(",", ":")).encode()
    buffer = io.StringIO()
    columns: list[str] = []
    for record in records:
        columns.extend(k for k in record if k not in columns)
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\r\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: "" if v is None else v for k, v in record.items()})
    return buffer.getvalue().encode()


# -- request documents ---------------------------------------------------------------------------


def _expect(doc: Any, key: str, pointer: str, kind: type | tuple[type, ...] = dict) -> Any:
    if not isinstance(doc, dict) or key not in doc:
        raise _Invalid(f"'{key}' is required", f"{pointer}/{key}")
    value = doc[key]
    if not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise _Invalid(f"'{key}' must be a {names}", f"{pointer}/{key}")
    return value


def _typed(doc: dict[str, Any], pointer: str, *allowed: str) -> str:
    kind = doc.get("@type")
    if kind not in allowed:
        raise _Invalid(f"@type must be {' or '.join(allowed)}, got {kind!r}", f"{pointer}/@type")
    return str(kind)


def _day(value: Any, pointer: str) -> date:
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        raise _Invalid(f"{value!r} is not an xsd:date (YYYY-MM-DD)", pointer) from None


def parse_request(mock: BloombergMock, catalog: str, body: Any, now: datetime) -> _DataRequest:
    """A submitted request document, validated as Data License validates one (400 with a pointer)."""
    if not isinstance(body, dict):
        raise _Invalid("the request body must be a JSON object", "")
    kind = _typed(body, "", "DataRequest", "HistoryRequest")
    name = _expect(body, "name", "", str)
    if not _NAME.match(name):
        raise _Invalid("name must be 1-128 letters, digits, '_', '.' or '-'", "/name")
    identifier = body.get("identifier") or "r" + secrets.token_hex(5)
    if not isinstance(identifier, str) or not _IDENTIFIER.match(identifier):
        raise _Invalid("identifier must be 1-64 letters or digits", "/identifier")
    if (catalog, identifier) in mock.requests:
        raise _Invalid(
            f"a request with identifier {identifier!r} already exists", "/identifier", 409, "Conflict"
        )

    universe = _expect(body, "universe", "")
    _typed(universe, "/universe", "Universe")
    contains = _expect(universe, "contains", "/universe", list)
    if not contains:
        raise _Invalid("the universe is empty", "/universe/contains")
    members: list[tuple[str, Security | None]] = []
    for i, item in enumerate(contains):
        pointer = f"/universe/contains/{i}"
        if not isinstance(item, dict):
            raise _Invalid("each universe member must be an object", pointer)
        _typed(item, pointer, "Identifier")
        id_type = _expect(item, "identifierType", pointer, str)
        if id_type not in IDENTIFIER_TYPES:
            raise _Invalid(
                f"identifierType must be one of {', '.join(IDENTIFIER_TYPES)}", f"{pointer}/identifierType"
            )
        value = _expect(item, "identifierValue", pointer, str)
        if not value.strip():
            raise _Invalid("identifierValue is empty", f"{pointer}/identifierValue")
        known = (
            None
            if value in mock.unknown_identifiers
            else resolve(id_type, value, mock.currencies, mock.equities)
        )
        members.append((value, known))

    field_list = _expect(body, "fieldList", "")
    _typed(field_list, "/fieldList", _FIELD_LIST[kind])
    items = _expect(field_list, "contains", "/fieldList", list)
    if not items:
        raise _Invalid("the field list is empty", "/fieldList/contains")
    allowed = HISTORY_FIELDS if kind == "HistoryRequest" else tuple(DATA_FIELDS)
    fields: list[str] = []
    for i, item in enumerate(items):
        mnemonic = _expect(item, "mnemonic", f"/fieldList/contains/{i}", str).upper()
        if mnemonic not in allowed:
            raise _Invalid(
                f"unknown or unsupported field mnemonic {mnemonic!r} for a {kind}",
                f"/fieldList/contains/{i}/mnemonic",
            )
        if mnemonic not in fields:
            fields.append(mnemonic)

    trigger = _expect(body, "trigger", "")
    _typed(trigger, "/trigger", "SubmitTrigger")
    media = "csv"
    if "formatting" in body:
        formatting = _expect(body, "formatting", "")
        _typed(formatting, "/formatting", "MediaType")
        wanted = formatting.get("outputMediaType")
        if wanted not in _MEDIA:
            raise _Invalid(
                f"outputMediaType must be one of {', '.join(_MEDIA)}", "/formatting/outputMediaType"
            )
        media = _MEDIA[wanted]

    request = _DataRequest(
        catalog=catalog, identifier=identifier, name=name, kind=kind, members=members, fields=fields, media=media,
        submitted=now, ready_at=(now + timedelta(seconds=mock.processing_seconds)).replace(microsecond=0), document=body,
    )  # fmt: skip
    if kind == "HistoryRequest":
        options = _expect(body, "runtimeOptions", "")
        _typed(options, "/runtimeOptions", "HistoryRuntimeOptions")
        window = _expect(options, "dateRange", "/runtimeOptions")
        _typed(window, "/runtimeOptions/dateRange", "IntervalDateRange")
        request.start = _day(window.get("startDate"), "/runtimeOptions/dateRange/startDate")
        request.end = _day(window.get("endDate"), "/runtimeOptions/dateRange/endDate")
        if request.end < request.start:
            raise _Invalid("endDate is before startDate", "/runtimeOptions/dateRange/endDate")
        period = options.get("period", "daily")
        if period not in _PERIODS:
            raise _Invalid(f"period must be one of {', '.join(_PERIODS)}", "/runtimeOptions/period")
        request.period = str(period)
    return request


# -- the app -------------------------------------------------------------------------------------


class _BloombergApp(MockApp):
    """The kit's app with Data License's error bodies for injected faults."""

    def error_response(self, rule: FaultRule) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        if rule.body is not None:
            return super().error_response(rule)
        title = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}.get(
            rule.status, "Error"
        )
        return json_response(jsonapi_error(rule.status, title, "injected fault"), rule.status)

    def rate_limited_response(
        self, retry_after: str, rule: FaultRule
    ) -> Callable[[Scope, Receive, Send], Awaitable[None]]:
        body = jsonapi_error(
            429,
            "Too Many Requests",
            "The rate limit of 1200 requests per minute per application was exceeded",
        )
        return json_response(body, 429, {"Retry-After": retry_after})


def _basic_client(header: str) -> tuple[str, str] | None:
    if not header.startswith("Basic "):
        return None
    try:
        user, _, password = base64.b64decode(header[6:]).decode().partition(":")
    except ValueError:
        return None
    from urllib.parse import unquote_plus

    return unquote_plus(user), unquote_plus(password)


def create_app(
    seed: int = 0,
    faults: MockFaultSource = None,
    *,
    clock: MockClock | None = None,
    clients: dict[str, str] | None = None,
    processing_seconds: float = 0.0,
    token_lifetime: int = 3600,
    per_minute: int = 1200,
    unknown_identifiers: Iterable[str] = (),
    equities: Iterable[str] = EQUITIES,
) -> MockApp:
    """The Bloomberg Data License REST mock as an ASGI app.

    Args:
        seed: the data seed (same seed, same numbers).
        faults: the kit's HTTP-level fault rules.
        clock: the simulated clock; without one, a clock that follows wall time from now.
        clients: application client id to client secret (default one ``portico-mock-client`` app, whose
            secret is ``portico-mock-secret``).
        processing_seconds: mock time between a request's submission and its output.
        token_lifetime: seconds an access token lives.
        per_minute: calls a minute one application may make before 429.
        unknown_identifiers: identifier values answered as unknown securities (RC 10).
        equities: the equity tickers it knows (``AAPL US Equity`` resolves when ``AAPL`` is one).

    Returns:
        The app; ``app.state.mock`` is the :class:`BloombergMock`.
    """
    clock = clock or MockClock(datetime.now(UTC).replace(microsecond=0), realtime=True)
    mock = BloombergMock(
        seed=seed, clock=clock, clients=dict(clients if clients is not None else {"portico-mock-client": "portico-mock-secret"}),
        processing_seconds=processing_seconds, token_lifetime=token_lifetime, per_minute=per_minute,
        unknown_identifiers=set(unknown_identifiers), equities={e.upper() for e in equities},
    )  # fmt: skip
    clock.on_advance(mock.publish_due)

    def headers() -> dict[str, str]:
        return {"latest-api-version": "2", "x-request-id": uuid.uuid4().hex}

    def error(
        status: int, title: str, detail: str, pointer: str | None = None, extra: dict[str, str] | None = None
    ) -> Response:
        return json_response(
            jsonapi_error(status, title, detail, pointer), status, {**headers(), **(extra or {})}
        )

    def guarded(
        handler: Callable[[Request, str], Awaitable[Response]],
    ) -> Callable[[Request], Awaitable[Response]]:
        async def endpoint(request: Request) -> Response:
            version = request.headers.get("api-version")
            if version is None:
                return error(
                    400, "Bad Request", "The api-version header is required; the only supported value is 2"
                )
            if version.strip() != "2":
                return error(
                    400, "Bad Request", f"Unsupported api-version {version!r}; the only supported value is 2"
                )
            auth = request.headers.get("authorization", "")
            if not auth.lower().startswith("bearer "):
                body = {
                    "error": "unauthorized_client",
                    "error_description": "No definition of jwt found in header or query string.",
                }
                return json_response(body, 401, headers())
            owner, why = mock.token_owner(auth[7:].strip())
            if owner is None:
                return json_response(
                    {"error": "invalid_token", "error_description": why},
                    401,
                    {**headers(), "WWW-Authenticate": 'Bearer error="invalid_token"'},
                )
            wait = mock.over_limit(owner)
            if wait is not None:
                return error(
                    429,
                    "Too Many Requests",
                    "The rate limit of 1200 requests per minute per application was exceeded",
                    extra={"Retry-After": str(int(wait + 0.999))},
                )
            mock.publish_due()
            return await handler(request, owner)

        return endpoint

    async def token(request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        basic = _basic_client(request.headers.get("authorization", ""))
        client_id, secret = basic if basic else (form.get("client_id", ""), form.get("client_secret", ""))
        if form.get("grant_type") != "client_credentials":
            return json_response(
                {
                    "error": "unsupported_grant_type",
                    "error_description": "grant_type must be client_credentials",
                },
                400,
            )
        if not client_id or mock.clients.get(client_id) != secret or not secret:
            return json_response(
                {"error": "invalid_client", "error_description": "Invalid client or client credentials."}, 401
            )
        return json_response(
            mock.issue_token(client_id), 200, {"Cache-Control": "no-store", "Pragma": "no-cache"}
        )

    def catalog_doc(identifier: str) -> dict[str, Any]:
        scheduled = identifier == mock.catalog
        return {
            "@id": f"/eap/catalogs/{identifier}/",
            "@type": "Catalog",
            "identifier": identifier,
            "title": "Data License account" if scheduled else "Bloomberg",
            "subscriptionType": "scheduled" if scheduled else "bulk",
        }

    async def entrypoint(request: Request, owner: str) -> Response:
        return json_response(
            {
                "@context": _CONTEXT,
                "@id": "/eap/",
                "@type": "EntryPoint",
                "catalogs": {"@id": "/eap/catalogs/"},
            },
            200,
            headers(),
        )

    async def catalogs(request: Request, owner: str) -> Response:
        items = [catalog_doc("bbg"), catalog_doc(mock.catalog)]
        body = {
            "@context": _CONTEXT,
            "@id": "/eap/catalogs/",
            "@type": "CatalogCollection",
            "contains": items,
            "totalItems": len(items),
        }
        return json_response(body, 200, headers())

    def known_catalog(catalog: str) -> Response | None:
        if catalog not in ("bbg", mock.catalog):
            return error(
                404,
                "Not Found",
                f"Catalog {catalog!r} does not exist or is not accessible to this application",
            )
        return None

    async def catalog(request: Request, owner: str) -> Response:
        name = request.path_params["catalog"]
        return known_catalog(name) or json_response(
            {"@context": _CONTEXT, **catalog_doc(name)}, 200, headers()
        )

    def request_doc(r: _DataRequest) -> dict[str, Any]:
        return {
            "@id": f"/eap/catalogs/{r.catalog}/requests/{r.identifier}/",
            "@type": r.kind,
            "identifier": r.identifier,
            "name": r.name,
            "title": r.document.get("title", r.name),
            "description": r.document.get("description", ""),
            "issued": r.submitted.isoformat().replace("+00:00", "Z"),
            "universe": r.document.get("universe"),
            "fieldList": r.document.get("fieldList"),
            "trigger": r.document.get("trigger"),
            "formatting": r.document.get("formatting"),
        }

    async def create_request(request: Request, owner: str) -> Response:
        name = request.path_params["catalog"]
        missing = known_catalog(name)
        if missing is not None:
            return missing
        if name != mock.catalog:
            return error(
                403,
                "Forbidden",
                f"Requests may only be created in your account's catalog ({mock.catalog}), not {name!r}",
            )
        try:
            body = json.loads(await request.body())
        except ValueError:
            return error(400, "Bad Request", "The request body is not valid JSON", "")
        try:
            created = parse_request(mock, name, body, mock.clock.now())
        except _Invalid as exc:
            return error(exc.status, exc.title, exc.detail, exc.pointer)
        mock.add(created)
        mock.publish_due()
        location = f"/eap/catalogs/{name}/requests/{created.identifier}/"
        body = {"@context": _CONTEXT, "@type": "RequestCreated", "request": request_doc(created)}
        return json_response(body, 201, {**headers(), "Location": location})

    async def get_request(request: Request, owner: str) -> Response:
        name, ident = request.path_params["catalog"], request.path_params["identifier"]
        found = mock.requests.get((name, ident))
        if found is None:
            return error(404, "Not Found", f"Request {ident!r} does not exist in catalog {name!r}")
        return json_response({"@context": _CONTEXT, **request_doc(found)}, 200, headers())

    async def responses(request: Request, owner: str) -> Response:
        name = request.path_params["catalog"]
        missing = known_catalog(name)
        if missing is not None:
            return missing
        prefix = request.query_params.get("prefix", "")
        wanted = request.query_params.get("requestIdentifier")
        items = []
        for (catalog_name, key), output in sorted(mock.outputs.items(), key=lambda kv: kv[1].snapshot):
            if catalog_name != name or not key.startswith(prefix):
                continue
            if wanted is not None and output.request.identifier != wanted:
                continue
            items.append(
                {
                    "@id": f"/eap/catalogs/{name}/content/responses/{key}",
                    "key": key,
                    "responseId": hashlib.sha1(key.encode()).hexdigest()[:16],
                    "requestIdentifier": output.request.identifier,
                    "snapshotStartTime": output.snapshot.isoformat().replace("+00:00", "Z"),
                    "contentType": "text/csv" if output.media == "csv" else "application/json",
                    "metadata": {"DL_REQUEST_ID": output.request.identifier, "DL_REQUEST_NAME": output.request.name,
                                 "DL_REQUEST_TYPE": output.request.kind},
                }
            )  # fmt: skip
        body = {
            "@context": _CONTEXT,
            "@id": f"/eap/catalogs/{name}/content/responses/",
            "@type": "ContentResponseCollection",
            "contains": items,
            "totalItems": len(items),
        }
        return json_response(body, 200, headers())

    async def download(request: Request, owner: str) -> Response:
        name, key = request.path_params["catalog"], request.path_params["key"]
        output = mock.outputs.get((name, key))
        if output is None:
            return error(404, "Not Found", f"Response {key!r} does not exist in catalog {name!r}")
        content_type = "text/csv" if output.media == "csv" else "application/json"
        extra = {**headers(), "Content-Disposition": f'attachment; filename="{key}"'}
        body = output.body
        if "gzip" in request.headers.get("accept-encoding", "").lower():
            body = gzip.compress(body, mtime=0)
            extra["Content-Encoding"] = "gzip"
        return Response(body, 200, headers=extra, media_type=content_type)

    async def notifications(request: Request, owner: str) -> Response:
        last = request.headers.get("last-event-id")
        start = int(last) if last and last.isdigit() else len(mock.events)

        async def stream() -> AsyncIterator[bytes]:
            sent = start
            yield b": connected\n\n"
            while not await request.is_disconnected():
                mock.publish_due()
                while sent < len(mock.events):
                    sent += 1
                    yield f"id: {sent}\nevent: message\ndata: {json.dumps(mock.events[sent - 1])}\n\n".encode()
                await asyncio.sleep(0.02)

        return StreamingResponse(
            stream(), media_type="text/event-stream", headers={**headers(), "Cache-Control": "no-cache"}
        )

    routes = [
        Route(TOKEN_PATH, token, methods=["POST"]),
        Route("/eap/", guarded(entrypoint), methods=["GET"]),
        Route("/eap/catalogs/", guarded(catalogs), methods=["GET"]),
        Route("/eap/catalogs/{catalog}/", guarded(catalog), methods=["GET"]),
        Route("/eap/catalogs/{catalog}/requests/", guarded(create_request), methods=["POST"]),
        Route("/eap/catalogs/{catalog}/requests/{identifier}/", guarded(get_request), methods=["GET"]),
        Route("/eap/catalogs/{catalog}/content/responses/", guarded(responses), methods=["GET"]),
        Route("/eap/catalogs/{catalog}/content/responses/{key}", guarded(download), methods=["GET"]),
        Route("/eap/notifications/sse", guarded(notifications), methods=["GET"]),
    ]
    app = _BloombergApp(
        routes, name="bloomberg", seed=seed, faults=faults, clock=clock, url_keys={"base": "", "auth": ""}
    )
    app.state.mock = mock
    return app
