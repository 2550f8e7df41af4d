"""Checks a configuration's models cannot make alone: against the installed connectors and formats,
and between sections (an import's ``source`` must be a system, an alert destination a channel).

Every check returns ``(key path, message)`` problems, so ``config validate`` reports them all at once.
They run on the resolved document, not only on a valid :class:`IntegrationConfig`: an unknown connector
is reported beside a wrong type elsewhere, not after it is fixed.
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Mapping, Set
from typing import Any

from pydantic import ValidationError

from portico.config._models import IntegrationConfig, SystemConfig
from portico.config._problems import Problem, did_you_mean, validation_problems
from portico.config._transport import insecure_transport_problems
from portico.contributions import AlertRules
from portico.errors import ConfigurationError
from portico.plugins import PluginManager
from portico.sdk import ConnectorSpec

__all__ = ["check_against_plugins", "section_problems", "systems_problems"]

_SYSTEM_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_\-]{0,63}$")

_RUNTIME_MOCK_OPTIONS = frozenset({"faults", "host", "port", "log_level", "startup_timeout"})
"""Keyword arguments of ``start_mock`` itself, accepted in ``mock_options`` beside the factory's."""


def check_against_plugins(config: IntegrationConfig, plugins: PluginManager) -> list[Problem]:
    """Problems between the configuration and the installed connectors.

    Checks that each system's connector is installed (listing the installed ones when not) and not
    retired (its manifest's :class:`~portico.sdk.Retirement` says what replaces it), that its ``type`` is
    one of the connector's kinds, that the environment, auth scheme and feature names exist.
    """
    problems: list[Problem] = []
    installed = _usable(plugins)
    for system_id, system in config.systems.items():
        base = f"systems.{system_id}"
        name = system.connector or system_id
        cls = plugins.find_connector(name)
        key = f"{base}.connector" if system.connector else base
        if cls is None:
            problems.append((key, _unknown_connector(name, installed)))
            continue
        spec = cls.spec
        retired = _retired_problem(key, spec, installed)
        if retired is not None:  # nothing else about a system matters once its API is gone
            problems.append(retired)
            continue
        if system.type not in spec.kinds:
            kinds = ", ".join(k.value for k in spec.kinds)
            problems.append(
                (f"{base}.type", f"{system.type.value!r} does not match connector {name!r} (kind: {kinds})")
            )
        if system.environment is not None:
            names = [e.name for e in spec.environments]
            if system.environment not in names:
                problems.append(
                    (
                        f"{base}.environment",
                        f"unknown environment {system.environment!r}{did_you_mean(system.environment, names)}; "
                        f"expected one of {names}",
                    )
                )
        if system.authentication.type is not None:
            problems.extend(_auth_type_problems(base, name, spec, system.authentication.type))
        if system.features and spec.feature_flags:
            for flag in system.features:
                if flag not in spec.feature_flags:
                    problems.append(
                        (
                            f"{base}.features.{flag}",
                            f"unknown feature for {name}{did_you_mean(flag, spec.feature_flags)}; "
                            f"expected one of {sorted(spec.feature_flags)}",
                        )
                    )
        if system.mock and spec.mock is None:
            problems.append((f"{base}.mock", f"connector {name!r} ships no mock server"))
    return problems


def _usable(plugins: PluginManager) -> list[str]:
    """The installed connectors a configuration may name (not the retired ones), sorted."""
    return sorted(name for name, spec in plugins.specs.items() if spec.retired is None)


def _unknown_connector(name: str, installed: list[str]) -> str:
    return f"unknown connector {name!r}{did_you_mean(name, installed)}; installed connectors: {', '.join(installed) or 'none'}"


def _retired_problem(key: str, spec: ConnectorSpec, installed: list[str]) -> Problem | None:
    """The refusal of a connector whose manifest is retired (its message names what replaces it)."""
    if spec.retired is None:
        return None
    return (key, spec.retired.explain(installed))


def _auth_type_problems(base: str, name: str, spec: ConnectorSpec, scheme: str) -> list[Problem]:
    schemes = [a.scheme for a in spec.auth]
    if not schemes or scheme in schemes:
        return []
    return [
        (
            f"{base}.authentication.type",
            f"{name} does not accept {scheme!r}{did_you_mean(scheme, schemes)}; expected one of {schemes}",
        )
    ]


