"""Reading a configuration file: bounded in size, aliases and expansion, with the line of every key.

A YAML alias (``*name``) is a reference, so a few kilobytes of anchors can stand for billions of values
(the "billion laughs" bomb). Every walk over the document (line numbers, ``${...}`` references, the
models' validation) would expand them, so the document is measured on its composed node graph first,
where an alias costs nothing, and refused past fixed bounds before anything walks it.
"""

from __future__ import annotations

import json
import tomllib
from pathlib import Path
from typing import Any

import yaml

from portico.errors import ConfigurationError

__all__ = ["MAX_ALIASES", "MAX_CONFIG_BYTES", "MAX_EXPANDED_NODES", "Lines", "read_config_file"]

Lines = dict[tuple[Any, ...], int]

MAX_CONFIG_BYTES = 4 * 1024 * 1024
"""The largest configuration file read (4 MiB): a real one is a few kilobytes."""
MAX_ALIASES = 100
"""The most ``*name`` references one YAML configuration may use."""
MAX_EXPANDED_NODES = 100_000
"""The most values a YAML configuration may stand for once its aliases are expanded."""


def _fail(path: Path, message: str, line: int | None = None) -> ConfigurationError:
    where = f"{path}:{line}:" if line else f"{path}:"
    return ConfigurationError(f"{where} {message}", file=str(path), problems=[("", f"{where} {message}")])


def _read_text(path: Path) -> str:
    try:
        size = path.stat().st_size
        if size > MAX_CONFIG_BYTES:
            raise _fail(path, f"configuration file is {size} bytes; the limit is 4 MiB ({MAX_CONFIG_BYTES} bytes)")
        with path.open("rb") as handle:
            # read one byte past the cap: a file that grew since stat() is refused, not read unbounded
            data = handle.read(MAX_CONFIG_BYTES + 1)
    except FileNotFoundError:
        raise ConfigurationError(f"{path}: no such configuration file", file=str(path)) from None
    except IsADirectoryError:
        raise ConfigurationError(f"{path}: is a directory, not a configuration file", file=str(path)) from None
    except OSError as exc:
        raise ConfigurationError(f"{path}: cannot be read: {exc.strerror}", file=str(path)) from None
    if len(data) > MAX_CONFIG_BYTES:
        raise _fail(path, f"configuration file is over 4 MiB ({MAX_CONFIG_BYTES} bytes), the limit")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigurationError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})", file=str(path)) from None


def _measure(path: Path, root: yaml.Node) -> None:
    """Refuse a node graph with too many aliases or too large an expansion, without expanding it."""
    aliases = 0
    seen: set[int] = set()
    stack: list[yaml.Node] = [root]
    while stack:
        node = stack.pop()
        if id(node) in seen:
            # composed nodes are shared where the text used an alias: each reuse is one alias
            aliases += 1
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                stack.extend((key, value))
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    if aliases > MAX_ALIASES:
        raise _fail(path, f"too many YAML aliases: more than {MAX_ALIASES} (*name references); write the values out")
    # expanded size, memoised per node (a DAG now, so the count is linear in the graph)
    sizes: dict[int, int] = {}
    order: list[tuple[yaml.Node, bool]] = [(root, False)]
    on_path: set[int] = set()
    while order:
        node, done = order.pop()
        key = id(node)
        children: list[yaml.Node] = []
        if isinstance(node, yaml.MappingNode):
            children = [n for pair in node.value for n in pair]
        elif isinstance(node, yaml.SequenceNode):
            children = list(node.value)
        if done:
            on_path.discard(key)
            sizes[key] = 1 + sum(sizes[id(c)] for c in children)
            if sizes[key] > MAX_EXPANDED_NODES:
                raise _fail(
                    path, f"YAML aliases expand this configuration past {MAX_EXPANDED_NODES} values; write the values out"
                )
            continue
        if key in sizes:
            continue
        if key in on_path:
            raise _fail(path, "a YAML alias refers to the node that contains it (a recursive structure)", node.start_mark.line + 1)
        on_path.add(key)
        order.append((node, True))
        order.extend((c, False) for c in children if id(c) not in sizes)


def _lines(root: yaml.Node | None) -> Lines:
    """The line of every key and list item; an alias's contents are not walked again."""
    lines: Lines = {}
    if root is None:
        return lines
    seen: set[int] = set()
    stack: list[tuple[yaml.Node, tuple[Any, ...]]] = [(root, ())]
    while stack:
        node, path = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, yaml.MappingNode):
            for key_node, value_node in node.value:
                key = key_node.value
                lines[(*path, key)] = key_node.start_mark.line + 1
                stack.append((value_node, (*path, key)))
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                lines[(*path, i)] = item.start_mark.line + 1
                stack.append((item, (*path, i)))
    return lines


def _read_yaml(path: Path, text: str) -> tuple[Any, Lines]:
    loader = yaml.SafeLoader(text)
    try:
        root = loader.get_single_node()
        if root is None:
            return None, {}
        _measure(path, root)
        return loader.construct_document(root), _lines(root)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(exc, "problem", None) or str(exc)
        raise ConfigurationError(f"{path}:{where}: invalid YAML: {problem}", file=str(path)) from None
    finally:
        loader.dispose()


def read_config_file(path: Path) -> tuple[Any, Lines]:
    """The parsed document of a ``.yaml``/``.yml``/``.toml``/``.json`` file and its key lines (YAML only).

    Raises:
        ConfigurationError: unreadable, too large, not UTF-8, a syntax error, or a YAML alias bomb.
    """
    suffix = path.suffix.lower()
    if suffix not in {".yaml", ".yml", ".json", ".toml"}:
        raise ConfigurationError(
            f"{path}: unknown configuration format {suffix or '(no extension)'!r}; use .yaml, .yml, .toml or .json",
            file=str(path),
        )
    text = _read_text(path)
    try:
        return _parse(path, suffix, text)
    except RecursionError:
        # "[[[[..." a few thousand deep: the parsers recurse, and a traceback is no answer to a user
        raise _fail(path, "nested too deeply to be a configuration (more than Python's recursion limit)") from None


def _parse(path: Path, suffix: str, text: str) -> tuple[Any, Lines]:
    if suffix in {".yaml", ".yml"}:
        return _read_yaml(path, text)
    if suffix == ".json":
        if not text.strip():
            return None, {}
        try:
            return json.loads(text), {}
        except json.JSONDecodeError as exc:
            raise ConfigurationError(
                f"{path}: line {exc.lineno}, column {exc.colno}: invalid JSON: {exc.msg}", file=str(path)
            ) from None
    try:
        return tomllib.loads(text) or None, {}
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"{path}: invalid TOML: {exc}", file=str(path)) from None
