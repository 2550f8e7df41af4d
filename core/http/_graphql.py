"""A GraphQL client on top of :class:`~portico.http.ApiClient`, with the same policies."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

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
from portico.http._client import ApiClient

__all__ = ["GraphQLClient", "GraphQLErrorMapper", "GraphQLResult", "graphql_error"]

_CODE_ERRORS: dict[str, type[PorticoError]] = {
    "UNAUTHENTICATED": AuthError,
    "UNAUTHORIZED": AuthError,
    "FORBIDDEN": AuthError,
    "NOT_FOUND": NotFound,
    "BAD_USER_INPUT": PayloadRejected,
    "BAD_REQUEST": PayloadRejected,
    "GRAPHQL_PARSE_FAILED": PayloadRejected,
    "GRAPHQL_VALIDATION_FAILED": PayloadRejected,
    "VALIDATION_ERROR": PayloadRejected,
    "RATE_LIMITED": RateLimited,
    "THROTTLED": RateLimited,
    "TOO_MANY_REQUESTS": RateLimited,
    "INTERNAL_SERVER_ERROR": ServerError,
    "SERVICE_UNAVAILABLE": ServerError,
}

_COMMENT = re.compile(r"#[^\n]*")
_FIRST_OPERATION = re.compile(r"^\s*(query|mutation|subscription)?\b\s*(\w+)?")


@dataclass(frozen=True, slots=True)
class GraphQLResult:
    """The answer of one GraphQL operation.

    Attributes:
        data: the ``data`` member (possibly partial when ``errors`` is not empty; ``None`` when absent).
        errors: the ``errors`` array as the server sent it (each with ``message``, ``path``, ``extensions``).
        extensions: the top-level ``extensions`` member, if any.
    """

    data: dict[str, Any] | None
    errors: tuple[dict[str, Any], ...] = ()
    extensions: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when the server reported no errors."""
        return not self.errors


GraphQLErrorMapper = Callable[[GraphQLResult], "PorticoError | None"]
"""A connector's reading of a result with errors; ``None`` falls back to :func:`graphql_error`."""


def graphql_error(result: GraphQLResult) -> PorticoError:
    """The typed error for a result whose ``errors`` array is not empty.

    The first error's ``extensions.code`` picks the class (``UNAUTHENTICATED`` -> ``AuthError``,
    ``NOT_FOUND`` -> ``NotFound``, ``BAD_USER_INPUT``/validation -> ``PayloadRejected``, ``RATE_LIMITED`` ->
    ``RateLimited``, ``INTERNAL_SERVER_ERROR`` -> ``ServerError``, anything else ``VenueRejected``). The error's
    ``detail`` is the whole :class:`GraphQLResult`, so partial data stays reachable.
    """
    first: dict[str, Any] = result.errors[0] if result.errors else {}
    raw_extensions = first.get("extensions")
    extensions: dict[str, Any] = raw_extensions if isinstance(raw_extensions, dict) else {}
    raw_code = extensions.get("code")
    code = raw_code if isinstance(raw_code, str) else None
    message = str(first.get("message") or "GraphQL error")
    path = first.get("path")
    text = f"GraphQL: {message}"
    if isinstance(path, list) and path:
        text += f" at {'.'.join(str(p) for p in path)}"
    if len(result.errors) > 1:
        text += f" (and {len(result.errors) - 1} more)"
    cls = _CODE_ERRORS.get((code or "").upper(), VenueRejected)
    if cls is RateLimited:
        retry_after = extensions.get("retryAfter", extensions.get("retry_after"))
        return RateLimited(
            text,
            retry_after=float(retry_after) if isinstance(retry_after, int | float) else None,
            venue_code=code,
            detail=result,
        )
    return cls(text, venue_code=code, detail=result)


