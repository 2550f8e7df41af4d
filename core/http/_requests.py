"""Building ``httpx.Request`` objects for the API client, cheaply.

``httpx.Request(...)`` re-normalises every header twice and re-derives ``Host`` and the content headers
on each call, which costs more than the rest of the client's bookkeeping together. The client sends
the same few headers over and over, so :class:`RequestFactory` keeps them normalised per host and
builds requests through httpx's public ``stream=`` form, supplying the headers httpx would have added.
At construction it checks its output against ``httpx.Request``'s own for a sample of requests, and
falls back to the plain constructor if they ever differ (a future httpx changing its defaults).
"""

from __future__ import annotations

import json as jsonlib
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

import httpx

from portico.http._assembly import ASSEMBLY_OK, HeaderTriple, header_triple, headers_from_triples

__all__ = ["CORRELATION_HEADER", "RequestFactory", "Wire"]

CORRELATION_HEADER = "X-Correlation-ID"
"""The header that carries the operation's correlation id."""
_CORRELATION_NAME = CORRELATION_HEADER.encode("ascii")
_CORRELATION_TEXT = CORRELATION_HEADER.lower()
_CORRELATION_LOWER = _CORRELATION_TEXT.encode("ascii")

Wire = tuple[str, list[tuple[str, str]]]
"""A request's URL and headers as text, as the factory built them."""

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class RequestFactory:
    """Builds requests carrying ``base_headers``; equivalent to ``httpx.Request`` for what it handles.

    Args:
        base_headers: headers every request carries.
    """

    def __init__(self, base_headers: httpx.Headers) -> None:
        self._base = base_headers
        self._per_host: dict[bytes, tuple[list[tuple[str, str]], list[HeaderTriple]]] = {}
        self._base_names = {name.lower() for name in base_headers}
        self._correlation_in_base = _CORRELATION_TEXT in self._base_names
        # Both shortcuts are proven equal to httpx's own construction before they are used.
        self.fast, self.assemble = True, False
        self.fast = self._agrees_with_httpx()
        if self.fast:
            self.assemble = True
            self.assemble = ASSEMBLY_OK and _same_attributes() and self._agrees_with_httpx()

    def build(
        self,
        method: str,
        url: httpx.URL,
        *,
        extra: dict[str, str] | None,
        params: Any,
        json: Any,
        content: Any,
        data: Any,
        extensions: dict[str, Any],
        url_text: str | None = None,
        correlation_id: str | None = None,
        netloc: bytes | None = None,
    ) -> tuple[httpx.Request, Wire | None]:
        """A request for ``method`` and ``url`` with the base headers plus ``extra``.

        Also returns the request's URL and headers as text when it built them itself (``None``
        otherwise), so a transport can send an unmodified request without decoding them again.
        ``url_text`` is ``str(url)`` when the caller already has it. ``correlation_id`` is sent as
        ``X-Correlation-ID`` (before ``extra``, which may override it). ``netloc`` is ``url.netloc``
        when the caller already has it (ignored when ``params`` change the URL).
        """
        if correlation_id is not None and (extra or self._correlation_in_base):
            # The general path merges and de-duplicates names; the shortcut below only appends.
            # A per-call correlation header (in any letter case) is the caller's choice and wins.
            if not extra or _CORRELATION_TEXT not in _lower(extra):
                extra = {CORRELATION_HEADER: correlation_id, **(extra or {})}
            correlation_id = None
        if not self.fast or content is not None or data is not None or (extra and "content-type" in _lower(extra)):
            headers = self._base.copy()
            if correlation_id is not None:
                headers[CORRELATION_HEADER] = correlation_id
            if json is not None and content is None and data is None:
                # encoded here, not by httpx: its compact or spaced separators depend on its version
                content = encode_json(json)
                headers["Content-Type"] = "application/json"
                json = None
            if extra:
                headers.update(extra)
            request = httpx.Request(
                method, url, params=params, json=json, content=content, data=data, headers=headers, extensions=extensions
            )
            return request, None
        if params is not None:
            # what httpx.Request does: params replace the query (the host is unchanged)
            url, url_text = with_params(url, params, url_text)
        if netloc is None:
            netloc = url.netloc
        cached = self._per_host.get(netloc)
        if cached is None:
            host_pairs = [("Host", netloc.decode("ascii"))]
            host_pairs += [(k.decode("latin-1"), v.decode("latin-1")) for k, v in self._base.raw]
            cached = (host_pairs, [header_triple(k, v) for k, v in host_pairs])
            if len(self._per_host) > 64:
                self._per_host.clear()
            self._per_host[netloc] = cached
        pairs, triples = cached
        if extra:
            names = {name.lower() for name in extra}
            if names & self._base_names:
                pairs = [pair for pair in pairs if pair[0].lower() not in names]
                triples = [triple for triple in triples if triple[1].decode("ascii") not in names]
            pairs = [*pairs, *extra.items()]
            triples = [*triples, *(header_triple(k, v) for k, v in extra.items())]
        elif correlation_id is not None:
            # The common case (one header, no per-call extras): no dict, set or generator per call.
            pairs = [*pairs, (CORRELATION_HEADER, correlation_id)]
            triples = [*triples, (_CORRELATION_NAME, _CORRELATION_LOWER, correlation_id.encode("ascii"))]
        else:
            pairs = list(pairs)
            triples = list(triples)
        if json is not None:
            body = encode_json(json)
            length = str(len(body))
            pairs.append(("Content-Length", length))
            pairs.append(("Content-Type", "application/json"))
            triples.append((b"Content-Length", b"content-length", length.encode()))
            triples.append((b"Content-Type", b"content-type", b"application/json"))
        else:
            body = b""
            if method in _BODY_METHODS:
                pairs.append(("Content-Length", "0"))
                triples.append((b"Content-Length", b"content-length", b"0"))
        if self.assemble:
            # The attributes httpx.Request.__init__ would set, set once (checked against it at startup).
            request = _new_request(httpx.Request)
            request.method = method
            request.url = url
            request.headers = headers_from_triples(triples)
            request.extensions = extensions
            request.stream = httpx.ByteStream(body)
            request._content = body
            return request, (url_text or str(url), pairs)
        # httpx.Request normalises a list once; a Headers object would be normalised, then copied.
        request = httpx.Request(method, url, headers=pairs, stream=httpx.ByteStream(body), extensions=extensions)
        request.read()
        return request, (url_text or str(url), pairs)

    def _agrees_with_httpx(self) -> bool:
        url = httpx.URL("https://example.test:8443/v2/orders?x=1")
        samples: list[dict[str, Any]] = [
            {"method": "GET", "params": None, "json": None},
            {"method": "GET", "params": {"symbols": "AAPL,MSFT", "limit": 5}, "json": None},
            {"method": "POST", "params": None, "json": {"symbol": "AAPL", "qty": "1.5", "note": "é"}},
            {"method": "DELETE", "params": None, "json": None},
            {"method": "PATCH", "params": None, "json": None},
        ]
        # The correlation id arrives either on its own (the usual call) or among per-call headers.
        variants: list[tuple[dict[str, str] | None, str | None]] = [
            ({CORRELATION_HEADER: "c1"}, None),
            (None, "c1"),
            ({"Idempotency-Key": "k1"}, "c1"),
        ]
        for sample in samples:
            for extra, correlation_id in variants:
                ours, wire = self.build(
                    sample["method"], url, extra=extra, params=sample["params"], json=sample["json"],
                    content=None, data=None, extensions={}, correlation_id=correlation_id,
                )
                headers = self._base.copy()
                if correlation_id is not None:
                    headers[CORRELATION_HEADER] = correlation_id
                headers.update(extra or {})
                if sample["json"] is not None:
                    headers["Content-Type"] = "application/json"
                theirs = httpx.Request(
                    sample["method"],
                    url,
                    params=sample["params"],
                    content=None if sample["json"] is None else encode_json(sample["json"]),
                    headers=headers,
                )
                expected = sorted(theirs.headers.multi_items())
                if (
                    ours.method != theirs.method
                    or ours.url != theirs.url
                    or sorted(ours.headers.multi_items()) != expected
                    or ours.content != theirs.content
                    or (wire is not None and sorted((k.lower(), v) for k, v in wire[1]) != expected)
                ):
                    return False
        return True


