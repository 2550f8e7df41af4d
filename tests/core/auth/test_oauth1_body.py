"""The generic OAuth 1.0a scheme keeps a JSON or XML body it signs (authlib alone sends it empty)."""

from __future__ import annotations

import httpx

from portico.auth import AuthenticationManager

CREDENTIALS = {"consumer_key": "ck", "consumer_secret": "cs", "token": "tk", "token_secret": "ts"}


def _signed(content: bytes, content_type: str) -> httpx.Request:
    auth = AuthenticationManager(vault=None, audit=None).build("venue", "oauth1", CREDENTIALS, {})
    request = httpx.Request("POST", "https://venue.test/v1/orders", content=content, headers={"Content-Type": content_type})
    flow = auth.sync_auth_flow(request)
    return next(flow)


def test_a_json_body_is_sent_under_the_signed_headers() -> None:
    body = b'{"symbol":"AAPL","qty":"1"}'
    signed = _signed(body, "application/json")
    assert signed.content == body
    assert signed.headers["Content-Length"] == str(len(body))
    assert signed.headers["Authorization"].startswith("OAuth ") and "oauth_signature=" in signed.headers["Authorization"]
    assert 'oauth_token="tk"' in signed.headers["Authorization"]


def test_an_xml_body_is_kept_too() -> None:
    body = b"<PlaceOrderRequest><orderType>EQ</orderType></PlaceOrderRequest>"
    assert _signed(body, "application/xml").content == body
