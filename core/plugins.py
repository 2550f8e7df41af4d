"""The plugin manager: discovers plugins through entry points, validates them, and keeps the registry.

Loading is controlled by environment variables:

- ``PORTICO_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry-point plugins (only those registered by code).
- ``PORTICO_PLUGINS=a,b``: an allow-list of entry-point names to load; others are skipped.
- ``PORTICO_TRACE_PLUGINS=1``: log every hook call (pluggy tracing).

A plugin that fails to import, or whose connector declares an invalid spec, is recorded in
:attr:`PluginManager.failures` with its name and the reason; the runtime keeps going without it.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from portico import hookspecs
from portico.errors import ConfigurationError, PluginLoadError

if TYPE_CHECKING:
    from portico.sdk import Connector, ConnectorSpec

__all__ = ["ENTRY_POINT_GROUP", "PluginInfo", "PluginManager"]

ENTRY_POINT_GROUP = "portico.plugins"


@dataclass
class PluginInfo:
    """One loaded plugin: its entry-point name, where it came from, and what it provides."""

    name: str
    module: str
    distribution: str | None
    version: str | None
    connectors: list[str] = field(default_factory=list)
    mocks: list[str] = field(default_factory=list)


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


class PluginManager:
    """Loads plugins and answers which connectors and mocks are installed.

    Create one per runtime (and one per test): nothing is global.

    Args:
        autoload: load entry-point plugins; default from ``PORTICO_DISABLE_PLUGIN_AUTOLOAD``.
        allow: entry-point names to load; default from ``PORTICO_PLUGINS``.
    """

    def __init__(self, *, autoload: bool | None = None, allow: list[str] | None = None) -> None:
        self.hooks = pluggy.PluginManager(hookspecs.PROJECT)
        self.hooks.add_hookspecs(hookspecs)
        if _truthy(os.environ.get("PORTICO_TRACE_PLUGINS")):
            self.hooks.trace.root.setwriter(lambda msg: sys.stderr.write(f"[portico.plugins] {msg}"))
            self.hooks.enable_tracing()
        if autoload is None:
            autoload = not _truthy(os.environ.get("PORTICO_DISABLE_PLUGIN_AUTOLOAD"))
        if allow is None:
            raw = os.environ.get("PORTICO_PLUGINS", "").strip()
            allow = [p.strip() for p in raw.split(",") if p.strip()] if raw else None
        self.allow = allow
        self.plugins: dict[str, PluginInfo] = {}
        self.failures: dict[str, str] = {}
        self._connectors: dict[str, type[Connector]] = {}
        self._connector_plugin: dict[str, str] = {}
        self._mocks: dict[str, Any] = {}
        if autoload:
            self.load_entry_points()

    # -- loading ---------------------------------------------------------------------------------

    def load_entry_points(self) -> None:
        """Import and register every plugin of the ``portico.plugins`` group (honouring the allow-list)."""
        seen: set[str] = set()
        for ep in sorted(entry_points(group=ENTRY_POINT_GROUP), key=lambda e: e.name):
            if ep.name in seen or ep.name in self.plugins:
                continue
            seen.add(ep.name)
            if self.allow is not None and ep.name not in self.allow:
                continue
            self._load_entry_point(ep)

    def _load_entry_point(self, ep: EntryPoint) -> None:
        try:
            module = ep.load()
        except Exception as exc:
            self.failures[ep.name] = f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}"
            return
        dist = getattr(ep, "dist", None)
        self.register(
            module,
            name=ep.name,
            distribution=dist.metadata["Name"] if dist else None,
            version=dist.version if dist else None,
        )

    def register(
        self, plugin: Any, *, name: str | None = None, distribution: str | None = None, version: str | None = None
    ) -> PluginInfo | None:
        """Register a plugin object (a module or instance with hookimpls) and collect what it provides.

        Returns the plugin's info, or None when it was rejected (the reason is in :attr:`failures`).
        """
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        module = getattr(plugin, "__name__", type(plugin).__module__)
        try:
            self.hooks.register(plugin, name=name)
        except Exception as exc:
            self.failures[name] = f"registration failed: {type(exc).__name__}: {exc}"
            return None
        info = PluginInfo(name=name, module=module, distribution=distribution, version=version)
        try:
            connectors = self._call_one(plugin, "portico_connectors")
            mocks = self._call_one(plugin, "portico_mock_apps")
            staged = self._validate_connectors(name, connectors)
        except PluginLoadError as exc:
            self.hooks.unregister(plugin)
            self.failures[name] = exc.reason
            return None
        except Exception as exc:
            self.hooks.unregister(plugin)
            self.failures[name] = f"{type(exc).__name__}: {exc}"
            return None
        for cls in staged:
            self._connectors[cls.spec.name] = cls
            self._connector_plugin[cls.spec.name] = name
            info.connectors.append(cls.spec.name)
            if cls.spec.mock is not None:
                self._mocks.setdefault(cls.spec.name, cls.spec.mock)
                info.mocks.append(cls.spec.name)
        for mock in mocks:
            mock_name = getattr(mock, "name", None)
            if not mock_name:
                self.failures[name] = f"mock {mock!r} has no name"
                continue
            self._mocks[mock_name] = mock
            info.mocks.append(mock_name)
        self.plugins[name] = info
        return info

    def _call_one(self, plugin: Any, hook: str) -> list[Any]:
        impl = getattr(plugin, hook, None)
        if impl is None:
            return []
        result = impl()
        return list(result or [])

    def _validate_connectors(self, plugin: str, connectors: list[Any]) -> list[type[Connector]]:
        from pydantic import ValidationError

        from portico.sdk import Connector, ConnectorSpec

        staged: list[type[Connector]] = []
        for cls in connectors:
            if not (isinstance(cls, type) and issubclass(cls, Connector)):
                raise PluginLoadError(plugin, f"{cls!r} is not a portico.sdk.Connector subclass")
            spec = getattr(cls, "spec", None)
            if isinstance(spec, dict):
                try:
                    spec = ConnectorSpec.model_validate(spec)
                except ValidationError as exc:
                    raise PluginLoadError(plugin, f"{cls.__name__}.spec is invalid: {exc}") from None
                setattr(cls, "spec", spec)  # noqa: B010 - a class attribute replaced on a validated copy
            if not isinstance(spec, ConnectorSpec):
                raise PluginLoadError(plugin, f"{cls.__name__} declares no ConnectorSpec as .spec")
            if spec.name in self._connectors and self._connectors[spec.name] is not cls:
                other = self._connector_plugin[spec.name]
                raise PluginLoadError(plugin, f"connector name {spec.name!r} is already provided by plugin {other!r}")
            missing = [
                cap.value
                for cap in spec.capabilities.declared
                if getattr(cls, cap.value, None) is getattr(Connector, cap.value, None)
                and cap.value != "get_order_by_client_id"
            ]
            if missing:
                raise PluginLoadError(
                    plugin, f"{cls.__name__} declares {missing} but does not implement them (methods still the base's)"
                )
            staged.append(cls)
        return staged

    # -- queries ---------------------------------------------------------------------------------

    @property
    def connectors(self) -> dict[str, type[Connector]]:
        """Installed connector classes by connector name."""
        return dict(self._connectors)

    @property
    def mocks(self) -> dict[str, Any]:
        """Installed mocks by name: a connector's :class:`~portico.sdk.MockSpec` or a plugin's mock server."""
        return dict(self._mocks)

    def connector(self, name: str) -> type[Connector]:
        """The connector class called ``name``; the error lists what is installed."""
        try:
            return self._connectors[name]
        except KeyError:
            installed = ", ".join(sorted(self._connectors)) or "none"
            raise ConfigurationError(f"unknown connector {name!r}; installed connectors: {installed}") from None

    def spec(self, name: str) -> ConnectorSpec:
        """The manifest of connector ``name``."""
        return self.connector(name).spec

    def plugin_of(self, connector: str) -> str | None:
        """The plugin that provides ``connector``."""
        return self._connector_plugin.get(connector)