_new_request = object.__new__


def _query_text(params: Any) -> str | None:
    """``str(httpx.QueryParams(params))`` (``None`` for empty params), for a mapping or a list of pairs.

    httpx groups repeated keys (in first-seen order), coerces values with JSON-style ``true``/``false``
    and ``""`` for ``None``, and form-encodes the result; so does this, without building the object.
    Other inputs (a string, bytes, ``QueryParams``) go through httpx itself.
    """
    if not params:
        return None
    if isinstance(params, Mapping) and not isinstance(params, httpx.QueryParams):
        grouped = params.items()
    elif isinstance(params, list | tuple):
        groups: dict[Any, list[Any]] = {}
        for item in params:
            groups.setdefault(item[0], []).append(item[1])
        grouped = groups.items()
    else:
        return str(httpx.QueryParams(params))
    items: list[tuple[str, str]] = []
    for key, value in grouped:
        name = str(key)
        for item in value if isinstance(value, list | tuple) else (value,):
            if item is True:
                text = "true"
            elif item is False:
                text = "false"
            elif item is None:
                text = ""
            else:
                text = str(item)
            items.append((name, text))
    key = tuple(items)
    query = _QUERIES.get(key)
    if query is None:
        query = urlencode(items)
        if len(_QUERIES) >= 512:  # queries carry ids and dates; keep the cache bounded
            _QUERIES.clear()
        _QUERIES[key] = query
    return query


