"""The plugin manager: discovers plugins through entry points, validates them, and keeps the registry.

Loading is controlled by environment variables:

- ``PORTICO_DISABLE_PLUGIN_AUTOLOAD=1``: load no entry-point plugins (only those registered by code).
- ``PORTICO_PLUGINS=a,b``: an allow-list of entry-point names to load; others are skipped.
- ``PORTICO_TRACE_PLUGINS=1``: log every hook call (pluggy tracing).

A plugin that fails to import, or whose connector declares an invalid spec, is recorded in
:attr:`PluginManager.failures` with its name and the reason; the runtime keeps going without it.

A connector listed as a :class:`~portico.sdk.ConnectorRef` (its manifest and ``module:Class``) is
imported the first time it is asked for (:meth:`PluginManager.connector`, ``connectors[name]``), so
listing plugins and reading manifests (:attr:`PluginManager.specs`) load no connector module. Its class
is checked then, as a class listed directly is checked at registration; a class that fails to import or
to pass is recorded in :attr:`~PluginManager.failures` and raised as :class:`~portico.errors.PluginLoadError`.

The built-in services contribute to the shared parts (alert rules, dashboard panels, export types,
CLI commands...) through plugins too: the modules of :data:`DEFAULT_PLUGINS`, registered like any
plugin (as pytest registers its default plugins) the first time :meth:`PluginManager.contributions`
is asked, whether or not entry points are autoloaded. ``PORTICO_DISABLE_DEFAULT_PLUGINS=name,...``
leaves some of them out.

No plugin replaces another silently. Entry points are grouped by plugin name and by the connector names
they provide before anything is registered:

- a built-in (an entry point of the ``portico`` distribution itself) always wins; the plugin that would
  have shadowed it is refused, and the refusal names both distributions;
- two third-party distributions providing one connector name are an error: neither loads (the order of
  ``sys.path`` must not decide which venue an order goes to), both are refused naming both
  distributions, and :meth:`PluginManager.connector` raises that message for the name.
"""

from __future__ import annotations

import importlib
import os
import sys
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from importlib.metadata import EntryPoint, entry_points
from typing import TYPE_CHECKING, Any

import pluggy

from portico import hookspecs
from portico.errors import ConfigurationError, PluginLoadError

if TYPE_CHECKING:
    from portico.sdk import Connector, ConnectorRef, ConnectorSpec

__all__ = ["DEFAULT_PLUGINS", "ENTRY_POINT_GROUP", "PluginInfo", "PluginManager"]

ENTRY_POINT_GROUP = "portico.plugins"
BUILTIN_DISTRIBUTION = "portico"
DEFAULT_PLUGINS: tuple[str, ...] = (
    "portico.jobs.contributions",
    "portico.trading.contributions",
    "portico.marketdata.contributions",
)
"""The built-in service plugins (hookimpls only): what the jobs, trading and market data
services contribute to the monitor, the exporter, the dashboard and the command line."""


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


@dataclass
class _Candidate:
    """An entry point imported but not registered yet, with the connector names it declares."""

    ep: EntryPoint
    module: Any
    distribution: str | None
    version: str | None
    connectors: list[str]

    @property
    def builtin(self) -> bool:
        return self.distribution == BUILTIN_DISTRIBUTION

    @property
    def failure_key(self) -> str:
        return self.ep.name

    def describe_dist(self) -> str:
        if self.distribution is None:
            return "an unknown distribution"
        return f"{self.distribution} {self.version}" if self.version else self.distribution


def _distribution_of(ep: EntryPoint, seen: dict[int, tuple[str | None, str | None]]) -> tuple[str | None, str | None]:
    """The name and version of the distribution of ``ep``; ``seen`` memoizes by distribution.

    Each ``metadata`` read parses the distribution's METADATA file again, and the entry points of one
    distribution share one distribution object: parsing once per distribution halved ``portico plugins``.
    """
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    found = seen.get(id(dist))
    if found is None:
        metadata = dist.metadata
        found = seen[id(dist)] = (metadata["Name"], metadata["Version"])
    return found


