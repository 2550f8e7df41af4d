"""Every hook a portico plugin can implement.

A plugin is a module (or object) registered under the entry-point group ``portico.plugins`` whose
functions are marked with :data:`hookimpl`. Built-in connectors are plugins loaded the same way.

Collecting hooks (``portico_connectors``, ``portico_mock_apps``, ...) are called on every plugin and
their results concatenated; none is ``firstresult``, because several plugins may each contribute.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from portico.sdk import Connector

__all__ = ["PROJECT", "hookimpl", "hookspec"]

PROJECT = "portico"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def portico_connectors() -> list[type[Connector]]:
    """Connector classes this plugin provides.

    Called once when the plugin manager loads plugins. Each class carries its manifest as the class
    attribute ``spec``; the runtime validates it and reports a plugin whose spec is invalid by name
    without loading its connectors.

    Returns:
        A list of :class:`~portico.sdk.Connector` subclasses.
    """


@hookspec
def portico_mock_apps() -> list[Any]:
    """Mock servers this plugin provides, beyond those declared in its connectors' ``spec.mock``.

    Used for mocks that belong to no single connector (the mock OAuth server, for instance).

    Returns:
        A list of :class:`portico.mocks.MockServer` descriptions.
    """