def systems_problems(
    resolved: Mapping[str, Any], plugins: PluginManager, hidden: Set[tuple[Any, ...]] = frozenset()
) -> list[Problem]:
    """Every system checked against its connector, even when other parts of the configuration are invalid.

    A system whose own entry is invalid still gets its connector and auth scheme checked; a valid one
    also gets its connection settings, credentials, mock options and transport security checked.
    """
    systems = resolved.get("systems")
    if not isinstance(systems, Mapping):
        return []
    problems: list[Problem] = []
    installed = _usable(plugins)
    for system_id, raw in systems.items():
        if not isinstance(raw, Mapping) or not isinstance(system_id, str) or not _SYSTEM_ID.match(system_id):
            continue  # the models report a non-mapping entry or a bad id
        base = f"systems.{system_id}"
        system, dropped = _partial_system(raw)
        if system is None:
            problems.extend(_raw_system_problems(base, system_id, raw, plugins, installed))
            continue
        problems.extend(check_against_plugins(IntegrationConfig(systems={system_id: system}), plugins))
        cls = plugins.find_connector(system.connector or system_id)
        if cls is None or cls.spec.retired is not None:
            continue  # reported above
        spec = cls.spec
        # a check runs unless a key it reads was itself invalid (its error is already reported)
        if not dropped & {"connection"}:
            problems.extend(_connection_problems(base, system, spec, hidden))
        if not dropped & {"authentication"}:
            problems.extend(_credential_problems(base, system, spec))
        if not dropped & {"mock", "mock_seed", "mock_options"}:
            problems.extend(_mock_option_problems(base, system, spec))
        if not dropped & {"mock", "environment", "connection", "allow_insecure"}:
            problems.extend(insecure_transport_problems(system_id, system, spec))
    return problems


def _partial_system(raw: Mapping[str, Any]) -> tuple[SystemConfig | None, set[str]]:
    """The system validated without its invalid top-level keys (reported by the models), and those keys."""
    try:
        return SystemConfig.model_validate(raw), set()
    except ValidationError as exc:
        dropped = {str(err["loc"][0]) for err in exc.errors() if err["loc"]}
    try:
        return SystemConfig.model_validate({k: v for k, v in raw.items() if k not in dropped}), dropped
    except ValidationError:
        return None, dropped


def _raw_system_problems(
    base: str, system_id: str, raw: Mapping[str, Any], plugins: PluginManager, installed: list[str]
) -> list[Problem]:
    connector = raw.get("connector")
    name = connector if isinstance(connector, str) and connector else system_id
    cls = plugins.find_connector(name)
    key = f"{base}.connector" if connector else base
    if cls is None:
        return [(key, _unknown_connector(name, installed))]
    retired = _retired_problem(key, cls.spec, installed)
    if retired is not None:
        return [retired]
    auth = raw.get("authentication")
    scheme = auth.get("type") if isinstance(auth, Mapping) else None
    return _auth_type_problems(base, name, cls.spec, scheme) if isinstance(scheme, str) else []


def _connection_problems(
    base: str, system: SystemConfig, spec: ConnectorSpec, hidden: Set[tuple[Any, ...]]
) -> list[Problem]:
    model = spec.connection_settings
    try:
        model.model_validate(system.connection)
    except ValidationError as exc:
        prefix = (*base.split(".", 1), "connection")
        return validation_problems(exc, prefix, hidden, model)
    return []


def _credential_problems(base: str, system: SystemConfig, spec: ConnectorSpec) -> list[Problem]:
    scheme = spec.auth_scheme(system.authentication.type)
    if scheme is None or not scheme.credentials:
        return []
    given = system.authentication.credentials
    where = f"{base}.authentication.credentials"
    problems: list[Problem] = []
    names = [c.name for c in scheme.credentials]
    for field in scheme.credentials:
        if field.required and field.name not in given:
            hint = f", e.g. {field.name}: ${{{field.env_var}}}" if field.env_var else ""
            what = f" ({field.description})" if field.description else ""
            problems.append(
                (
                    f"{where}.{field.name}",
                    f"required credential of {scheme.scheme} is missing{what}; give it{hint}",
                )
            )
    for name in given:
        if name not in names:
            problems.append(
                (
                    f"{where}.{name}",
                    f"unknown credential for {scheme.scheme}{did_you_mean(name, names)}; expected {names}",
                )
            )
    return problems