_QUERIES: dict[tuple[tuple[str, str], ...], str] = {}


def with_params(url: httpx.URL, params: Any, url_text: str | None = None) -> tuple[httpx.URL, str]:
    """``httpx.URL(url, params=params)`` and its text; ``url_text`` is ``str(url)`` when the caller has it.

    httpx would re-parse and re-validate the whole URL to set its query; a form-encoded query is already
    in the form that re-parsing leaves it in, so only the query part of the parsed URL is replaced
    (proven equal to httpx's own result at import, else httpx builds it).
    """
    if not _PARAMS_FAST:
        new_url = httpx.URL(url, params=params)
        return new_url, str(new_url)
    query = _query_text(params)
    reference = url._uri_reference  # type: ignore[attr-defined]
    new_url = _new_request(httpx.URL)
    new_url._uri_reference = reference._replace(query=query)  # type: ignore[attr-defined]
    if url_text is not None and reference.query is None and reference.fragment is None:
        return new_url, url_text if query is None else url_text + "?" + query
    return new_url, str(new_url)


def _params_agree() -> bool:
    """Whether :func:`with_params` builds what ``httpx.URL(url, params=...)`` builds, on samples."""
    samples: list[Any] = [
        {"symbols": "AAPL,MSFT", "limit": 5, "feed": None, "adjusted": True, "raw": False},
        {"q": "a b+c&d=e/é?#%41", "ids": ["1", 2, 3.5], "t": ("x", "y")},
        [("a", "1"), ("b", "2"), ("a", "3"), (4, "[x]")],
        [("k", "v")],
        {"empty": "", "none": None, 0: 0},
        "x=1&y=%20z",
        {},
        [],
        {"start": "2026-01-05T14:30:00+00:00", "end": "2026-01-05T14:30:00Z"},
    ]
    urls = [
        "https://example.test:8443/v2/orders",
        "https://example.test/v2/orders?x=1",
        "http://[::1]:80/a#f",
    ]
    global _PARAMS_FAST
    previous, _PARAMS_FAST = _PARAMS_FAST, True
    try:
        for text in urls:
            base = httpx.URL(text)
            for params in samples:
                theirs = httpx.URL(base, params=params)
                ours, ours_text = with_params(base, params, text)
                if (
                    vars(ours) != vars(theirs)
                    or ours != theirs
                    or ours_text != str(theirs)
                    or ours.netloc != theirs.netloc
                    or ours.query != theirs.query
                ):
                    return False
        return True
    except Exception:
        return False
    finally:
        _PARAMS_FAST = previous
        _QUERIES.clear()


_PARAMS_FAST = False
_PARAMS_FAST = _params_agree()


def encode_json(value: Any) -> bytes:
    """A JSON request body: compact, UTF-8, no NaN (what httpx 0.28 sends; 0.27 put spaces in it)."""
    return jsonlib.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode()


def _same_attributes() -> bool:
    """Whether a Request's state is exactly the attributes :meth:`RequestFactory.build` sets."""
    sample = httpx.Request("GET", "https://example.test/", extensions={"k": 1})
    return set(vars(sample)) == {"method", "url", "headers", "extensions", "stream", "_content"}


def _lower(headers: dict[str, str]) -> set[str]:
    return {name.lower() for name in headers}
