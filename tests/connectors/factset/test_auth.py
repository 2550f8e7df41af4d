"""FactSet's two auth modes against the mock: HTTP Basic, and OAuth 2.0 client credentials with a
private_key_jwt assertion (well-known document, RS256 with kid, token cached until 30 s before expiry)."""

from __future__ import annotations

import json
from datetime import date
from typing import Any

import httpx
import pytest
from joserfc.jwk import RSAKey

from portico.auth import AuthContext, AuthenticationManager
from portico.clock import FakeClock
from portico.connectors.factset import FactSetConnector
from portico.connectors.factset import plugin as factset_plugin
from portico.connectors.factset.auth import SCHEME, FactSetPrivateKeyJwtAuth
from portico.errors import AuthError, ConfigurationError
from portico.plugins import PluginManager
from tests.connectors.factset.conftest import FactSetHarness
from tests.connectors.factset.keys import CLIENT_ID, USER, private_jwk

START, END = date(2024, 3, 4), date(2024, 3, 8)


async def _prices(connector: FactSetConnector) -> int:
    bars = await connector.get_prices(["AAPL"], start=START, end=END)
    return len(bars["AAPL"])


async def test_oauth_gets_one_token_from_the_well_known_token_endpoint_and_reuses_it(
    fs: FactSetHarness,
) -> None:
    connector = fs.connector(oauth=True)
    assert await _prices(connector) == 5
    assert await _prices(connector) == 5
    assert fs.mock.token_requests == 1
    auth = connector.context.auth
    assert isinstance(auth, FactSetPrivateKeyJwtAuth)
    assert auth.metadata_requests == 1
    assert auth.token_endpoint == "http://factset.mock/as/token.oauth2"
    content = [e for e in fs.app.journal.entries() if e.path.startswith("/content/")]
    assert len(content) == 2 and all(e.headers["authorization"] == "***" for e in content)


async def test_the_assertion_is_signed_as_factsets_utilities_sign_it(
    fs: FactSetHarness, fake_clock: FakeClock
) -> None:
    connector = fs.connector(oauth=True)
    await _prices(connector)
    (accepted,) = fs.mock.assertions
    header, claims = accepted["header"], accepted["claims"]
    assert header["alg"] == "RS256"
    assert header["kid"] == "portico-kid-1"
    assert claims["iss"] == claims["sub"] == CLIENT_ID
    assert claims["aud"] == ["http://factset.mock"]
    now = int(fake_clock.now().timestamp())
    assert (claims["nbf"], claims["iat"], claims["exp"]) == (now - 5, now, now + 300)
    assert len(claims["jti"]) == 36  # a uuid4, fresh per assertion


async def test_the_token_is_renewed_30_seconds_before_it_expires_with_a_fresh_assertion(
    fs: FactSetHarness,
) -> None:
    connector = fs.connector(oauth=True)
    await _prices(connector)
    fs.advance(3600 - 31)  # the mock's tokens live 3600 s: 31 s left, still used
    await _prices(connector)
    assert fs.mock.token_requests == 1
    fs.advance(2)  # 29 s left: inside the 30 s margin
    await _prices(connector)
    assert fs.mock.token_requests == 2
    first, second = fs.mock.assertions
    assert first["claims"]["jti"] != second["claims"]["jti"]


async def test_a_key_the_server_does_not_hold_is_refused_as_an_auth_error(fs: FactSetHarness) -> None:
    # same kid, different key pair: the signature does not verify with the registered public key
    other = RSAKey.generate_key(
        2048, parameters={"kid": "portico-kid-1", "alg": "RS256", "use": "sig"}, private=True
    )
    stolen = dict(other.as_dict(private=True))
    connector = fs.connector(oauth=True, credentials={"client_id": CLIENT_ID, "jwk": json.dumps(stolen)})
    with pytest.raises(AuthError) as caught:
        await _prices(connector)
    message = str(caught.value)
    assert "refused the client assertion" in message and "invalid_client" in message
    assert stolen["d"] not in message and stolen["d"] not in repr(caught.value)
    assert fs.mock.assertions == []


async def test_an_unregistered_client_id_is_refused(fs: FactSetHarness) -> None:
    connector = fs.connector(
        oauth=True, credentials={"client_id": "nobody", "jwk": json.dumps(private_jwk())}
    )
    with pytest.raises(AuthError, match="assertion rejected"):
        await _prices(connector)


def _ctx(transport: httpx.AsyncBaseTransport | None = None) -> AuthContext:
    return AuthContext(system_id="fs", scheme=SCHEME, clock=FakeClock(), transport=transport)


