"""Loading configuration from YAML, TOML, JSON or a dict, with ``${...}`` references resolved.

Every problem is reported with the file, the key path and (for YAML and JSON files) the line, and all
problems are collected before raising, so ``portico config validate`` can print them together.
"""

from __future__ import annotations

import importlib
import json
import os
import re
from collections.abc import Callable, Mapping, Set
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, ValidationError

from portico.config._models import IntegrationConfig
from portico.errors import ConfigurationError

if TYPE_CHECKING:
    from portico.plugins import PluginManager

__all__ = ["SECTION_MODELS", "check_against_plugins", "load_config", "resolve_references"]

Resolver = Callable[[str], str | None]
Problem = tuple[str, str]

SECTION_MODELS: dict[str, str] = {
    "data_import": "portico.jobs:DataImportConfig",
    "data_export": "portico.jobs:DataExportConfig",
    "monitoring": "portico.monitor:MonitoringConfig",
    "market_data": "portico.marketdata:MarketDataConfig",
    "trading": "portico.trading:TradingConfig",
}
"""The model that validates each service-owned section, as ``module:Class``; skipped when not importable."""

_REFERENCE = re.compile(r"\$\{([^}]*)\}")
_WRAPPER = "external_integration_config"


def _join(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def resolve_references(
    data: Any, *, env: Mapping[str, str] | None = None, resolvers: Mapping[str, Resolver] | None = None
) -> tuple[Any, list[Problem]]:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``${scheme:ref}`` (``${vault:alpaca/api_key}``) in strings.

    ``$${`` stands for a literal ``${``. A missing variable is a problem naming the variable and the key
    path; it never becomes an empty string.

    Returns:
        The resolved copy of ``data`` and the list of ``(key path, message)`` problems.
    """
    environ = os.environ if env is None else env
    schemes = dict(resolvers or {})
    problems: list[Problem] = []

    def resolve_one(expr: str, path: tuple[Any, ...]) -> str:
        name, sep, default = expr.partition(":-")
        if not sep and ":" in expr:
            scheme, _, ref = expr.partition(":")
            if scheme == "env":
                name = ref
            else:
                resolver = schemes.get(scheme)
                if resolver is None:
                    problems.append((_join(path), f"unknown reference scheme {scheme!r} in ${{{expr}}}"))
                    return ""
                try:
                    value = resolver(ref)
                except Exception as exc:
                    problems.append((_join(path), f"${{{scheme}:{ref}}} could not be resolved: {exc}"))
                    return ""
                if value is None:
                    problems.append((_join(path), f"${{{scheme}:{ref}}} is not set"))
                    return ""
                return value
        name = name.strip()
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            problems.append((_join(path), f"${{{expr}}} is not a valid reference (expected ${{NAME}} or ${{NAME:-default}})"))
            return ""
        if name in environ:
            return environ[name]
        if sep:
            return default
        problems.append((_join(path), f"environment variable {name} is not set (referenced as ${{{expr}}})"))
        return ""

    def walk(node: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(node, str):
            if "${" not in node:
                return node
            marker = "\x00literal\x00"
            text = node.replace("$${", marker)
            text = _REFERENCE.sub(lambda m: resolve_one(m.group(1), path), text)
            return text.replace(marker, "${")
        if isinstance(node, Mapping):
            return {key: walk(value, (*path, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value, (*path, i)) for i, value in enumerate(node)]
        return node

    return walk(data, ()), problems


def _yaml_lines(text: str) -> dict[tuple[Any, ...], int]:
    import yaml

    lines: dict[tuple[Any, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError:
        return lines

    def walk(node: Any, path: tuple[Any, ...]) -> None:
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                lines[(*path, key)] = key_node.start_mark.line + 1
                walk(value_node, (*path, key))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return lines


def _read(path: Path) -> tuple[Any, dict[tuple[Any, ...], int]]:
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such configuration file", file=str(path)) from None
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot be read: {exc.strerror}", file=str(path)) from None
    suffix = path.suffix.lower()
    if suffix in {".yaml", ".yml"}:
        import yaml

        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
            problem = getattr(exc, "problem", None) or str(exc)
            raise ConfigurationError(f"{path}:{where}: invalid YAML: {problem}", file=str(path)) from None
        return data, _yaml_lines(text)
    if suffix == ".json":
        try:
            return json.loads(text), {}
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}", file=str(path)
            ) from None
    if suffix == ".toml":
        import tomllib

        try:
            return tomllib.loads(text), {}
        except tomllib.TOMLDecodeError as exc:
            raise ConfigurationError(f"{path}: invalid TOML: {exc}", file=str(path)) from None
    raise ConfigurationError(
        f"{path}: unknown configuration format {suffix or '(no extension)'!r}; use .yaml, .yml, .toml or .json",
        file=str(path),
    )


def _describe(error: Mapping[str, Any], *, hide_value: bool = False) -> str:
    kind = error.get("type", "")
    value = error.get("input")
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "missing":
        return "required key is missing"
    shown = "" if isinstance(value, Mapping | list) else f" (got {value!r})"
    if hide_value or "secret" in str(error.get("loc", "")).lower() or "credentials" in str(error.get("loc", ())):
        shown = ""
    return f"{error.get('msg', 'invalid value')}{shown}"


def _referenced_paths(data: Any, path: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    """Key paths whose value holds a ``${...}`` reference: what they resolved to may be a secret."""
    if isinstance(data, str):
        return {path} if "${" in data.replace("$${", "") else set()
    if isinstance(data, Mapping):
        return set().union(*(_referenced_paths(v, (*path, k)) for k, v in data.items()))
    if isinstance(data, list):
        return set().union(*(_referenced_paths(v, (*path, i)) for i, v in enumerate(data)))
    return set()


def _validation_problems(
    exc: ValidationError, prefix: tuple[Any, ...], hidden: Set[tuple[Any, ...]] = frozenset()
) -> list[Problem]:
    # a value that came from a reference is never echoed (``authentication: ${API_KEY}`` by mistake)
    return [
        (_join((*prefix, *err["loc"])), _describe(err, hide_value=(*prefix, *err["loc"]) in hidden))
        for err in exc.errors()
    ]


def _section_model(section: str) -> type[BaseModel] | None:
    target = SECTION_MODELS.get(section)
    if target is None:
        return None
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError:
        return None
    model = getattr(module, attr, None)
    return model if isinstance(model, type) and issubclass(model, BaseModel) else None


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    resolvers: Mapping[str, Resolver] | None = None,
    plugins: PluginManager | None = None,
) -> IntegrationConfig:
    """Load and validate a configuration.

    Args:
        source: a path to a ``.yaml``/``.yml``/``.toml``/``.json`` file, or the configuration as a dict
            (optionally wrapped in ``external_integration_config``, as in the original plan).
        env: the environment for ``${VAR}`` (default ``os.environ``).
        resolvers: extra reference schemes, ``{"vault": resolve}`` for ``${vault:name}``.
        plugins: when given, also check every system against the installed connectors.

    Raises:
        ConfigurationError: with ``problems`` listing every ``(key path, message)`` found.
    """
    file: str | None = None
    lines: dict[tuple[Any, ...], int] = {}
    if isinstance(source, Mapping):
        raw: Any = dict(source)
    else:
        path = Path(source)
        file = str(path)
        raw, lines = _read(path)
    prefix: tuple[Any, ...] = ()
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        raise ConfigurationError(
            f"{file or 'configuration'}: expected a mapping at the top level, got {type(raw).__name__}", file=file
        )
    if _WRAPPER in raw and len(raw) == 1:
        raw = raw[_WRAPPER]
        prefix = (_WRAPPER,)
        if not isinstance(raw, Mapping):
            raise ConfigurationError(f"{file or 'configuration'}: {_WRAPPER} must be a mapping", file=file)

    if resolvers is None:
        resolvers = _default_resolvers()
    resolved, problems = resolve_references(raw, env=env, resolvers=resolvers)
    hidden = _referenced_paths(raw, prefix)
    problems = [(_join((*prefix, p)) if p else _join(prefix), m) for p, m in problems] if prefix else problems

    config: IntegrationConfig | None = None
    try:
        config = IntegrationConfig.model_validate({**resolved, "source": file})
    except ValidationError as exc:
        problems.extend(_validation_problems(exc, prefix, hidden))

    if isinstance(resolved, Mapping):
        for section in SECTION_MODELS:
            value = resolved.get(section)
            model = _section_model(section)
            if value is None or model is None:
                continue
            try:
                model.model_validate(value)
            except ValidationError as exc:
                problems.extend(_validation_problems(exc, (*prefix, section), hidden))

    if config is not None and plugins is not None:
        problems.extend((_join((*prefix, p)) if prefix else p, m) for p, m in check_against_plugins(config, plugins))

    if problems:
        raise _problems_error(problems, file, lines, prefix)
    assert config is not None
    return config


def _problems_error(
    problems: list[Problem], file: str | None, lines: dict[tuple[Any, ...], int], prefix: tuple[Any, ...]
) -> ConfigurationError:
    def line_of(path: str) -> int | None:
        parts: list[Any] = []
        for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
            parts.append(int(token[1:-1]) if token.startswith("[") else token)
        while parts:
            line = lines.get(tuple(parts))
            if line is not None:
                return line
            parts.pop()
        return None

    located: list[tuple[str, str]] = []
    for path, message in problems:
        line = line_of(path)
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        located.append((path, f"{where}{path}: {message}"))
    first = located[0][1]
    more = f" (and {len(located) - 1} more problem{'s' if len(located) > 2 else ''})" if len(located) > 1 else ""
    return ConfigurationError(
        f"invalid configuration: {first}{more}",
        path=located[0][0],
        file=file,
        problems=[(path, text) for path, text in located],
    )


def _default_resolvers() -> dict[str, Resolver]:
    try:
        from portico.auth import resolve_vault_reference
    except ImportError:
        return {}
    return {"vault": resolve_vault_reference}


def check_against_plugins(config: IntegrationConfig, plugins: PluginManager) -> list[Problem]:
    """Problems between the configuration and the installed connectors.

    Checks that each system's connector is installed (listing the installed ones when not), that its
    ``type`` is one of the connector's kinds, that the environment, auth scheme and feature names exist.
    """
    problems: list[Problem] = []
    installed = sorted(plugins.connectors)
    for system_id, system in config.systems.items():
        base = f"systems.{system_id}"
        name = system.connector or system_id
        cls = plugins.connectors.get(name)
        if cls is None:
            key = f"{base}.connector" if system.connector else base
            problems.append(
                (key, f"unknown connector {name!r}; installed connectors: {', '.join(installed) or 'none'}")
            )
            continue
        spec = cls.spec
        if system.type not in spec.kinds:
            kinds = ", ".join(k.value for k in spec.kinds)
            problems.append((f"{base}.type", f"{system.type.value!r} does not match connector {name!r} (kind: {kinds})"))
        if system.environment is not None:
            names = [e.name for e in spec.environments]
            if system.environment not in names:
                problems.append((f"{base}.environment", f"unknown environment {system.environment!r}; expected one of {names}"))
        if system.authentication.type is not None and spec.auth:
            schemes = [a.scheme for a in spec.auth]
            if system.authentication.type not in schemes:
                problems.append(
                    (f"{base}.authentication.type", f"{name} does not accept {system.authentication.type!r}; expected one of {schemes}")
                )
        if system.features and spec.feature_flags:
            for flag in system.features:
                if flag not in spec.feature_flags:
                    problems.append(
                        (f"{base}.features.{flag}", f"unknown feature for {name}; expected one of {sorted(spec.feature_flags)}")
                    )
        if system.mock and spec.mock is None:
            problems.append((f"{base}.mock", f"connector {name!r} ships no mock server"))
    return problems