def _declared_connector_names(module: Any) -> list[str]:
    """The connector names a plugin module declares, read without validating (registration does that)."""
    impl = getattr(module, "portico_connectors", None)
    if impl is None:
        return []
    try:
        classes = list(impl() or [])
    except Exception:
        return []  # registration calls the hook again and reports the error with the plugin's name
    names: list[str] = []
    for cls in classes:
        spec = getattr(cls, "spec", None)  # a class's manifest, or a ConnectorRef's
        name = spec.get("name") if isinstance(spec, dict) else getattr(spec, "name", None)
        if isinstance(name, str):
            names.append(name)
    return names


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
        self._connectors: dict[str, type[Connector] | ConnectorRef] = {}
        self._specs: dict[str, ConnectorSpec] = {}
        self._connector_plugin: dict[str, str] = {}
        self._conflicts: dict[str, str] = {}
        self._mocks: dict[str, Any] = {}
        self._defaults_registered = False
        if autoload:
            self.load_entry_points()

    # -- loading ---------------------------------------------------------------------------------

    def load_entry_points(self, eps: Iterable[EntryPoint] | None = None) -> None:
        """Import and register the plugins of the ``portico.plugins`` group (honouring the allow-list).

        Args:
            eps: the entry points to consider; default every installed one of the group.
        """
        found = list(entry_points(group=ENTRY_POINT_GROUP) if eps is None else eps)
        candidates: list[_Candidate] = []
        seen: set[tuple[str, str | None]] = set()
        dists: dict[int, tuple[str | None, str | None]] = {}
        for ep in found:
            distribution, version = _distribution_of(ep, dists)
            if (ep.name, distribution) in seen or ep.name in self.plugins:
                continue
            seen.add((ep.name, distribution))
            if self.allow is not None and ep.name not in self.allow:
                continue
            try:
                module = ep.load()
            except Exception as exc:
                self.failures[ep.name] = f"import of {ep.value!r} failed: {type(exc).__name__}: {exc}"
                continue
            candidates.append(_Candidate(ep, module, distribution, version, _declared_connector_names(module)))
        for candidate in sorted(self._without_conflicts(candidates), key=lambda c: (not c.builtin, c.ep.name)):
            self.register(
                candidate.module,
                name=candidate.ep.name,
                distribution=candidate.distribution,
                version=candidate.version,
                strict=False,
            )

    def _without_conflicts(self, candidates: list[_Candidate]) -> list[_Candidate]:
        """The candidates that replace nobody; the others are recorded in :attr:`failures`."""
        refused: set[int] = set()
        by_plugin: dict[str, list[_Candidate]] = {}
        for candidate in candidates:
            by_plugin.setdefault(candidate.ep.name, []).append(candidate)
        for name, group in by_plugin.items():
            if len(group) < 2:
                continue
            builtin = next((c for c in group if c.builtin), None)
            dists = ", ".join(c.describe_dist() for c in group)
            for candidate in group:
                if candidate is builtin:
                    continue
                refused.add(id(candidate))
                if builtin is not None:
                    message = (
                        f"plugin {name!r} of {candidate.describe_dist()} would replace plugin {name!r} of the "
                        f"built-in distribution {BUILTIN_DISTRIBUTION}: refused (uninstall {candidate.distribution}, "
                        "or rename its entry point)"
                    )
                else:
                    # none of them loads: which one would win depends on the order of the path
                    message = f"plugin name {name!r} is provided by more than one distribution: {dists}; uninstall all but one"
                    for connector in candidate.connectors:
                        self._conflicts[connector] = message
                self.failures[f"{name} ({candidate.distribution})"] = message
        survivors = [c for c in candidates if id(c) not in refused]
        by_connector: dict[str, list[_Candidate]] = {}
        for candidate in survivors:
            for connector in dict.fromkeys(candidate.connectors):
                by_connector.setdefault(connector, []).append(candidate)
        for connector, group in by_connector.items():
            if len(group) < 2:
                continue
            builtin = next((c for c in group if c.builtin), None)
            if builtin is not None:
                for candidate in group:
                    if candidate is builtin or id(candidate) in refused:
                        continue
                    refused.add(id(candidate))
                    self.failures[candidate.failure_key] = (
                        f"connector {connector!r} of plugin {candidate.ep.name!r} ({candidate.describe_dist()}) "
                        f"would replace connector {connector!r} of plugin {builtin.ep.name!r} (the built-in "
                        f"distribution {BUILTIN_DISTRIBUTION}): refused (uninstall {candidate.distribution})"
                    )
                continue
            message = (
                f"connector {connector!r} is provided by more than one distribution: "
                + ", ".join(f"{c.describe_dist()} (plugin {c.ep.name!r})" for c in group)
                + "; uninstall all but one"
            )
            self._conflicts[connector] = message
            for candidate in group:
                refused.add(id(candidate))
                self.failures[candidate.failure_key] = message
        return [c for c in candidates if id(c) not in refused]

    def contributions(self, hook: str) -> list[Any]:
        """Every plugin's contributions to ``hook`` (``"portico_export_types"``...), concatenated.

        Registers the built-in service plugins (:data:`DEFAULT_PLUGINS`) first, once: they are
        imported only when a shared part asks for contributions, so listing connectors stays cheap.
        Built-ins come first, then the other plugins in registration order.
        """
        self._register_default_plugins()
        # the contribution hooks take no arguments; each implementation is called in a stated order
        # (built-ins, then plugins as registered) rather than pluggy's last-registered-first
        impls = getattr(self.hooks.hook, hook).get_hookimpls()
        ordered = [i for i in impls if i.plugin_name in DEFAULT_PLUGINS] + [
            i for i in impls if i.plugin_name not in DEFAULT_PLUGINS
        ]
        return [item for impl in ordered for item in (impl.function() or [])]

    def _register_default_plugins(self) -> None:
        if self._defaults_registered:
            return
        self._defaults_registered = True
        skipped = {n.strip() for n in os.environ.get("PORTICO_DISABLE_DEFAULT_PLUGINS", "").split(",") if n.strip()}
        for module_name in DEFAULT_PLUGINS:
            if module_name in skipped or self.hooks.has_plugin(module_name):
                continue
            self.hooks.register(importlib.import_module(module_name), name=module_name)

    def _load_entry_point(self, ep: EntryPoint) -> None:
        self.load_entry_points([ep])

    def register(
        self,
        plugin: Any,
        *,
        name: str | None = None,
        distribution: str | None = None,
        version: str | None = None,
        strict: bool = True,
    ) -> PluginInfo | None:
        """Register a plugin object (a module or instance with hookimpls) and collect what it provides.

        Args:
            plugin: the module or object holding the hookimpls.
            name: the plugin's name (default: the module's).
            distribution: the installed distribution it comes from, when known.
            version: that distribution's version.
            strict: raise when the plugin is refused (registering by code: the caller must know);
                entry points are loaded with ``strict=False``, so one broken plugin does not stop the others.

        Returns:
            The plugin's info; None when it was refused and ``strict`` is false (the reason is in
            :attr:`failures`).

        Raises:
            PluginLoadError: ``strict`` and the plugin was refused (a name already taken, a connector
                name another plugin provides, an invalid manifest), with the reason in one sentence.
        """
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        module = getattr(plugin, "__name__", type(plugin).__module__)
        if self.hooks.has_plugin(name):
            taken = self.plugins.get(name)
            source = f" (from {taken.distribution or taken.module})" if taken is not None else ""
            return self._refuse(
                name, f"a plugin named {name!r} is already registered{source}; register this one under another name",
                strict,
            )
        try:
            self.hooks.register(plugin, name=name)
        except Exception as exc:
            return self._refuse(name, f"registration failed: {type(exc).__name__}: {str(exc).splitlines()[0]}", strict)
        info = PluginInfo(name=name, module=module, distribution=distribution, version=version)
        try:
            connectors = self._call_one(plugin, "portico_connectors")
            mocks = self._call_one(plugin, "portico_mock_apps")
            staged = self._validate_connectors(name, connectors)
        except PluginLoadError as exc:
            self.hooks.unregister(plugin)
            return self._refuse(name, exc.reason, strict)
        except Exception as exc:
            self.hooks.unregister(plugin)
            return self._refuse(name, f"{type(exc).__name__}: {exc}", strict)
        for entry, spec in staged:
            self._connectors[spec.name] = entry
            self._specs[spec.name] = spec
            self._connector_plugin[spec.name] = name
            info.connectors.append(spec.name)
            if spec.mock is not None:
                self._mocks.setdefault(spec.name, spec.mock)
                info.mocks.append(spec.name)
        for mock in mocks:
            mock_name = getattr(mock, "name", None)
            if not mock_name:
                self.failures[name] = f"mock {mock!r} has no name"
                continue
            self._mocks[mock_name] = mock
            info.mocks.append(mock_name)
        self.plugins[name] = info
        return info

    def _refuse(self, name: str, reason: str, strict: bool) -> PluginInfo | None:
        """Record why ``name`` was refused; raise it when ``strict``. Returns None (what ``register`` returns)."""
        self.failures[name] = reason
        if strict:
            raise PluginLoadError(name, reason)
        return None

    def _call_one(self, plugin: Any, hook: str) -> list[Any]:
        impl = getattr(plugin, hook, None)
        if impl is None:
            return []
        result = impl()
        return list(result or [])

    def _validate_connectors(
        self, plugin: str, connectors: list[Any]
    ) -> list[tuple[type[Connector] | ConnectorRef, ConnectorSpec]]:
        from portico.sdk import ConnectorRef, ConnectorSpec  # lazy: cold start

        staged: list[tuple[type[Connector] | ConnectorRef, ConnectorSpec]] = []
        for entry in connectors:
            if isinstance(entry, ConnectorRef):
                if not isinstance(entry.spec, ConnectorSpec):
                    raise PluginLoadError(plugin, f"ConnectorRef {entry.target!r} has no ConnectorSpec as .spec")
                spec = entry.spec
            else:
                spec = self._check_class(plugin, entry)
            if spec.name in self._connectors and not _same_connector(self._connectors[spec.name], entry):
                other = self._connector_plugin[spec.name]
                info = self.plugins.get(other)
                source = f" (distribution {info.distribution})" if info is not None and info.distribution else ""
                raise PluginLoadError(
                    plugin, f"connector name {spec.name!r} is already provided by plugin {other!r}{source}"
                )
            staged.append((entry, spec))
        return staged

    @staticmethod
    def _check_class(plugin: str, cls: Any) -> ConnectorSpec:
        """``cls``'s validated manifest, when it is a Connector subclass implementing what it declares."""
        from pydantic import ValidationError

        from portico.sdk import Connector, ConnectorSpec  # lazy: cold start

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
        return spec

    def _load(self, name: str) -> type[Connector]:
        """The class of installed connector ``name``, imported and checked now if it was listed by reference."""
        entry = self._connectors[name]
        if isinstance(entry, type):
            return entry
        plugin = self._connector_plugin[name]
        try:
            cls = entry.load()
        except Exception as exc:
            reason = f"connector {name!r}: import of {entry.target!r} failed: {type(exc).__name__}: {exc}"
            self.failures[plugin] = reason
            raise PluginLoadError(plugin, reason) from None
        try:
            spec = self._check_class(plugin, cls)
            if spec != entry.spec:
                raise PluginLoadError(
                    plugin,
                    f"{entry.target} has a spec other than the manifest its plugin lists for connector {name!r}; "
                    "give the class the listed manifest (spec = SPEC)",
                )
        except PluginLoadError as exc:
            self.failures[plugin] = exc.reason
            raise
        self._connectors[name] = cls
        return cls

    # -- queries ---------------------------------------------------------------------------------

    @property
    def connectors(self) -> Mapping[str, type[Connector]]:
        """Installed connector classes by connector name (a snapshot).

        A class listed by :class:`~portico.sdk.ConnectorRef` is imported when its item is read; the names
        (``sorted(plugins.connectors)``, ``name in plugins.connectors``) import nothing.
        """
        return _Connectors(self, list(self._connectors))

    @property
    def specs(self) -> dict[str, ConnectorSpec]:
        """Installed connectors' manifests by connector name, read without importing any connector."""
        return dict(self._specs)

    def find_spec(self, name: str) -> ConnectorSpec | None:
        """The manifest of the connector called ``name`` or aliased so, or None; imports no connector."""
        found = self._specs.get(name)
        if found is not None:
            return found
        for spec in self._specs.values():
            if name in spec.aliases:
                return spec
        return None

    @property
    def mocks(self) -> dict[str, Any]:
        """Installed mocks by name: a connector's :class:`~portico.sdk.MockSpec` or a plugin's mock server."""
        return dict(self._mocks)

    def find_connector(self, name: str) -> type[Connector] | None:
        """The connector class called ``name`` or having it among its manifest's ``aliases``, or None.

        Raises:
            PluginLoadError: the connector is listed by reference and its class fails to import or check.
        """
        spec = self.find_spec(name)
        return None if spec is None else self._load(spec.name)

    def connector(self, name: str) -> type[Connector]:
        """The connector class called ``name`` (or aliased so); the error lists what is installed."""
        found = self.find_connector(name)
        if found is not None:
            return found
        if name in self._conflicts:
            raise ConfigurationError(self._conflicts[name])
        installed = ", ".join(sorted(self._connectors)) or "none"
        raise ConfigurationError(f"unknown connector {name!r}; installed connectors: {installed}")

    def spec(self, name: str) -> ConnectorSpec:
        """The manifest of connector ``name`` (or aliased so), read without importing the connector."""
        found = self.find_spec(name)
        if found is not None:
            return found
        return self.connector(name).spec  # raises the error that lists what is installed

    def plugin_of(self, connector: str) -> str | None:
        """The plugin that provides ``connector``."""
        return self._connector_plugin.get(connector)


def _same_connector(known: Any, entry: Any) -> bool:
    """Whether ``entry`` names the connector already registered as ``known`` (a class or a reference)."""
    if known is entry or known == entry:
        return True
    refs = [e.target for e in (known, entry) if not isinstance(e, type)]
    classes = [f"{e.__module__}:{e.__qualname__}" for e in (known, entry) if isinstance(e, type)]
    return len(refs) == 1 and refs == classes


class _Connectors(Mapping[str, "type[Connector]"]):
    """:attr:`PluginManager.connectors`: the names now, each class imported when its item is read."""

    def __init__(self, manager: PluginManager, names: list[str]) -> None:
        self._manager = manager
        self._names = names

    def __getitem__(self, name: str) -> type[Connector]:
        if name not in self._names:
            raise KeyError(name)
        return self._manager._load(name)

    def __iter__(self) -> Iterator[str]:
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)

    def __contains__(self, name: object) -> bool:
        return name in self._names

    def __repr__(self) -> str:
        return f"<installed connectors: {', '.join(self._names) or 'none'}>"
