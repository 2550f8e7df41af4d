"""The E*TRADE plugin loads as every plugin does: its connector, its mock and its auth scheme."""

from __future__ import annotations

from portico.auth import AuthenticationManager
from portico.connectors.etrade import EtradeConnector
from portico.connectors.etrade.auth import EtradeOAuth1Scheme
from portico.mocks import resolve_mock
from portico.plugins import PluginManager


def test_the_plugin_provides_connector_mock_and_auth_scheme() -> None:
    plugins = PluginManager()
    assert plugins.spec("etrade") is EtradeConnector.spec
    _, url_keys, name = resolve_mock("etrade")
    assert (name, url_keys) == ("etrade", {"api": "", "auth": "", "authorize": ""})
    manager = AuthenticationManager(plugins=plugins)
    assert "etrade_oauth1" in manager.schemes()
    auth = manager.build("etrade_live", "etrade_oauth1", {"consumer_key": "k", "consumer_secret": "s"}, {})
    assert isinstance(auth, EtradeOAuth1Scheme)
    assert not auth.authorized


def test_the_manifest_declares_the_published_limits() -> None:
    spec = EtradeConnector.spec
    settings = spec.connection_settings()
    limits = {k: (v.per_second, v.per_hour) for k, v in settings.rate_limits.items()}  # type: ignore[attr-defined]
    assert limits == {"accounts": (2, 7000), "market": (4, 14000), "order": (2, 7000)}
    assert [e.name for e in spec.environments] == ["sandbox", "live"]
    assert spec.environment("live").live_money
    assert spec.environment("sandbox").urls["api"] == "https://apisb.etrade.com"
    assert spec.capabilities.max_symbols_per_request == 25
    (scheme,) = spec.auth
    assert [c.name for c in scheme.credentials if c.secret] == [
        "consumer_key",
        "consumer_secret",
        "token",
        "token_secret",
    ]