@pytest.mark.parametrize(
    ("jwk", "expected"),
    [
        ("not json", "credential 'jwk' is not JSON"),
        (json.dumps(["a"]), "must be a JSON object"),
        (json.dumps({k: v for k, v in private_jwk().items() if k not in ("d", "qi")}), "lacks d, qi"),
        (json.dumps({**private_jwk(), "alg": "RS512"}), "must be an RSA key for RS256"),
    ],
)
def test_a_bad_private_jwk_is_a_configuration_error_naming_the_credential(jwk: str, expected: str) -> None:
    with pytest.raises(ConfigurationError) as caught:
        FactSetPrivateKeyJwtAuth(_ctx(), {"client_id": CLIENT_ID, "jwk": jwk}, {})
    assert expected in str(caught.value)
    assert caught.value.path == "systems.fs.authentication.credentials.jwk"
    assert private_jwk()["d"] not in str(caught.value)


def test_a_missing_client_id_is_a_configuration_error() -> None:
    with pytest.raises(ConfigurationError, match="needs credential 'client_id'"):
        FactSetPrivateKeyJwtAuth(_ctx(), {"jwk": json.dumps(private_jwk())}, {})


@pytest.mark.parametrize(
    ("answer", "expected"),
    [
        (
            httpx.Response(200, json={"issuer": "https://auth.example"}),
            "must name 'issuer' and 'token_endpoint'",
        ),
        (httpx.Response(503, text="down"), "metadata answered HTTP 503"),
        (httpx.Response(200, text="<html>"), "metadata is not JSON"),
    ],
)
async def test_an_unusable_well_known_document_is_an_auth_error(
    answer: httpx.Response, expected: str
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/.well-known/openid-configuration"
        return answer

    auth = FactSetPrivateKeyJwtAuth(
        _ctx(httpx.MockTransport(handler)),
        {"client_id": CLIENT_ID, "jwk": json.dumps(private_jwk())},
        {"well_known_uri": "https://auth.example/.well-known/openid-configuration"},
    )
    with pytest.raises(AuthError, match=expected):
        await auth.token()


async def test_a_token_answer_without_access_token_is_an_auth_error() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("openid-configuration"):
            return httpx.Response(
                200, json={"issuer": "https://a.example", "token_endpoint": "https://a.example/t"}
            )
        form = dict(httpx.QueryParams(request.content.decode()))
        assert form["grant_type"] == "client_credentials"
        assert form["client_assertion_type"] == "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
        return httpx.Response(200, json={"token_type": "Bearer", "expires_in": 60})

    auth = FactSetPrivateKeyJwtAuth(
        _ctx(httpx.MockTransport(handler)), {"client_id": CLIENT_ID, "jwk": json.dumps(private_jwk())}, {}
    )
    with pytest.raises(AuthError, match="no access_token"):
        await auth.token()


async def test_secrets_stay_out_of_reprs(fs: FactSetHarness) -> None:
    connector = fs.connector(oauth=True)
    await _prices(connector)
    auth = connector.context.auth
    assert isinstance(auth, FactSetPrivateKeyJwtAuth)
    token = auth.current_token
    assert token is not None
    shown = repr(auth) + repr(token) + repr(connector.context) + repr(connector)
    assert private_jwk()["d"] not in shown
    assert token.access_token.get_secret_value() not in shown
    assert CLIENT_ID in repr(auth)  # the client id is not a secret, and names the client in logs


async def test_basic_auth_with_a_wrong_api_key_is_an_auth_error(fs: FactSetHarness) -> None:
    connector = fs.connector(credentials={"username": USER, "password": "not-the-key"})
    with pytest.raises(AuthError, match="FactSet refused the credentials: User Authentication Failed"):
        await _prices(connector)
    result = await connector.check()
    assert not result.ok and result.checks == {"reachable": True, "authenticated": False}


def test_the_plugin_contributes_the_scheme_to_the_authentication_manager() -> None:
    plugins = PluginManager(autoload=False)
    plugins.register(factset_plugin, name="factset")
    manager = AuthenticationManager(plugins=plugins)
    assert SCHEME in manager.schemes()
    built: Any = manager.build("fs", SCHEME, {"client_id": CLIENT_ID, "jwk": json.dumps(private_jwk())}, {})
    assert isinstance(built, FactSetPrivateKeyJwtAuth)
    assert built.well_known_uri == "https://auth.factset.com/.well-known/openid-configuration"
