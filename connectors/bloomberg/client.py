"""HTTP calls to Data License REST through the system's shared :class:`~portico.http.ApiClient`, and the
request flow: submit a request document, poll ``content/responses`` until its output is listed (within
the reply timeout), download it and read its rows.

Every call carries ``api-version: 2`` (Data License refuses calls without it). Errors are read from the
JSON:API bodies ``/eap`` answers with (the JSON pointer of a refused part of a request is the error's
``venue_code``) and the OAuth 2 bodies of bearer refusals.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from datetime import timedelta
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from portico.connectors.bloomberg.spec import BloombergConnection
from portico.connectors.bloomberg.wire import (
    CatalogCollection,
    ContentResponse,
    ContentResponseCollection,
    DataRequest,
    ErrorBody,
)
from portico.errors import (
    AuthError,
    ConfigurationError,
    NotFound,
    PayloadRejected,
    PorticoError,
    ReadTimeout,
    VenueRejected,
)
from portico.sdk import resolve_url_templates

if TYPE_CHECKING:
    from portico.sdk import ConnectorContext

__all__ = ["API_VERSION", "BloombergClient", "error_for_response", "parse_output"]

API_VERSION = "2"

Row = dict[str, Any]
ModelT = TypeVar("ModelT", bound=BaseModel)


def error_for_response(response: httpx.Response) -> PorticoError | None:
    """The typed error of a refused ``/eap`` call (None: the default map, for 429 and 5xx)."""
    status = response.status_code
    if status == 429 or status >= 500:
        return None
    try:
        body = ErrorBody.model_validate(response.json())
    except (ValueError, ValidationError):
        return None
    message, code = body.summary()
    text = f"Bloomberg Data License answered HTTP {status}: {message}"
    detail = response.json()
    if status in (401, 403):
        return AuthError(text, status_code=status, venue_code=code, detail=detail)
    if status in (404, 410):
        return NotFound(text, status_code=status, venue_code=code, detail=detail)
    return VenueRejected(text, status_code=status, venue_code=code, detail=detail)


def parse_output(content: bytes, content_type: str, *, what: str) -> list[Row]:
    """The rows of an output file: a JSON array of records, or CSV with a header row.

    Raises:
        PayloadRejected: the file is neither (or JSON that is not a list of records).
    """
    text = content.decode("utf-8-sig", errors="replace")
    if "json" in content_type or text.lstrip().startswith(("[", "{")):
        try:
            rows = json.loads(text)
        except ValueError:
            raise PayloadRejected(f"the output of {what} is not valid JSON") from None
        if not isinstance(rows, list) or not all(isinstance(r, dict) for r in rows):
            raise PayloadRejected(f"the output of {what} is not a JSON array of records")
        return rows
    reader = csv.DictReader(io.StringIO(text))
    if not reader.fieldnames or "IDENTIFIER" not in reader.fieldnames:
        raise PayloadRejected(f"the output of {what} has no IDENTIFIER column (not a Data License file)")
    return [{k: (v if v != "" else None) for k, v in row.items()} for row in reader]


def _own_auth(context: ConnectorContext) -> httpx.Auth:
    """The client credentials flow, when the runtime gave none (a bare context)."""
    from portico.auth import AuthenticationManager

    scheme = context.spec.auth_scheme()
    assert scheme is not None  # the manifest declares one
    options = resolve_url_templates(dict(scheme.options), dict(context.environment.urls))
    return AuthenticationManager(clock=context.clock).build(
        context.system_id, scheme.scheme, dict(context.credentials), options
    )


class BloombergClient:
    """The request flow over the shared API client.

    Args:
        context: the connector's context (its ``base`` URL is the API host).
        settings: the validated ``connection`` settings.
    """

    def __init__(self, context: ConnectorContext, settings: BloombergConnection) -> None:
        self.context = context
        self.settings = settings
        auth = context.auth if context.auth is not None else _own_auth(context)
        self._api = context.api_client(
            "base", auth=auth, headers={"api-version": API_VERSION}, error_mapper=error_for_response
        )
        self._catalog: str | None = settings.catalog

    @property
    def api(self) -> Any:
        """The underlying API client."""
        return self._api

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._api.aclose()

    # -- catalogs --------------------------------------------------------------------------------

    async def catalogs(self, *, cost: float | None = None, retry: bool | None = None) -> CatalogCollection:
        """``GET /eap/catalogs/``."""
        response = await self._api.get(
            "/eap/catalogs/", endpoint="GET /eap/catalogs/", cost=cost, retry=retry
        )
        return CatalogCollection.model_validate(self._json(response, "GET /eap/catalogs/"))

    async def catalog(self) -> str:
        """The account's catalog: the configured one, else the one whose subscription is ``scheduled``."""
        if self._catalog is None:
            found = await self.catalogs()
            scheduled = [c.identifier for c in found.contains if c.subscriptionType == "scheduled"]
            if not scheduled:
                raise ConfigurationError(
                    "Bloomberg lists no catalog with subscriptionType 'scheduled' for these credentials; set "
                    f"systems.{self.context.system_id}.connection.catalog to the Data License account number",
                    path=f"systems.{self.context.system_id}.connection.catalog",
                    system=self.context.system_id,
                )
            self._catalog = scheduled[0]
        return self._catalog

    # -- the request flow ------------------------------------------------------------------------

    async def run(self, document: DataRequest) -> list[Row]:
        """Submit ``document``, wait for its output and return its rows."""
        catalog = await self.catalog()
        await self.submit(catalog, document)
        output = await self.wait_for_output(catalog, document)
        return await self.download(catalog, output, what=f"{document.type_} {document.identifier}")

    async def submit(self, catalog: str, document: DataRequest) -> None:
        """``POST /eap/catalogs/{catalog}/requests/``.

        The request's own ``identifier`` is its idempotency key: a POST whose answer was lost is retried,
        and a 409 for an identifier that exists with this request's name means the first attempt landed.
        """
        endpoint = "POST /eap/catalogs/{catalog}/requests/"
        try:
            await self._api.post(
                f"/eap/catalogs/{catalog}/requests/", json=document.body(), endpoint=endpoint,
                idempotency_key=document.identifier,
            )  # fmt: skip
        except VenueRejected as exc:
            if exc.status_code != 409 or not await self._is_ours(catalog, document):
                raise

    async def _is_ours(self, catalog: str, document: DataRequest) -> bool:
        response = await self._api.get(
            f"/eap/catalogs/{catalog}/requests/{document.identifier}/",
            endpoint="GET /eap/catalogs/{catalog}/requests/{identifier}/",
        )
        body = self._json(response, "GET /eap/catalogs/{catalog}/requests/{identifier}/")
        return isinstance(body, dict) and body.get("name") == document.name

    async def wait_for_output(self, catalog: str, document: DataRequest) -> ContentResponse:
        """Poll the content listing (``prefix`` = the request's name, ``requestIdentifier``) every
        ``poll_interval`` seconds until the output is listed.

        Raises:
            ReadTimeout: nothing was listed within ``reply_timeout``; the output may still appear later
                (the error names the request identifier to look it up by).
        """
        clock = self.context.clock
        deadline = clock.now() + timedelta(seconds=self.settings.reply_timeout)
        params = {"prefix": document.name, "requestIdentifier": document.identifier}
        endpoint = "GET /eap/catalogs/{catalog}/content/responses/"
        while True:
            response = await self._api.get(
                f"/eap/catalogs/{catalog}/content/responses/", params=params, endpoint=endpoint
            )
            listing = self._model(ContentResponseCollection, response, endpoint)
            mine = [c for c in listing.contains if c.requestIdentifier in (None, document.identifier)]
            if mine:
                return mine[0]
            remaining = (deadline - clock.now()).total_seconds()
            if remaining <= 0:
                raise ReadTimeout(
                    f"Bloomberg produced no output for {document.type_} {document.identifier!r} within "
                    f"{self.settings.reply_timeout:g}s (connection.reply_timeout); it may still be published",
                    system=self.context.system_id,
                    request=endpoint,
                    venue_code=document.identifier,
                )
            await clock.sleep(min(self.settings.poll_interval, remaining))

    async def download(self, catalog: str, output: ContentResponse, *, what: str) -> list[Row]:
        """``GET /eap/catalogs/{catalog}/content/responses/{key}`` (gzip on the wire) as rows."""
        response = await self._api.get(
            f"/eap/catalogs/{catalog}/content/responses/{output.key}",
            endpoint="GET /eap/catalogs/{catalog}/content/responses/{key}",
            headers={"Accept": "application/json, text/csv, */*"},
        )
        kind = response.headers.get("content-type", output.contentType or "")
        return parse_output(response.content, kind, what=what)

    def _model(self, model: type[ModelT], response: httpx.Response, endpoint: str) -> ModelT:
        try:
            return model.model_validate(self._json(response, endpoint))
        except ValidationError as exc:
            where = ".".join(str(p) for p in exc.errors()[0]["loc"]) or "body"
            raise PayloadRejected(
                f"Bloomberg answered {endpoint} with an unexpected document ({where}: {exc.errors()[0]['msg']})",
                system=self.context.system_id,
                request=endpoint,
            ) from None

    def _json(self, response: httpx.Response, endpoint: str) -> Mapping[str, Any] | Any:
        try:
            return response.json()
        except ValueError:
            snippet = response.text[:60].replace("\n", " ")
            raise PayloadRejected(
                f"Bloomberg answered {endpoint} with a body that is not JSON ({snippet!r})",
                system=self.context.system_id,
                request=endpoint,
            ) from None
