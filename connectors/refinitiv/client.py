"""HTTP calls to the LSEG Data Platform through portico's shared :class:`~portico.http.ApiClient`, and the
reading of its errors.

Two kinds of error come back:

* **Gateway errors** (non-2xx) in LSEG's envelope ``{"error": {"id", "code", "message", "status",
  "errors"}}``: 401 (a token expired or was revoked; the auth flow refreshes once and retries), 403, 429
  (the 5-a-second guideline; retried with backoff by the shared client), 400, 5xx.
  :func:`error_for_response` names the typed error.
* **In-body errors** at HTTP 200: a historical pricing answer whose ``status.code`` is
  ``TS.Interday.UserNotPermission.70112`` (no permission: :class:`~portico.errors.AuthError`),
  ``TS.Intraday.UserRequestError.90001`` (unknown RIC: :class:`~portico.errors.NotFound`) or another
  ``UserRequestError`` (:class:`~portico.errors.VenueRejected`); a datagrid answer with ``error`` (218:
  unknown fields, 412: unknown instruments). :func:`error_for_status` names those.

Errors name the endpoint template (``GET /data/historical-pricing/v1/views/interday-summaries/{ric}``) and the
RIC, never a token.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

import httpx
from pydantic import SecretStr, ValidationError

from portico.auth import AuthContext, ClientCredentialsAuth
from portico.connectors.refinitiv.auth import SCHEME, RefinitivPasswordAuth
from portico.connectors.refinitiv.wire import WireDatagrid, WireSnapshotMessage, WireSummaries
from portico.errors import (
    AuthError,
    NotFound,
    PayloadRejected,
    PorticoError,
    RateLimited,
    ServerError,
    VenueRejected,
    error_context,
)
from portico.sdk import resolve_url_templates

if TYPE_CHECKING:
    from portico.sdk import ConnectorContext

__all__ = ["HP_VIEWS", "RefinitivClient", "error_for_response", "error_for_status"]

HP_VIEWS = "/data/historical-pricing/v1/views"
_SNAPSHOTS = "/data/pricing/snapshots/v1/"
_DATAGRID = "/data/datagrid/beta1/"
_SEARCH = "/discovery/search/v1/"
_NO_PERMISSION = re.compile(r"TS[A-Z]*\.(Interday|Intraday|QS)\.UserNotPermission\.\d{5}")
_NOT_FOUND = {"TS.Interday.UserRequestError.70005", "TS.Intraday.UserRequestError.90001"}


def error_for_status(code: str, message: str, *, ric: str) -> PorticoError:
    """The typed error of a historical pricing answer's in-body ``status``."""
    text = f"LSEG refused {ric}: {message or code} ({code})"
    if _NO_PERMISSION.match(code):
        return AuthError(
            f"the LSEG account has no permission for {ric}: {message or code} ({code})", venue_code=code
        )
    if code in _NOT_FOUND or "not found" in message.lower():
        return NotFound(f"LSEG does not know the RIC {ric}: {message or code} ({code})", venue_code=code)
    if "ServiceError" in code or "Timeout" in code:
        return ServerError(text, venue_code=code)
    return VenueRejected(text, venue_code=code)


def _envelope(response: httpx.Response) -> tuple[str, str | None, list[Any]]:
    try:
        body = response.json()
    except ValueError:
        return "", None, []
    if not isinstance(body, dict):
        return "", None, []
    error = body.get("error")
    if isinstance(error, dict):
        errors = error.get("errors") if isinstance(error.get("errors"), list) else []
        code = error.get("code")
        return str(error.get("message") or ""), str(code) if code is not None else None, errors or []
    if isinstance(error, str):
        return str(body.get("error_description") or error), error, []
    return "", None, []