def _operation_kind(query: str, operation_name: str | None) -> str:
    text = _COMMENT.sub("", query)
    if operation_name:
        found = re.search(rf"\b(query|mutation|subscription)\s+{re.escape(operation_name)}\b", text)
        if found:
            return found.group(1)
    match = _FIRST_OPERATION.match(text)
    return (match.group(1) if match else None) or "query"


class GraphQLClient:
    """Runs GraphQL operations over an :class:`ApiClient` (its retries, limiter, breaker and observers).

    Queries are safe to repeat and are retried like GETs; mutations follow the POST rule (retried only
    with an ``idempotency_key``, ``OutcomeUnknown`` when the answer is lost).

    Args:
        api: the API client to send through.
        path: the GraphQL endpoint's path.
        error_mapper: the connector's reading of results with errors.
    """

    def __init__(self, api: ApiClient, path: str = "/graphql", *, error_mapper: GraphQLErrorMapper | None = None) -> None:
        self.api = api
        self.path = path
        self._error_mapper = error_mapper

    def __repr__(self) -> str:
        return f"GraphQLClient(system={self.api.system!r}, path={self.path!r})"

    async def execute(
        self,
        query: str,
        variables: Mapping[str, Any] | None = None,
        *,
        operation_name: str | None = None,
        idempotency_key: str | None = None,
        allow_partial: bool = False,
        headers: Mapping[str, str] | None = None,
    ) -> GraphQLResult:
        """Run one operation.

        Args:
            query: the GraphQL document.
            variables: its variables.
            operation_name: which operation of the document to run.
            idempotency_key: makes a mutation retryable.
            allow_partial: return a result that has both data and errors instead of raising.
            headers: extra headers.

        Raises:
            PorticoError: the typed error for the ``errors`` array (see :func:`graphql_error`), or the
                transport/HTTP error of the call.
        """
        kind = _operation_kind(query, operation_name)
        endpoint = f"GRAPHQL {kind} {operation_name or 'anonymous'}"
        payload: dict[str, Any] = {"query": query}
        if variables is not None:
            payload["variables"] = dict(variables)
        if operation_name is not None:
            payload["operationName"] = operation_name
        try:
            response = await self.api.request(
                "POST",
                self.path,
                json=payload,
                endpoint=endpoint,
                idempotency_key=idempotency_key,
                retry=True if kind == "query" else None,
                headers=headers,
            )
        except PorticoError as exc:
            # Many servers answer validation errors with 400 and a GraphQL errors body: keep them typed.
            body = exc.detail
            if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
                result = self._result(body)
                with error_context(system=self.api.system, request=endpoint, correlation_id=exc.correlation_id):
                    error = self._map(result)
                    error.status_code = exc.status_code
                    raise error from exc
            raise
        try:
            body = response.json()
        except ValueError:
            with error_context(system=self.api.system, request=endpoint):
                raise PayloadRejected("the GraphQL answer is not JSON", status_code=response.status_code) from None
        if not isinstance(body, dict):
            with error_context(system=self.api.system, request=endpoint):
                raise PayloadRejected("the GraphQL answer is not a JSON object", status_code=response.status_code)
        result = self._result(body)
        if result.errors and not (allow_partial and result.data):
            with error_context(system=self.api.system, request=endpoint):
                raise self._map(result)
        return result

    async def query(self, query: str, variables: Mapping[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
        """Run an operation and return its ``data`` (raising on any error)."""
        result = await self.execute(query, variables, **kwargs)
        return result.data or {}

    def _map(self, result: GraphQLResult) -> PorticoError:
        error = self._error_mapper(result) if self._error_mapper is not None else None
        return error if error is not None else graphql_error(result)

    @staticmethod
    def _result(body: dict[str, Any]) -> GraphQLResult:
        errors = body.get("errors") or ()
        data = body.get("data")
        extensions = body.get("extensions")
        return GraphQLResult(
            data=data if isinstance(data, dict) else None,
            errors=tuple(e if isinstance(e, dict) else {"message": str(e)} for e in errors),
            extensions=extensions if isinstance(extensions, dict) else {},
        )
