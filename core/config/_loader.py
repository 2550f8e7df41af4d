"""Loading configuration from YAML, TOML, JSON or a dict, with ``${...}`` references resolved.

Every problem is reported with the file, the key path and (for YAML and JSON files) the line, and all
problems are collected before raising, so ``portico config validate`` can print them together.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from portico.config._checks import check_against_plugins, section_problems, systems_problems
from portico.config._models import IntegrationConfig
from portico.config._problems import Problem, join_path, validation_problems
from portico.config._reading import Lines, read_config_file
from portico.config._sections import SECTION_MODELS, section_model
from portico.errors import ConfigurationError

if TYPE_CHECKING:
    from portico.plugins import PluginManager

__all__ = ["SECTION_MODELS", "check_against_plugins", "load_config", "resolve_references"]

Resolver = Callable[[str], str | None]

_WRAPPER = "external_integration_config"


def _split_reference(text: str, start: int) -> int | None:
    """The index just past the ``}`` closing the reference opened at ``text[start:start + 2] == "${"``."""
    depth = 0
    i = start
    while i < len(text):
        if text.startswith("${", i):
            depth += 1
            i += 2
            continue
        if text[i] == "}":
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return None


def resolve_references(
    data: Any, *, env: Mapping[str, str] | None = None, resolvers: Mapping[str, Resolver] | None = None
) -> tuple[Any, list[Problem]]:
    """Replace ``${VAR}``, ``${VAR:-default}`` and ``${scheme:ref}`` (``${vault:alpaca/api_key}``) in strings.

    A default may itself hold references (``${A:-${B:-x}}`` is A, else B, else ``x``). ``$${`` stands
    for a literal ``${``. A missing variable is a problem naming the variable and the key path; it never
    becomes an empty string, and an unclosed ``${`` is a problem, never left as text.

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
                    problems.append((join_path(path), f"unknown reference scheme {scheme!r} in ${{{expr}}}"))
                    return ""
                try:
                    value = resolver(ref)
                except Exception as exc:
                    problems.append((join_path(path), f"${{{scheme}:{ref}}} could not be resolved: {exc}"))
                    return ""
                if value is None:
                    problems.append((join_path(path), f"${{{scheme}:{ref}}} is not set"))
                    return ""
                return value
        name = name.strip()
        if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
            problems.append((join_path(path), f"${{{expr}}} is not a valid reference (expected ${{NAME}} or ${{NAME:-default}})"))
            return ""
        if name in environ:
            return environ[name]
        if sep:
            # the default is resolved only when used: an unset variable in an unused default is no problem
            return substitute(default, path)
        problems.append((join_path(path), f"environment variable {name} is not set (referenced as ${{{expr}}})"))
        return ""

    def substitute(text: str, path: tuple[Any, ...]) -> str:
        out: list[str] = []
        i = 0
        while i < len(text):
            if text.startswith("$${", i):
                out.append("${")
                i += 3
                continue
            if text.startswith("${", i):
                end = _split_reference(text, i)
                if end is None:
                    problems.append((join_path(path), f"unclosed reference {text[i:]!r} (a '}}' is missing)"))
                    return "".join(out)
                out.append(resolve_one(text[i + 2 : end - 1], path))
                i = end
                continue
            out.append(text[i])
            i += 1
        return "".join(out)

    def walk(node: Any, path: tuple[Any, ...]) -> Any:
        if isinstance(node, str):
            return substitute(node, path) if "${" in node else node
        if isinstance(node, Mapping):
            return {key: walk(value, (*path, key)) for key, value in node.items()}
        if isinstance(node, list):
            return [walk(value, (*path, i)) for i, value in enumerate(node)]
        return node

    return walk(data, ()), problems


def _referenced_paths(data: Any, path: tuple[Any, ...] = ()) -> set[tuple[Any, ...]]:
    """Key paths whose value holds a ``${...}`` reference: what they resolved to may be a secret."""
    if isinstance(data, str):
        return {path} if "${" in data.replace("$${", "") else set()
    if isinstance(data, Mapping):
        return set().union(*(_referenced_paths(v, (*path, k)) for k, v in data.items()))
    if isinstance(data, list):
        return set().union(*(_referenced_paths(v, (*path, i)) for i, v in enumerate(data)))
    return set()


def load_config(
    source: str | os.PathLike[str] | Mapping[str, Any],
    *,
    env: Mapping[str, str] | None = None,
    resolvers: Mapping[str, Resolver] | None = None,
    plugins: PluginManager | None = None,
) -> IntegrationConfig:
    """Load and validate a configuration, reporting every problem in one pass.

    Args:
        source: a path to a ``.yaml``/``.yml``/``.toml``/``.json`` file, or the configuration as a dict
            (optionally wrapped in ``external_integration_config``, as in the original plan).
        env: the environment for ``${VAR}`` (default ``os.environ``).
        resolvers: extra reference schemes, ``{"vault": resolve}`` for ``${vault:name}``.
        plugins: when given, also check every system against the installed connectors (connector, auth
            scheme and credentials, connection settings, mock options, TLS) and the sections against the
            installed formats.

    Raises:
        ConfigurationError: with ``problems`` listing every ``(key path, message)`` found, sorted by line.
    """
    file: str | None = None
    lines: Lines = {}
    if isinstance(source, Mapping):
        raw: Any = dict(source)
    else:
        path = Path(source)
        file = str(path)
        raw, lines = read_config_file(path)
        if raw is None:
            raise _problems_error([("", "the file is empty; a configuration needs at least a 'systems' section")], file, lines)
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
    environ = os.environ if env is None else env
    resolved, problems = resolve_references(raw, env=environ, resolvers=resolvers)
    hidden = _referenced_paths(raw, prefix)
    problems = [(join_path((*prefix, p)) if p else join_path(prefix), m) for p, m in problems] if prefix else problems

    config: IntegrationConfig | None = None
    try:
        config = IntegrationConfig.model_validate({**resolved, "source": file})
    except ValidationError as exc:
        problems.extend(validation_problems(exc, prefix, hidden, IntegrationConfig))

    if isinstance(resolved, Mapping):
        for section in SECTION_MODELS:
            value = resolved.get(section)
            model = section_model(section)
            if value is None or model is None:
                continue
            try:
                model.model_validate(value)
            except ValidationError as exc:
                problems.extend(validation_problems(exc, (*prefix, section), hidden, model))
        problems.extend((join_path((*prefix, p)), m) for p, m in section_problems(resolved, plugins))
        if plugins is not None:
            unprefixed = {p[len(prefix) :] for p in hidden}
            problems.extend((join_path((*prefix, p)), m) for p, m in systems_problems(resolved, plugins, unprefixed))

    if problems:
        raise _problems_error(problems, file, lines)
    assert config is not None
    return config


def _line_of(path: str, lines: Lines) -> int | None:
    parts: list[Any] = []
    for token in re.findall(r"[^.\[\]]+|\[\d+\]", path):
        parts.append(int(token[1:-1]) if token.startswith("[") else token)
    while parts:
        line = lines.get(tuple(parts))
        if line is not None:
            return line
        parts.pop()
    return None


def _problems_error(problems: list[Problem], file: str | None, lines: Lines) -> ConfigurationError:
    located: list[tuple[int, str, str]] = []
    for path, message in dict.fromkeys(problems):  # one line per problem, in the order found
        line = _line_of(path, lines) if path else None
        where = f"{file}:{line}: " if file and line else (f"{file}: " if file else "")
        located.append((line or 0, path, f"{where}{path}: {message}" if path else f"{where}{message}"))
    # sorted by line, as an editor shows the file; problems with no line (the whole file) first
    located.sort(key=lambda item: item[0])
    first = located[0][2]
    more = f" (and {len(located) - 1} more problem{'s' if len(located) > 2 else ''})" if len(located) > 1 else ""
    return ConfigurationError(
        f"invalid configuration: {first}{more}",
        path=located[0][1],
        file=file,
        problems=[(path, text) for _, path, text in located],
    )


def _default_resolvers() -> dict[str, Resolver]:
    try:
        from portico.auth import resolve_vault_reference  # lazy: cold start
    except ImportError:
        return {}
    return {"vault": resolve_vault_reference}