def error_for_response(response: httpx.Response) -> PorticoError | None:
    """The typed error of a non-2xx answer in LSEG's gateway envelope (None: the default map)."""
    status = response.status_code
    message, code, errors = _envelope(response)
    reasons = "; ".join(f"{e.get('key')}: {e.get('reason')}" for e in errors if isinstance(e, dict))
    text = (message or f"HTTP {status}") + (f" ({reasons})" if reasons else "")
    if status == 401:
        return AuthError(f"LSEG refused the access token: {text}", status_code=status, venue_code=code)
    if status == 403:
        return AuthError(f"the LSEG account lacks permission: {text}", status_code=status, venue_code=code)
    if status == 429:
        retry = response.headers.get("retry-after")
        try:
            seconds = float(retry) if retry else 1.0
        except ValueError:
            seconds = 1.0
        return RateLimited(
            f"LSEG throttled the call: {text}", retry_after=seconds, status_code=status, venue_code=code
        )
    if status == 404:
        return NotFound(f"LSEG: {text}", status_code=status, venue_code=code)
    if status >= 500:
        return ServerError(f"LSEG failed: {text}", status_code=status, venue_code=code)
    if 400 <= status < 500:
        return VenueRejected(f"LSEG rejected the call: {text}", status_code=status, venue_code=code)
    return None


def _default_auth(context: ConnectorContext) -> httpx.Auth | None:
    """The auth a bare context (tests, scripts) gets when the runtime built none, from its credentials."""
    credentials = dict(context.credentials)
    urls = {"base": context.url("base")}
    auth_context = AuthContext(system_id=context.system_id, scheme=SCHEME, clock=context.clock)
    for scheme in context.spec.auth:
        options = resolve_url_templates(dict(scheme.options), urls)
        if scheme.scheme == SCHEME and "password" in credentials:
            return RefinitivPasswordAuth(auth_context, credentials, options)
        if scheme.scheme == "oauth2_client_credentials" and "client_secret" in credentials:
            auth_context.scheme = scheme.scheme
            secret = {k: v if isinstance(v, SecretStr) else SecretStr(v) for k, v in credentials.items()}
            return ClientCredentialsAuth(auth_context, secret, options)
    return None