def _mock_factory(spec: ConnectorSpec) -> Any:
    assert spec.mock is not None
    module_name, _, attr = spec.mock.app.partition(":")
    try:
        return getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError):
        return None


def _mock_option_problems(base: str, system: SystemConfig, spec: ConnectorSpec) -> list[Problem]:
    if not system.mock or not system.mock_options or spec.mock is None:
        return []
    factory = _mock_factory(spec)
    if factory is None:
        return [(f"{base}.mock", f"the mock server {spec.mock.app!r} of {spec.name} cannot be imported")]
    try:
        parameters = inspect.signature(factory).parameters
    except (TypeError, ValueError):
        return []
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        accepted = None
    else:
        accepted = {
            n for n, p in parameters.items() if p.kind in (p.KEYWORD_ONLY, p.POSITIONAL_OR_KEYWORD)
        } | _RUNTIME_MOCK_OPTIONS
    problems: list[Problem] = []
    options = dict(system.mock_options)
    if "seed" in options:
        del options["seed"]
        problems.append(
            (
                f"{base}.mock_options.seed",
                "the runtime passes the seed itself: set mock_seed on the system instead",
            )
        )
    for key in list(options):
        if accepted is not None and key not in accepted:
            del options[key]
            choices = sorted(accepted - {"seed"})
            problems.append(
                (
                    f"{base}.mock_options.{key}",
                    f"the {spec.name} mock takes no option {key!r}{did_you_mean(key, choices)}; "
                    f"options: {', '.join(choices)}",
                )
            )
    if accepted is None and options:
        # the factory passes **options on to its simulated venue: only building it tells what it accepts
        # (an app object in memory; nothing is served)
        factory_options = {k: v for k, v in options.items() if k not in _RUNTIME_MOCK_OPTIONS}
        try:
            factory(seed=system.mock_seed, **factory_options)
        except TypeError as exc:
            unexpected = re.search(r"unexpected keyword argument '(\w+)'", str(exc))
            where = f"{base}.mock_options" + (f".{unexpected.group(1)}" if unexpected else "")
            problems.append((where, f"the {spec.name} mock refuses it: {exc}"))
        except Exception as exc:
            problems.append((f"{base}.mock_options", f"the {spec.name} mock refuses these options: {exc}"))
    return problems


def section_problems(resolved: Mapping[str, Any], plugins: PluginManager | None) -> list[Problem]:
    """Problems between sections: import sources and data types, export formats, alert destinations."""
    problems: list[Problem] = []
    systems = resolved.get("systems")
    system_ids = [str(k) for k in systems] if isinstance(systems, Mapping) else []
    problems.extend(_import_problems(resolved.get("data_import"), system_ids, plugins))
    if plugins is not None:
        problems.extend(_export_problems(resolved.get("data_export"), plugins))
    problems.extend(_alert_problems(resolved.get("monitoring")))
    problems.extend(_alert_rule_problems(resolved.get("monitoring"), plugins))
    return problems


def _alert_rule_problems(section: Any, plugins: PluginManager | None) -> list[Problem]:
    """A ``monitoring.alerts`` key that is neither a setting nor a rule built in or contributed."""
    alerts = section.get("alerts") if isinstance(section, Mapping) else None
    if not isinstance(alerts, Mapping):
        return []
    from portico.monitor._config import (  # lazy: only a config with alerts
        AlertRulesConfig,
        unknown_rule_problems,
    )

    if all(name in AlertRulesConfig.model_fields for name in alerts):
        return []
    # without the runtime's plugins, the built-in services' rules (they are contributions too)
    contributing = plugins if plugins is not None else PluginManager(autoload=False)
    contributed = [
        name
        for rules in contributing.contributions("portico_alert_rules")
        if isinstance(rules, AlertRules)
        for name in rules.rule_names
    ]
    return unknown_rule_problems(alerts, contributed)


