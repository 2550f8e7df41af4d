"""E*TRADE's two wire formats: JSON when the path ends in ``.json`` (or the client sends or asks for
JSON), XML otherwise; the ``Error`` body; the HTML pages E*TRADE answers OAuth refusals and rate
limiting with."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any
from xml.etree.ElementTree import Element, SubElement, tostring

import defusedxml.ElementTree as SafeXML
from starlette.requests import Request
from starlette.responses import Response

__all__ = [
    "BadRequest",
    "as_list",
    "error_response",
    "oauth_problem_page",
    "parse_body",
    "rate_limit_page",
    "render",
    "wants_json",
]


class BadRequest(Exception):
    """A request E*TRADE refuses with an ``Error`` body (400 unless ``status`` says otherwise)."""

    def __init__(self, code: int, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def wants_json(request: Request) -> bool:
    """Whether to answer JSON: a ``.json`` path, a JSON body, or ``Accept: application/json``."""
    if request.url.path.endswith(".json"):
        return True
    if request.headers.get("content-type", "").startswith("application/json"):
        return True
    return "application/json" in request.headers.get("accept", "")


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Decimal):
        return format(value, "f")
    return str(value)


def _fill(parent: Element, key: str, value: Any) -> None:
    if value is None:
        return
    if isinstance(value, list):
        for item in value:
            _fill(parent, key, item)
        return
    child = SubElement(parent, key)
    if isinstance(value, dict):
        for k, v in value.items():
            _fill(child, k, v)
    else:
        child.text = _text(value)


def _json_safe(value: Any) -> Any:
    if isinstance(value, Decimal):
        # E*TRADE's JSON carries numbers, not strings
        return float(value) if value != value.to_integral_value() else int(value)
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_json_safe(v) for v in value]
    return value


def render(data: dict[str, Any], as_json: bool, status: int = 200) -> Response:
    """``{"Envelope": {...}}`` as E*TRADE's JSON or XML (lists become repeated elements)."""
    if as_json:
        body = json.dumps(_json_safe(data), separators=(",", ":")).encode()
        return Response(body, status_code=status, media_type="application/json")
    ((root_name, content),) = data.items()
    root = Element(root_name)
    for key, value in (content or {}).items():
        _fill(root, key, value)
    xml = b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>' + tostring(root, encoding="utf-8")
    return Response(xml, status_code=status, media_type="application/xml")


def error_response(code: int, message: str, as_json: bool, status: int = 400) -> Response:
    """E*TRADE's ``Error`` body: ``{"Error": {"code": 100, "message": "..."}}`` or its XML."""
    return render({"Error": {"code": code, "message": message}}, as_json, status)


def _element(node: Element) -> Any:
    children = list(node)
    if not children:
        return (node.text or "").strip()
    out: dict[str, Any] = {}
    for child in children:
        value = _element(child)
        if child.tag in out:
            existing = out[child.tag]
            out[child.tag] = [*existing, value] if isinstance(existing, list) else [existing, value]
        else:
            out[child.tag] = value
    return out


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    """A JSON or XML request body as a dict (XML through defusedxml: no entities, no DTDs).

    Raises:
        BadRequest: the body is empty or not well formed.
    """
    if not body.strip():
        raise BadRequest(101, "The request body is missing")
    if "json" in content_type:
        try:
            data = json.loads(body)
        except ValueError:
            raise BadRequest(101, "The request body is not valid JSON") from None
        if not isinstance(data, dict):
            raise BadRequest(101, "The request body must be an object")
        return data
    try:
        root = SafeXML.fromstring(body)
    except Exception:
        # defusedxml raises its own errors for entities and DTDs, ParseError for the rest
        raise BadRequest(101, "The request body is not well-formed XML") from None
    return {root.tag: _element(root)}


def as_list(value: Any) -> list[Any]:
    """One element or many (XML gives a dict for one, a list for several; JSON a list)."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


_PAGE = """<!doctype html><html lang="en"><head><title>HTTP Status {status} – {title}</title></head>
<body><h1>HTTP Status {status} – {title}</h1><hr class="line" /><p><b>Type</b> Status Report</p>
<p><b>Message</b> {message}</p><p><b>Description</b> {description}</p><hr class="line" />
<h3>Apache Tomcat</h3></body></html>"""


def oauth_problem_page(problem: str, status: int = 401) -> Response:
    """The Tomcat page E*TRADE answers a refused OAuth request with (``oauth_problem=token_rejected``)."""
    title = "Unauthorized" if status == 401 else "Bad Request"
    body = _PAGE.format(
        status=status,
        title=title,
        message=f"oauth_problem={problem}",
        description="The request has not been applied because it lacks valid authentication credentials.",
    )
    return Response(body, status_code=status, media_type="text/html")


def rate_limit_page() -> Response:
    """E*TRADE's answer past the rate limit: HTTP 400 with an HTML page, no Retry-After."""
    body = _PAGE.format(
        status=400,
        title="Bad Request",
        message="Number of requests exceeded the rate limit set",
        description="The server cannot or will not process the request.",
    )
    return Response(body, status_code=400, media_type="text/html")
