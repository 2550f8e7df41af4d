"""HTTP calls to FactSet's Prices API (``/factset-prices/v1/...``) and its batch service (``/batch/v1/...``).

Every call goes through the system's shared :class:`~portico.http.ApiClient` (throttling at 25/s, retry,
breaker, monitoring). Answers are parsed with ``parse_float=Decimal`` so prices keep the digits FactSet
sent. FactSet's error envelope (``status, timestamp, path, message, subErrors``) is read by
:func:`error_for_response`: unknown ids become :class:`~portico.errors.NotFound` naming them, other 400s
:class:`~portico.errors.VenueRejected` with FactSet's message, 401/403 :class:`~portico.errors.AuthError`,
429 :class:`~portico.errors.RateLimited`.

Large id lists: the endpoints that offer batch processing (``prices``, ``market-value``) run as a batch
request when more ids than ``batch_ids_over`` are asked for (202 with a batch id, then status polls until
``DONE``, then ``/batch/v1/result``), bounded by ``batch_deadline_seconds`` on the context's clock; the
other endpoints are asked in chunks of :data:`GET_CHUNK` ids.

Every answer row maps the id it was asked for (``requestId``) to FactSet's permanent id (``fsymId``);
those pairs fill the symbology cache (:class:`SymbologyCache`), so a ticker is resolved once per TTL.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import ValidationError

from portico.auth import AuthContext, BasicAuth
from portico.connectors.factset.auth import SCHEME, FactSetPrivateKeyJwtAuth
from portico.connectors.factset.spec import FactSetConnection
from portico.connectors.factset.wire import ENDPOINTS, WireBatchStatus, WireError, WireRow
from portico.errors import (
    AuthError,
    ConfigurationError,
    NotFound,
    PayloadRejected,
    PorticoError,
    RateLimited,
    ReadTimeout,
    VenueRejected,
)
from portico.sdk import resolve_url_templates

if TYPE_CHECKING:
    from portico.clock import Clock
    from portico.sdk import ConnectorContext

__all__ = [
    "BATCH_ENDPOINTS",
    "GET_CHUNK",
    "FactSetClient",
    "SymbologyCache",
    "error_for_response",
    "parse_body",
]

GET_CHUNK = 200
"""Ids per GET request (comma-separated in the query; FactSet accepts up to 2000, URLs stay short)."""
BATCH_ENDPOINTS = frozenset({"prices", "market-value"})
"""The endpoints whose request takes ``batch=Y`` (per the Prices API specification)."""
_PRICES = "/factset-prices/v1"


def parse_body(response: httpx.Response, what: str) -> Any:
    """The JSON body of an answer with numbers as Decimal; PayloadRejected when it is not JSON."""
    try:
        return json.loads(response.content, parse_float=Decimal)
    except ValueError:
        snippet = response.text[:60].replace("\n", " ")
        raise PayloadRejected(f"FactSet answered {what} with a body that is not JSON ({snippet!r})") from None


def _envelope(response: httpx.Response) -> WireError | None:
    try:
        body = json.loads(response.content)
    except ValueError:
        return None
    if not isinstance(body, dict) or "message" not in body:
        return None
    try:
        return WireError.model_validate(body)
    except ValidationError:
        return None


def error_for_response(response: httpx.Response) -> PorticoError | None:
    """The typed error of a non-2xx FactSet answer (None: the shared default map)."""
    envelope = _envelope(response)
    if envelope is None:
        return None
    status = response.status_code
    message = envelope.message or envelope.status or f"HTTP {status}"
    code = envelope.status
    if status == 400:
        rejected = envelope.rejected_values()
        if rejected and envelope.field() in (None, "ids"):
            return NotFound(
                f"FactSet does not know the id(s) {', '.join(rejected)}: {message}",
                venue_code=code,
                status_code=status,
                detail={"rejected": rejected},
            )
        return VenueRejected(f"FactSet rejected the request: {message}", venue_code=code, status_code=status)
    if status in (401, 403):
        what = (
            "refused the credentials" if status == 401 else "does not entitle these credentials to the call"
        )
        return AuthError(f"FactSet {what}: {message}", venue_code=code, status_code=status)
    if status == 404:
        return NotFound(f"FactSet: {message}", venue_code=code, status_code=status)
    if status == 429:
        return RateLimited(f"FactSet throttled the call: {message}", venue_code=code, status_code=status)
    return None


class SymbologyCache:
    """Requested id (ticker or FactSet id) -> FactSet permanent id, each entry kept ``ttl`` seconds.

    Args:
        clock: the time source of the expiry.
        ttl: seconds an entry stays; 0 keeps nothing.
    """

    def __init__(self, clock: Clock, ttl: float) -> None:
        self._clock = clock
        self._ttl = timedelta(seconds=ttl)
        self._entries: dict[str, tuple[str, datetime]] = {}

    def __len__(self) -> int:
        return len(self._entries)

    def learn(self, rows: Iterable[WireRow]) -> None:
        """Remember the ``requestId`` -> ``fsymId`` pair of every row that has both."""
        if not self._ttl:
            return
        until = self._clock.now() + self._ttl
        for row in rows:
            if row.fsym_id:
                self._entries[row.request_id.upper()] = (row.fsym_id, until)

    def get(self, requested: str) -> str | None:
        """The FactSet id of ``requested`` when cached and not expired."""
        entry = self._entries.get(requested.upper())
        if entry is None:
            return None
        if entry[1] <= self._clock.now():
            del self._entries[requested.upper()]
            return None
        return entry[0]


def _auth_without_manager(context: ConnectorContext) -> httpx.Auth:
    """The auth flow built from the context's credentials when the runtime built none (tests, scripts)."""
    credentials = dict(context.credentials)
    oauth = context.auth_scheme == SCHEME or ("jwk" in credentials and "password" not in credentials)
    scheme = SCHEME if oauth else "basic"
    ctx = AuthContext(system_id=context.system_id, scheme=scheme, clock=context.clock)
    if oauth:
        declared = context.spec.auth_scheme(SCHEME)
        options = resolve_url_templates(
            dict(declared.options) if declared else {}, dict(context.environment.urls)
        )
        return FactSetPrivateKeyJwtAuth(ctx, credentials, options)
    if "username" not in credentials or "password" not in credentials:
        raise ConfigurationError(
            f"{context.system_id}: FactSet needs credentials username and password (API key), or client_id and jwk",
            path=f"systems.{context.system_id}.authentication.credentials",
            system=context.system_id,
        )
    return BasicAuth(ctx, credentials, {})