def _looks_like_path(source: str) -> bool:
    return any(ch in source for ch in "/\\*?[") or bool(re.search(r"\.[A-Za-z0-9]{1,5}(\.gz)?$", source))


def _import_problems(
    section: Any, system_ids: list[str], plugins: PluginManager | None = None
) -> list[Problem]:
    jobs = section.get("scheduled_imports") if isinstance(section, Mapping) else None
    if not isinstance(jobs, list):
        return []
    problems: list[Problem] = []
    types: Mapping[str, Any] | None = None  # without plugins: the process's directory of record types
    if plugins is not None and any(
        isinstance(j, Mapping) and isinstance(j.get("data_type"), str) for j in jobs
    ):
        from portico.jobs._plugin_records import record_types_for  # lazy: the jobs load only when used

        try:  # the record types plugins contribute are data types too
            types = record_types_for(plugins)
        except ConfigurationError as exc:
            problems.append((exc.path or "portico_record_types", str(exc)))
    for i, job in enumerate(jobs):
        if not isinstance(job, Mapping):
            continue
        base = f"data_import.scheduled_imports[{i}]"
        source, data_type = job.get("source"), job.get("data_type")
        from_system = isinstance(source, str) and source in system_ids
        if isinstance(source, str) and not from_system and not _looks_like_path(source):
            problems.append(
                (
                    f"{base}.source",
                    f"unknown source {source!r}{did_you_mean(source, system_ids)}: neither a configured system "
                    f"({', '.join(system_ids) or 'none'}) nor a file path or glob",
                )
            )
        if isinstance(data_type, str):
            from portico.jobs._records import RECORD_TYPES, record_type  # lazy: the jobs load only when used

            known = RECORD_TYPES if types is None else types
            try:
                rt = record_type(data_type, known)
            except ConfigurationError:
                names = sorted({*known, *(a for t in known.values() for a in t.aliases)})
                problems.append(
                    (
                        f"{base}.data_type",
                        f"unknown data type {data_type!r}{did_you_mean(data_type, names)}; expected one of {names}",
                    )
                )
                continue
            if from_system and rt.name != "prices":
                problems.append(
                    (
                        f"{base}.data_type",
                        f"imports from a system load prices (daily_prices), not {data_type!r}",
                    )
                )
    return problems


def _export_problems(section: Any, plugins: PluginManager) -> list[Problem]:
    jobs = section.get("scheduled_exports") if isinstance(section, Mapping) else None
    if not isinstance(jobs, list):
        return []
    from portico.jobs._registry import collect  # lazy: the formats load only when an export is configured

    formats, _, _ = collect(plugins)
    names = [*formats.names, "pdf"]
    problems: list[Problem] = []
    for i, job in enumerate(jobs):
        fmt = job.get("format") if isinstance(job, Mapping) else None
        if not isinstance(fmt, str) or fmt == "pdf":
            continue
        try:
            formats.get(fmt)
        except ConfigurationError:
            problems.append(
                (
                    f"data_export.scheduled_exports[{i}].format",
                    f"unknown format {fmt!r}{did_you_mean(fmt, names)}; formats: {', '.join(sorted(names))}",
                )
            )
    return problems


def _alert_problems(section: Any) -> list[Problem]:
    if not isinstance(section, Mapping):
        return []
    destinations = section.get("alert_destinations")
    channels = section.get("channels") or {}
    if not isinstance(destinations, list) or not isinstance(channels, Mapping):
        return []
    types = {c.get("type") for c in channels.values() if isinstance(c, Mapping)}
    problems: list[Problem] = []
    for i, name in enumerate(destinations):
        if not isinstance(name, str) or name in channels or name in types:
            continue
        configured = ", ".join(sorted(channels)) or "none are configured"
        problems.append(
            (
                f"monitoring.alert_destinations[{i}]",
                f"{name!r} names no configured alert channel{did_you_mean(name, channels)}; channels: {configured} "
                "(define it under monitoring.channels, or remove it and set alert_on_failure: false to turn alerts off)",
            )
        )
    return problems