class RefinitivClient:
    """Historical pricing, pricing snapshots and datagrid calls with the system's shared policies.

    Args:
        context: the connector's context (its ``base`` URL is the platform root, ``https://api.refinitiv.com``).
    """

    def __init__(self, context: ConnectorContext) -> None:
        self.context = context
        self.auth = context.auth if context.auth is not None else _default_auth(context)
        self._api = context.api_client("base", auth=self.auth, error_mapper=error_for_response)

    @property
    def api(self) -> Any:
        """The underlying API client."""
        return self._api

    def _json(self, response: httpx.Response, request: str) -> Any:
        try:
            return response.json()
        except ValueError:
            snippet = response.text[:60].replace("\n", " ")
            raise PayloadRejected(
                f"LSEG answered with a body that is not JSON ({snippet!r})",
                system=self.context.system_id,
                request=request,
            ) from None

    async def summaries(self, view: str, ric: str, params: dict[str, str]) -> WireSummaries:
        """One historical pricing call (``interday-summaries``, ``intraday-summaries`` or ``events``) for one RIC.

        Raises:
            AuthError: no permission for the RIC, or the token was refused.
            NotFound: the RIC is unknown.
            VenueRejected: another refusal (a parameter the view does not take).
            PayloadRejected: the answer is not the documented list.
        """
        endpoint = f"GET {HP_VIEWS}/{view}/{{ric}}"
        response = await self._api.get(
            f"{HP_VIEWS}/{view}/{quote(ric, safe='=.')}", params=params, endpoint=endpoint
        )
        body = self._json(response, endpoint)
        if not isinstance(body, list) or not body or not isinstance(body[0], dict):
            raise PayloadRejected(
                f"LSEG answered {view} for {ric} with {type(body).__name__}, not a list of one answer",
                system=self.context.system_id,
                request=endpoint,
            )
        try:
            answer = WireSummaries.model_validate(body[0])
        except ValidationError as exc:
            raise PayloadRejected(
                f"LSEG's {view} answer for {ric} does not have the documented shape: {exc.errors()[0]['msg']}",
                system=self.context.system_id,
                request=endpoint,
            ) from None
        if answer.status is not None and answer.status.code and not answer.data:
            with error_context(system=self.context.system_id, request=endpoint):
                raise error_for_status(answer.status.code, answer.status.message, ric=ric)
        return answer

    async def snapshots(self, rics: Sequence[str], fields: Sequence[str] = ()) -> list[WireSnapshotMessage]:
        """One pricing-snapshots call: a message per RIC, in the order asked."""
        endpoint = f"GET {_SNAPSHOTS}"
        params = {"universe": ",".join(rics)}
        if fields:
            params["fields"] = ",".join(fields)
        response = await self._api.get(_SNAPSHOTS, params=params, endpoint=endpoint)
        body = self._json(response, endpoint)
        if not isinstance(body, list):
            raise PayloadRejected(
                f"LSEG answered pricing snapshots with {type(body).__name__}, not a list",
                system=self.context.system_id,
                request=endpoint,
            )
        try:
            return [WireSnapshotMessage.model_validate(item) for item in body]
        except ValidationError as exc:
            raise PayloadRejected(
                f"a pricing snapshot message does not have the documented shape: {exc.errors()[0]['msg']}",
                system=self.context.system_id,
                request=endpoint,
            ) from None

    async def datagrid(
        self, universe: Sequence[str], fields: Sequence[str], parameters: dict[str, Any] | None = None
    ) -> WireDatagrid:
        """One datagrid call (fundamental and reference TR fields).

        Raises:
            PayloadRejected: none of the fields is known (code 218).
            NotFound: none of the instruments is known (code 412).
            VenueRejected: another in-body error.
        """
        endpoint = f"POST {_DATAGRID}"
        payload: dict[str, Any] = {"universe": list(universe), "fields": list(fields)}
        if parameters:
            payload["parameters"] = parameters
        # a datagrid POST only reads, so it is as safe to retry as a GET
        response = await self._api.post(_DATAGRID, json=payload, endpoint=endpoint, retry=True)
        body = self._json(response, endpoint)
        try:
            grid = WireDatagrid.model_validate(body)
        except ValidationError as exc:
            raise PayloadRejected(
                f"LSEG's datagrid answer does not have the documented shape: {exc.errors()[0]['msg']}",
                system=self.context.system_id,
                request=endpoint,
            ) from None
        if grid.error and not grid.data:
            code = str(grid.error.get("code", ""))
            message = str(grid.error.get("description") or grid.error.get("message") or code)
            with error_context(system=self.context.system_id, request=endpoint):
                if code == "218":
                    raise PayloadRejected(
                        f"LSEG knows none of the fields {list(fields)}: {message}",
                        field="fields",
                        venue_code=code,
                    )
                if code == "412":
                    raise NotFound(
                        f"LSEG knows none of the instruments {list(universe)}: {message}", venue_code=code
                    )
                raise VenueRejected(f"LSEG's datagrid refused the request: {message}", venue_code=code)
        return grid

    async def search(self, query: str, *, view: str, top: int, select: Sequence[str]) -> list[dict[str, Any]]:
        """One discovery search: the hits' selected properties, best match first."""
        endpoint = f"POST {_SEARCH}"
        payload = {"Query": query, "View": view, "Top": top, "Select": ",".join(select)}
        response = await self._api.post(_SEARCH, json=payload, endpoint=endpoint, retry=True)  # a read
        body = self._json(response, endpoint)
        hits = body.get("Hits") if isinstance(body, dict) else None
        if not isinstance(hits, list) or not all(isinstance(h, dict) for h in hits):
            raise PayloadRejected(
                "LSEG's search answer has no list of Hits", system=self.context.system_id, request=endpoint
            )
        return hits

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self._api.aclose()
