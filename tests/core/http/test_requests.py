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


@pytest.mark.parametrize(
    ("base", "extra"),
    [
        (BASE, None),
        (BASE, {"Idempotency-Key": "k"}),
        (BASE, {"x-correlation-id": "per-call"}),
        (httpx.Headers({**BASE, "X-Correlation-ID": "static"}), None),
        (httpx.Headers({**BASE, "X-Correlation-ID": "static"}), {"X-Correlation-ID": "per-call"}),
    ],
)
@pytest.mark.parametrize(("method", "body"), [("GET", None), ("POST", {"a": 1}), ("DELETE", None)])
def test_correlation_id_is_sent_once_and_yields_to_explicit_headers(
    base: httpx.Headers, extra: dict[str, str] | None, method: str, body: Any
) -> None:
    factory = RequestFactory(base)
    assert factory.fast and factory.assemble
    ours, wire = factory.build(
        method, URL, extra=extra, params=None, json=body, content=None, data=None, extensions={},
        correlation_id="cid-1",
    )
    headers = base.copy()
    headers["X-Correlation-ID"] = "cid-1"
    headers.update(extra or {})
    theirs = httpx.Request(method, URL, headers=headers, json=body)
    assert sorted(ours.headers.multi_items()) == sorted(theirs.headers.multi_items())
    assert ours.headers.get_list("x-correlation-id") == [(extra or {}).get("X-Correlation-ID", (extra or {}).get("x-correlation-id", "cid-1"))]
    assert ours.content == theirs.content
    assert wire is not None
    assert sorted((k.lower(), v) for k, v in wire[1]) == sorted(theirs.headers.multi_items())


def test_correlation_id_shortcut_does_not_leak_into_later_requests() -> None:
    factory = RequestFactory(BASE)
    with_id, _ = factory.build(
        "GET", URL, extra=None, params=None, json=None, content=None, data=None, extensions={}, correlation_id="c-1"
    )
    without, wire = factory.build("GET", URL, extra=None, params=None, json=None, content=None, data=None, extensions={})
    assert with_id.headers["x-correlation-id"] == "c-1"
    assert "x-correlation-id" not in without.headers
    assert wire is not None and all(k.lower() != "x-correlation-id" for k, _ in wire[1])


def test_correlation_id_on_the_fallback_path() -> None:
    factory = RequestFactory(BASE)
    request, wire = factory.build(
        "POST", URL, extra=None, params=None, json=None, content=b"raw", data=None, extensions={}, correlation_id="c-2"
    )
    assert wire is None
    assert request.headers.get_list("x-correlation-id") == ["c-2"]


def test_non_ascii_correlation_id_is_refused_as_httpx_refuses_it() -> None:
    factory = RequestFactory(BASE)
    with pytest.raises(UnicodeEncodeError):
        factory.build(
            "GET", URL, extra=None, params=None, json=None, content=None, data=None, extensions={}, correlation_id="é"
        )


PARAMS_CASES: list[Any] = [
    {"symbols": "AAPL,MSFT", "limit": 10},
    {"adjusted": True, "raw": False, "feed": None, "page": 0, "ratio": 1.5},
    {"q": "a b+c&d=e/é?#%41", "ids": ["1", 2], "pair": ("x", "y")},
    [("a", "1"), ("b", "2"), ("a", "3")],  # httpx groups repeated keys: a=1&a=3&b=2
    (("k", "v"),),
    "x=1&y=%20z",
    httpx.QueryParams({"z": "1"}),
    {},
    [],
]


@pytest.mark.parametrize("params", PARAMS_CASES)
@pytest.mark.parametrize(
    "url_text", ["https://api.example.test:8443/v2/orders", "https://api.example.test/v2/orders?old=1", "http://[::1]/a#frag"]
)
def test_with_params_matches_httpx(params: Any, url_text: str) -> None:
    from portico.http._requests import with_params

    url = httpx.URL(url_text)
    theirs = httpx.URL(url, params=params)
    for given_text in (url_text, None):
        ours, text = with_params(url, params, given_text)
        assert ours == theirs
        assert vars(ours) == vars(theirs)
        assert text == str(theirs)
        assert ours.netloc == theirs.netloc
        assert ours.params == theirs.params


def test_with_params_known_answers() -> None:
    from portico.http._requests import with_params

    url = httpx.URL("https://h.test/v2/bars")
    assert with_params(url, [("a", "1"), ("b", "2"), ("a", "3")], "https://h.test/v2/bars")[1] == (
        "https://h.test/v2/bars?a=1&a=3&b=2"
    )
    assert with_params(url, {"t": True, "n": None, "s": "x y/z"}, None)[1] == "https://h.test/v2/bars?t=true&n=&s=x+y%2Fz"
    assert with_params(url, {}, "https://h.test/v2/bars")[1] == "https://h.test/v2/bars"


def test_with_params_falls_back_to_httpx_when_not_proven(monkeypatch: pytest.MonkeyPatch) -> None:
    from portico.http import _requests

    monkeypatch.setattr(_requests, "_PARAMS_FAST", False)
    calls: list[Any] = []
    real = _requests._query_text
    monkeypatch.setattr(_requests, "_query_text", lambda params: calls.append(params) or real(params))
    url, text = _requests.with_params(httpx.URL("https://h.test/x"), {"a": "b c"}, "https://h.test/x")
    assert (str(url), text) == ("https://h.test/x?a=b+c", "https://h.test/x?a=b+c")
    assert calls == []  # httpx built it


def test_params_shortcut_is_proven_on_this_httpx() -> None:
    from portico.http import _requests

    assert _requests._PARAMS_FAST is True
    assert _requests._params_agree() is True
    assert _requests._PARAMS_FAST is True  # the proof restores the flag it sets while running
