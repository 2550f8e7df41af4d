"""RequestFactory builds exactly what httpx.Request builds, and the fallback path is taken when needed."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from portico.http._requests import RequestFactory

BASE = httpx.Headers({"User-Agent": "portico/test", "Accept": "application/json", "Accept-Encoding": "gzip"})
URL = httpx.URL("https://api.example.test:8443/v2/orders")


def reference(method: str, extra: dict[str, str] | None, **kwargs: Any) -> httpx.Request:
    headers = BASE.copy()
    headers.update(extra or {})
    return httpx.Request(method, URL, headers=headers, **kwargs)


@pytest.mark.parametrize(
    ("method", "extra", "kwargs"),
    [
        ("GET", None, {}),
        ("GET", {"X-Correlation-ID": "abc"}, {"params": {"symbols": "AAPL,MSFT", "limit": 10}}),
        ("POST", {"Idempotency-Key": "k"}, {"json": {"symbol": "AAPL", "qty": "1", "note": "ü"}}),
        ("POST", None, {}),
        ("PUT", None, {"json": [1, 2]}),
        ("DELETE", {"Accept": "text/csv"}, {}),
        ("POST", None, {"data": {"grant_type": "client_credentials"}}),
        ("POST", {"Content-Type": "application/x-ndjson"}, {"content": b'{"a":1}\n'}),
    ],
)
def test_factory_matches_httpx(method: str, extra: dict[str, str] | None, kwargs: dict[str, Any]) -> None:
    factory = RequestFactory(BASE)
    assert factory.fast and factory.assemble
    ours, wire = factory.build(
        method,
        URL,
        extra=extra,
        params=kwargs.get("params"),
        json=kwargs.get("json"),
        content=kwargs.get("content"),
        data=kwargs.get("data"),
        extensions={"timeout": {}},
    )
    theirs = reference(method, extra, **kwargs)
    assert ours.method == theirs.method
    assert ours.url == theirs.url
    assert sorted(ours.headers.multi_items()) == sorted(theirs.headers.multi_items())
    assert ours.content == theirs.content
    assert ours.extensions == {"timeout": {}}
    if wire is not None:
        url_text, pairs = wire
        assert url_text == str(theirs.url)
        assert sorted((k.lower(), v) for k, v in pairs) == sorted(theirs.headers.multi_items())


def test_fallback_when_shortcuts_are_off() -> None:
    factory = RequestFactory(BASE)
    factory.fast = False
    request, wire = factory.build(
        "POST", URL, extra=None, params=None, json={"a": 1}, content=None, data=None, extensions={}
    )
    assert wire is None
    assert request.content == b'{"a":1}'


def test_assembled_responses_behave_like_httpx_ones() -> None:
    from portico.http._assembly import ASSEMBLY_OK, assemble_response

    assert ASSEMBLY_OK, "httpx changed how it stores responses: the client now runs on its slower public path"
    request = httpx.Request("GET", "https://api.example.test/v2/orders/1")
    raw = [(b"Content-Type", b"application/json"), (b"X-Request-ID", b"r-1")]
    response = assemble_response(404, raw, b'{"message": "not found"}', {"http_version": b"HTTP/1.1"}, request)
    assert response.json() == {"message": "not found"}
    assert response.headers["x-request-id"] == "r-1"
    assert response.url == request.url
    assert response.is_closed and response.http_version == "HTTP/1.1"
    with pytest.raises(httpx.HTTPStatusError):
        response.raise_for_status()


def test_one_factory_stays_correct_over_many_builds() -> None:
    factory = RequestFactory(BASE)
    cases = [
        ("POST", {"Idempotency-Key": "k1"}, {"a": 1}),
        ("GET", None, None),
        ("PATCH", {"Accept": "text/plain"}, None),
        ("GET", {"X-Correlation-ID": "c"}, None),
    ]
    for _ in range(3):
        for method, extra, body in cases:
            ours, _ = factory.build(
                method, URL, extra=extra, params=None, json=body, content=None, data=None, extensions={}
            )
            theirs = reference(method, extra, json=body)
            assert sorted(ours.headers.multi_items()) == sorted(theirs.headers.multi_items())
            assert ours.content == theirs.content
