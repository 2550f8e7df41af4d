"""Building httpx ``Headers`` and ``Response`` objects without their general-purpose constructors.

httpx's constructors accept every input form and normalise each header one call at a time; on a small
API call that costs as much as aiohttp's whole request. The API client always has the same input forms
(text pairs for requests, aiohttp's raw byte pairs for responses), so it can set the resulting state
directly. That state is private to httpx, so :data:`ASSEMBLY_OK` is computed at import by building
sample objects both ways and comparing them attribute by attribute; if a future httpx stores them
differently, every caller falls back to the public constructors.
"""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["ASSEMBLY_OK", "HeaderTriple", "assemble_headers", "assemble_response", "header_triple", "headers_from_triples"]

HeaderTriple = tuple[bytes, bytes, bytes]
"""One header as httpx stores it: the name as given, the name lower-cased, the value."""

_new = object.__new__


def header_triple(name: str, value: str) -> HeaderTriple:
    """One ASCII text header as httpx stores it (non-ASCII raises, as httpx does)."""
    return (name.encode("ascii"), name.lower().encode("ascii"), value.encode("ascii"))


def headers_from_triples(triples: list[HeaderTriple]) -> httpx.Headers:
    """``httpx.Headers`` holding ``triples`` (the list is used as is)."""
    headers = _new(httpx.Headers)
    headers._list = triples
    headers._encoding = None
    return headers


def assemble_headers(pairs: list[tuple[str, str]]) -> httpx.Headers:
    """``httpx.Headers(pairs)`` for ASCII text pairs."""
    return headers_from_triples([header_triple(name, value) for name, value in pairs])


def assemble_response(
    status: int,
    raw_headers: Any,
    body: bytes,
    extensions: dict[str, Any],
    request: httpx.Request,
) -> httpx.Response:
    """A read, closed ``httpx.Response`` with an identity-encoded ``body``.

    Equal to ``httpx.Response(status, headers=raw_headers, stream=httpx.ByteStream(body), ...)``
    followed by ``.read()``.
    """
    headers = _new(httpx.Headers)
    headers._list = [(name, name.lower(), value) for name, value in raw_headers]
    headers._encoding = None
    response = _new(httpx.Response)
    response.status_code = status
    response.headers = headers
    response._request = request
    response.next_request = None
    response.extensions = extensions
    response.history = []
    response.is_closed = True
    response.is_stream_consumed = True
    response.default_encoding = "utf-8"
    response.stream = httpx.ByteStream(body)
    response._num_bytes_downloaded = len(body)
    response._content = body
    return response


def _verify() -> bool:
    try:
        pairs = [("Host", "example.test:8443"), ("Accept", "application/json"), ("X-Correlation-ID", "c1")]
        ours_h, theirs_h = assemble_headers(pairs), httpx.Headers(pairs)
        if vars(ours_h) != vars(theirs_h):
            return False
        request = httpx.Request("GET", "https://example.test/")
        raw = [(b"Content-Type", b"application/json; charset=utf-8"), (b"Set-Cookie", b"a=1"), (b"Set-Cookie", b"b=2")]
        body = b'{"ok": true}'
        theirs = httpx.Response(200, headers=raw, stream=httpx.ByteStream(body), request=request, extensions={"k": 1})
        theirs.read()
        ours = assemble_response(200, raw, body, {"k": 1}, request)
        ours_vars, theirs_vars = dict(vars(ours)), dict(vars(theirs))
        theirs_vars.pop("_decoder", None)  # created by read(); rebuilt on demand when needed
        if set(ours_vars) != set(theirs_vars):
            return False
        for name in ours_vars:
            if name in ("headers", "stream"):
                continue
            if ours_vars[name] != theirs_vars[name]:
                return False
        return (
            ours.headers._list == theirs.headers._list
            and ours.headers.get_list("set-cookie") == theirs.headers.get_list("set-cookie")
            and ours.json() == theirs.json()
            and ours.text == theirs.text
            and ours.encoding == theirs.encoding
            and list(ours.iter_bytes()) == list(theirs.iter_bytes())
        )
    except Exception:
        return False


ASSEMBLY_OK: bool = _verify()
"""Whether this httpx version stores headers and responses the way the assemblers do."""
