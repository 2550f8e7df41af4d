"""The public surface of ``portico`` is pinned: a change to it is a decision, not an accident."""

from __future__ import annotations

import subprocess
import sys

import portico

EXPECTED = {
    "AsyncIntegration",
    "AuthError",
    "Capability",
    "CircuitOpen",
    "ConfigurationError",
    "Connector",
    "ConnectorContext",
    "ConnectorSpec",
    "Integration",
    "IntegrationConfig",
    "NotFound",
    "NotSupported",
    "OutcomeUnknown",
    "PayloadRejected",
    "PluginManager",
    "PorticoError",
    "RateLimited",
    "TransportError",
    "VenueRejected",
    "__version__",
    "hookimpl",
    "load_config",
}


def test_exported_names_are_pinned() -> None:
    assert set(portico.__all__) == EXPECTED


def test_every_exported_name_resolves() -> None:
    for name in portico.__all__:
        assert getattr(portico, name) is not None


def test_unknown_attribute_is_an_attribute_error() -> None:
    try:
        portico.DoesNotExist  # noqa: B018
    except AttributeError as exc:
        assert "DoesNotExist" in str(exc)
    else:
        raise AssertionError("expected AttributeError")


def test_import_portico_is_light() -> None:
    # importing the package must not drag in the heavy runtime stack
    code = "import sys, portico; print(','.join(m for m in ('httpx','pydantic','sqlalchemy','pluggy') if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == ""