class FactSetClient:
    """The Prices API through the system's shared API client.

    Args:
        context: the connector's context (``base`` is the ``/content`` URL).
        settings: the system's validated ``connection`` settings.
    """

    def __init__(self, context: ConnectorContext, settings: FactSetConnection) -> None:
        self.context = context
        self.settings = settings
        auth = context.auth if context.auth is not None else _auth_without_manager(context)
        self._api = context.api_client("base", auth=auth, error_mapper=error_for_response)
        self.symbology = SymbologyCache(context.clock, settings.symbology_ttl_seconds)
        self.batches_started = 0

    @property
    def api(self) -> Any:
        """The underlying API client."""
        return self._api

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._api.aclose()

    def _error(self, cls: type[PorticoError], message: str, request: str, **kwargs: Any) -> PorticoError:
        return cls(message, system=self.context.system_id, request=request, **kwargs)

    # -- content -----------------------------------------------------------------------------------

    async def rows(
        self,
        endpoint: str,
        ids: Sequence[str],
        params: Mapping[str, str | None] | None = None,
        *,
        batch: bool | None = None,
    ) -> list[Any]:
        """Every row of ``endpoint`` for ``ids``, as the endpoint's wire model, in FactSet's order.

        ``batch``: True forces a batch request, False forbids it, None decides by ``batch_ids_over``.
        Ids FactSet does not know have no rows (the API answers for the others).

        Raises:
            PayloadRejected: no ids, an unknown endpoint, or rows that do not fit the endpoint's model.
            NotFound: FactSet knows none of the ids.
            VenueRejected: FactSet refused a parameter (its message says which).
            ReadTimeout: a batch request was not done within ``batch_deadline_seconds``.
        """
        model = ENDPOINTS.get(endpoint)
        if model is None:
            raise PayloadRejected(f"unknown Prices API endpoint {endpoint!r}; use one of {sorted(ENDPOINTS)}")
        wanted = [i.strip() for i in ids if i and i.strip()]
        if not wanted:
            raise PayloadRejected(f"{endpoint}: give at least one ticker or FactSet id", field="ids")
        query = {k: v for k, v in (params or {}).items() if v is not None}
        use_batch = batch if batch is not None else len(wanted) > self.settings.batch_ids_over
        if use_batch and endpoint not in BATCH_ENDPOINTS:
            if batch:
                raise PayloadRejected(
                    f"{endpoint} offers no batch processing (only {sorted(BATCH_ENDPOINTS)})"
                )
            use_batch = False
        if use_batch:
            raw = await self._batch(endpoint, wanted, query)
        else:
            raw = []
            unknown: NotFound | None = None
            chunks = [wanted[i : i + GET_CHUNK] for i in range(0, len(wanted), GET_CHUNK)]
            for chunk in chunks:
                try:
                    raw.extend(await self._get(endpoint, chunk, query))
                except NotFound as exc:
                    # a chunk of only unknown ids is refused whole; the other chunks still answer
                    if len(chunks) == 1:
                        raise
                    unknown = exc
            if unknown is not None and not raw:
                raise unknown
        try:
            rows = [model.model_validate(r) for r in raw]
        except ValidationError as exc:
            raise self._error(
                PayloadRejected,
                f"FactSet {endpoint} rows do not have the documented shape: {exc.errors()[0]['msg']}",
                f"GET {_PRICES}/{endpoint}",
            ) from None
        self.symbology.learn(rows)
        return rows

    async def _get(self, endpoint: str, ids: list[str], query: Mapping[str, str]) -> list[Any]:
        request = f"GET {_PRICES}/{endpoint}"
        response = await self._api.get(
            f"{_PRICES}/{endpoint}", params={"ids": ",".join(ids), **query}, endpoint=request
        )
        return self._data_list(parse_body(response, request), request)

    def _data_list(self, body: Any, request: str) -> list[Any]:
        data = body.get("data") if isinstance(body, dict) else None
        if not isinstance(data, list):
            raise self._error(PayloadRejected, "FactSet's answer has no data list", request)
        return data

    # -- batch -----------------------------------------------------------------------------------

    async def _batch(self, endpoint: str, ids: list[str], query: Mapping[str, str]) -> list[Any]:
        request = f"POST {_PRICES}/{endpoint}"
        body = {"ids": ids, **query, "batch": "Y"}
        # the batch is read-only at FactSet: a retried submission only starts a second identical job
        response = await self._api.post(f"{_PRICES}/{endpoint}", json=body, endpoint=request, retry=True)
        if response.status_code == 200:
            return self._data_list(parse_body(response, request), request)  # small enough to answer at once
        status = self._status(parse_body(response, request), request)
        self.batches_started += 1
        return await self._wait_for(status, request)

    def _status(self, body: Any, request: str) -> WireBatchStatus:
        data = body.get("data") if isinstance(body, dict) else None
        try:
            return WireBatchStatus.model_validate(data)
        except ValidationError:
            raise self._error(
                PayloadRejected, "FactSet's batch answer has no readable status", request
            ) from None

    async def _wait_for(self, status: WireBatchStatus, request: str) -> list[Any]:
        clock = self.context.clock
        deadline = clock.monotonic() + self.settings.batch_deadline_seconds
        polls = 0
        while True:
            if status.status == "FAILED":
                raise self._error(
                    VenueRejected,
                    f"FactSet batch request {status.id} failed: {status.error or 'no reason given'}",
                    request,
                    venue_code="FAILED",
                )
            if status.status == "DONE":
                result = await self._api.get(
                    "/batch/v1/result", params={"id": status.id}, endpoint="GET /batch/v1/result"
                )
                if result.status_code == 200:
                    return self._data_list(parse_body(result, "GET /batch/v1/result"), "GET /batch/v1/result")
                status = self._status(parse_body(result, "GET /batch/v1/result"), "GET /batch/v1/result")
                if status.status == "DONE":
                    raise self._error(
                        PayloadRejected,
                        f"FactSet batch {status.id} is DONE but its result answered "
                        f"HTTP {result.status_code}",
                        "GET /batch/v1/result",
                    )
                continue
            remaining = deadline - clock.monotonic()
            if remaining <= 0:
                raise self._error(
                    ReadTimeout,
                    f"FactSet batch request {status.id} not done after {self.settings.batch_deadline_seconds:g}s "
                    f"({polls} status polls, last {status.status}); raise connection.batch_deadline_seconds or ask "
                    "for fewer ids",
                    request,
                )
            await clock.sleep(min(self.settings.batch_poll_seconds, remaining))
            polls += 1
            answer = await self._api.get(
                "/batch/v1/status", params={"id": status.id}, endpoint="GET /batch/v1/status"
            )
            status = self._status(parse_body(answer, "GET /batch/v1/status"), "GET /batch/v1/status")

    # -- symbology -------------------------------------------------------------------------------

    async def resolve(self, ids: Sequence[str]) -> dict[str, str]:
        """The FactSet permanent id of each requested id (tickers resolved once per cache TTL).

        Unknown ids are left out of the answer; NotFound when none is known.
        """
        wanted = [i.strip() for i in ids if i and i.strip()]
        found = {i: fsym for i in wanted if (fsym := self.symbology.get(i)) is not None}
        missing = [i for i in wanted if i not in found]
        if missing:
            for row in await self.rows("references", missing):
                if row.fsym_id:
                    found[row.request_id] = row.fsym_id
        return found
