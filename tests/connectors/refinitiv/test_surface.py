"""The public surface of the connector and mock packages, pinned."""

from __future__ import annotations

import portico.connectors.refinitiv as connector
import portico.mocks.refinitiv as mock


def test_the_connector_package_exports() -> None:
    assert set(connector.__all__) == {
        "SCHEME", "SPEC", "THROTTLING", "FxRates", "RefinitivConnection", "RefinitivConnector", "RefinitivPasswordAuth",
    }  # fmt: skip


def test_the_mock_package_exports() -> None:
    assert set(mock.__all__) == {
        "DEFAULT_SCOPE", "EQUITIES", "Equity", "FxRic", "HP_PREFIX", "PriceBook", "RefinitivMock", "TokenService",
        "USD_BASED", "create_app", "gateway_error", "oauth_error", "parse_fx_ric",
    }  # fmt: skip


def test_the_manifest_declares_what_the_issue_asks() -> None:
    spec = connector.SPEC
    assert [a.scheme for a in spec.auth] == ["refinitiv_password", "oauth2_client_credentials"]
    assert [str(w) for w in spec.throttling.windows] == ["5/second"]
    assert spec.mock is not None and spec.mock.app == "portico.mocks.refinitiv:create_app"
    assert spec.auth[0].options["token_url"] == "{base}/auth/oauth2/v1/token"
    assert spec.auth[1].options["token_url"] == "{base}/auth/oauth2/v2/token"
    assert {c.name for c in spec.auth[0].credentials if c.secret} == {"app_key", "password"}
